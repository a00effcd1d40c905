"""openapi.json is what Powertools generates from the routes today (`make openapi` rewrites it)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def writer():
    spec = importlib.util.spec_from_file_location("write_openapi", ROOT / "scripts" / "write_openapi.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_openapi_json_is_not_stale() -> None:
    committed = (ROOT / "openapi.json").read_text(encoding="utf-8")
    assert committed == writer().render(), "openapi.json is stale: run `make openapi`"


def test_the_document_describes_every_route_and_the_error_contract() -> None:
    doc = json.loads(writer().render())
    assert set(doc["paths"]) == {"/chat", "/chat/guest", "/feedback", "/health", "/status"}
    chat, guest = doc["paths"]["/chat"]["post"], doc["paths"]["/chat/guest"]["post"]
    assert set(chat["responses"]) == {"200", "400", "404", "405", "413", "415", "422", "429"}
    # The guest route is the same operation for a customer without identity: same request, same answers.
    assert guest["requestBody"] == chat["requestBody"]
    assert guest["responses"] == chat["responses"]
    assert guest["operationId"] != chat["operationId"]
    schemas = doc["components"]["schemas"]
    assert schemas["ChatRequest"]["properties"]["message"]["maxLength"] == 2000
    assert "customer_id" not in schemas["ChatRequest"]["properties"]
    assert set(schemas["ErrorDetail"]["required"]) == {"code", "message"}
    assert {"200", "503"} <= set(doc["paths"]["/health"]["get"]["responses"])
    # Every error the API documents has our {"error": {"code", "message"}} shape, not Powertools' default.
    assert "HTTPValidationError" not in json.dumps(doc["paths"])
