"""The chat Lambda's HTTP contract, through the real handler: every events/ file and hostile input.

Hostile requests must end in a 4xx with ``{"error": {"code", "message"}}`` before anything is built:
the handler's runtime (breaker, clients, FAQ store) stays untouched. Valid ones run against
in-memory fakes swapped in for the runtime.
"""

from __future__ import annotations

import base64
import copy
import importlib.util
import json
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mangaassist.chat.api_models import ChatResponse, HealthResponse, StatusResponse
from mangaassist.chat.resolver import CHAT_PATHS, GUEST_CHAT_PATH
from mangaassist.health import Banners
from tests.fakes import FakeLambdaContext
from tests.unit.chat_fakes import ORDER_IDS, FakeBanner, FakeRuntime

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
LEAKS = ("Traceback", 'File "', ".py", "state-table", "10.0.0.1", "refused", "botocore", "pydantic")


def load_handler():
    spec = importlib.util.spec_from_file_location("chat_handler_under_test", ROOT / "functions" / "chat" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def handler(monkeypatch):
    module = load_handler()
    monkeypatch.delenv("STATE_TABLE", raising=False)  # hostile input must not need any of it
    return module


@pytest.fixture
def fake(handler, monkeypatch) -> FakeRuntime:
    runtime = FakeRuntime()
    monkeypatch.setattr(handler, "runtime", runtime)
    return runtime


def event(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def invoke(handler, evt: dict) -> tuple[int, dict, dict]:
    response = handler.lambda_handler(evt, FakeLambdaContext())
    headers = {k.lower(): v for k, v in (response.get("multiValueHeaders") or {}).items()}
    headers.update({k.lower(): v for k, v in (response.get("headers") or {}).items()})
    return response["statusCode"], json.loads(response["body"]), headers


@pytest.fixture(params=CHAT_PATHS)
def chat_path(request) -> str:
    """Both chat routes: signed-in customers' POST /chat and guests' POST /chat/guest keep the same contract."""
    return request.param


def on_path(evt: dict, path: str) -> dict:
    """The same request sent to another route, as API Gateway would deliver it there."""
    evt = copy.deepcopy(evt)
    evt["path"] = evt["resource"] = evt["requestContext"]["resourcePath"] = path
    evt["requestContext"]["path"] = f"/{evt['requestContext']['stage']}{path}"
    return evt


def chat_event(body: str | None, content_type: str | None = "application/json", **changes) -> dict:
    evt = copy.deepcopy(event("chat_faq"))
    evt["body"] = body
    headers = {k: v for k, v in evt["headers"].items() if k.lower() != "content-type"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    evt["headers"] = headers
    evt["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    evt.update(changes)
    return evt


# ---------------------------------------------------------------- events/ files


def test_every_event_file_is_a_rest_proxy_event_for_a_chat_route() -> None:
    names = [
        *sorted(p.stem for p in EVENTS.glob("*.json") if p.stem.startswith("chat_")),
        "health",
        "status",
        "feedback",
    ]
    for name in names:
        evt = event(name)
        assert evt["httpMethod"] in ("GET", "POST"), name
        assert evt["requestContext"]["httpMethod"] == evt["httpMethod"], name
        assert evt["requestContext"]["resourcePath"] == evt["resource"] == evt["path"], name
        assert evt["isBase64Encoded"] is False, name
        assert {"headers", "multiValueHeaders", "requestContext", "body"} <= set(evt), name


EXPECTED = {
    "chat_order_tracking": ("order_tracking", "ja", True),
    "chat_order_tracking_guest": ("order_tracking", "en", False),
    "chat_recommendation": ("recommendation", "en", True),
    "chat_product_info": ("product_info", "ja", True),
    "chat_faq": ("faq", "ja", False),
    "chat_returns": ("returns", "en", True),
    "chat_escalation": ("escalation", "ja", True),
    "chat_greeting": ("greeting", "en", True),
    "chat_open_ended": ("open_ended", "en", False),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chat_events_answer_200_in_the_customers_language(handler, fake: FakeRuntime, name: str) -> None:
    intent, lang, signed_in = EXPECTED[name]
    evt = event(name)
    status, body, headers = invoke(handler, evt)
    assert status == 200
    ChatResponse.model_validate(body)
    assert body["intent"] == intent
    assert body["language"] == lang
    assert body["request_id"] == evt["requestContext"]["requestId"]
    assert body["degraded"] is False
    assert headers["content-type"] in ("application/json", ["application/json"])
    (request,) = fake.requests
    claims = (evt["requestContext"].get("authorizer") or {}).get("claims") or {}
    assert request.customer_id == claims.get("sub")
    assert (request.customer_id is not None) is signed_in


def test_a_customer_id_in_the_body_is_refused_before_the_chat_sees_it(handler, fake: FakeRuntime) -> None:
    evt = event("chat_spoofed_customer_id")
    assert evt["path"] == GUEST_CHAT_PATH
    assert "customer_id" in json.loads(evt["body"])
    assert evt["headers"]["Authorization"].startswith("Bearer ")
    status, body, _ = invoke(handler, evt)
    assert status == 422
    assert body["error"]["code"] == "invalid_request"
    assert "'customer_id' is not a field of this request" in body["error"]["message"]
    assert "cust-0001" not in json.dumps(body)  # names the field, never echoes the value
    assert fake.requests == []
    assert fake.downstream.attempts["order_service"] == 0


@pytest.mark.parametrize("extra", [{"padding": "x" * 5000}, {"session_id": "s-1", "lang": "en"}, {"sub": None}])
def test_any_unknown_property_is_refused_with_422_naming_it(handler, fake: FakeRuntime, extra: dict) -> None:
    evt = chat_event(json.dumps({"message": "送料はいくらですか", **extra}))
    status, body, _ = invoke(handler, evt)
    unknown = sorted(set(extra) - {"session_id"})
    assert status == 422
    assert body["error"]["message"] == "; ".join(f"'{name}' is not a field of this request" for name in unknown)
    assert fake.requests == []


FORGED_HEADERS = {  # a different customer than the signed-in event's, so a header that leaked through would show
    "Authorization": "Bearer cust-9999",
    "X-Customer-Id": "cust-9999",
    "X-Amzn-Oidc-Identity": "cust-9999",
    "X-Amzn-Oidc-Data": "eyJzdWIiOiJjdXN0LTk5OTkifQ",
    "claims.sub": "cust-9999",
    "sub": "cust-9999",
}


@pytest.mark.parametrize("keep_context_claims", [False, True], ids=["as_the_gateway_sends_it", "claims_in_context"])
def test_the_guest_route_never_has_an_identity_whatever_the_request_claims(
    handler, fake: FakeRuntime, keep_context_claims: bool
) -> None:
    signed_in = event("chat_order_tracking")  # a signed-in customer's order question, with Cognito claims
    sub = signed_in["requestContext"]["authorizer"]["claims"]["sub"]
    evt = on_path(signed_in, GUEST_CHAT_PATH)
    if not keep_context_claims:
        del evt["requestContext"]["authorizer"]  # an Auth: NONE route has no authorizer context at all
    forged = {**FORGED_HEADERS, "X-Customer-Id": sub}
    evt["headers"].update(forged)
    evt["multiValueHeaders"].update({k: [v] for k, v in forged.items()})
    # Claims in the body never get this far: the request model refuses unknown properties (test above).

    status, body, _ = invoke(handler, evt)

    assert status == 200
    assert body["intent"] == "order_tracking"
    assert fake.requests[0].customer_id is None
    assert "orders" not in body
    assert fake.downstream.attempts["order_service"] == 0
    assert any(a.get("url", "").endswith("/ap/signin") for a in body["actions"]), "a guest is asked to sign in"
    assert not any(order_id in json.dumps(body) for order_id in ORDER_IDS)


def test_the_same_request_on_the_signed_in_route_reads_the_cognito_claim(handler, fake: FakeRuntime) -> None:
    evt = event("chat_order_tracking")
    evt["headers"].update(FORGED_HEADERS)
    status, body, _ = invoke(handler, evt)
    assert status == 200
    assert fake.requests[0].customer_id == evt["requestContext"]["authorizer"]["claims"]["sub"] == "cust-0001"
    assert [o["order_id"] for o in body["orders"]] == list(ORDER_IDS)


def test_guest_and_signed_in_answers_come_from_the_same_orchestrator(handler, fake: FakeRuntime) -> None:
    for path in CHAT_PATHS:
        status, body, _ = invoke(handler, on_path(event("chat_faq"), path))
        assert (status, body["intent"]) == (200, "faq")
    assert [r.message for r in fake.requests] == [json.loads(event("chat_faq")["body"])["message"]] * 2


def test_signed_in_order_tracking_returns_the_services_orders(handler, fake: FakeRuntime) -> None:
    _, body, _ = invoke(handler, event("chat_order_tracking"))
    assert [o["order_id"] for o in body["orders"]] == list(ORDER_IDS)
    assert body["session_id"] == "sess-7f3a"


def test_an_open_circuit_answers_200_degraded_with_the_seed_fallback(handler, monkeypatch) -> None:
    runtime = FakeRuntime(down={"order_service", "llm"}, banner=Banners(automatic=FakeBanner()))
    monkeypatch.setattr(handler, "runtime", runtime)
    status, body, _ = invoke(handler, event("chat_order_tracking"))
    assert status == 200
    assert body["degraded"] is True
    assert body["degraded_reason"] == "order_service_unavailable"
    assert [a["type"] for a in body["actions"]] == ["link", "escalation"]
    assert "url" not in body["actions"][1]
    assert body["banner"] == FakeBanner().message_ja
    assert runtime.downstream.attempts["order_service"] == 0


def test_feedback_event_is_accepted_and_forwarded(handler, fake: FakeRuntime) -> None:
    status, body, _ = invoke(handler, event("feedback"))
    assert (status, body) == (202, {"status": "accepted"})
    (sent,) = fake.downstream.feedback
    assert sent["customer_id"] == "cust-0001"
    assert sent["rating"] == "helpful"


def test_feedback_while_its_service_is_down_is_accepted_dropped_and_counted(handler, monkeypatch) -> None:
    runtime = FakeRuntime(down={"feedback"})
    monkeypatch.setattr(handler, "runtime", runtime)
    status, _, _ = invoke(handler, event("feedback"))
    assert status == 202
    assert runtime.telemetry.dropped == ["circuit_open"]
    assert runtime.downstream.attempts["feedback"] == 0


def test_health_event_healthy_and_unhealthy_without_internals(handler, fake: FakeRuntime) -> None:
    status, body, _ = invoke(handler, event("health"))
    assert status == 200
    HealthResponse.model_validate(body)
    assert body["status"] == "healthy"
    assert set(body["checks"]) == {"state_store", "faq_store"}

    fake.health_checks["state_store"] = False
    status, body, _ = invoke(handler, event("health"))
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["state_store"]["status"] == "fail"
    assert body["checks"]["faq_store"]["status"] == "ok"
    assert not any(leak in json.dumps(body) for leak in LEAKS)

    fake.health_checks.update(state_store=True, faq_store=False)
    status, body, _ = invoke(handler, event("health"))
    assert status == 503
    assert body["checks"]["faq_store"]["status"] == "fail"


def test_status_event_has_the_dashboard_shape(handler, fake: FakeRuntime) -> None:
    status, body, _ = invoke(handler, event("status"))
    assert status == 200
    StatusResponse.model_validate(body)
    assert {row["name"] for row in body["services"]} >= {"catalog", "llm", "order_service"}


# ---------------------------------------------------------------- hostile input: 4xx, never 5xx


def assert_client_error(handler, evt: dict, status: int, code: str) -> dict:
    got, body, _ = invoke(handler, evt)
    assert got == status, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    assert not any(leak in json.dumps(body) for leak in LEAKS)
    assert "breakers" not in vars(handler.runtime), "validation failed before anything was built"
    return body


@pytest.mark.parametrize(
    "raw",
    ['{"message":', "{", "nul", "{'message': 'hi'}", '{"message": "a",}', "\x00", '{"message": "\\ud800"'],
)
def test_malformed_json_is_400(handler, chat_path: str, raw: str) -> None:
    assert_client_error(handler, chat_event(raw, path=chat_path), 400, "invalid_json")


def test_absurdly_nested_json_is_400(handler, chat_path: str) -> None:
    assert_client_error(handler, chat_event("[" * 200_000, path=chat_path), 400, "invalid_json")


@pytest.mark.parametrize("raw", ["!!!not base64!!!", base64.b64encode(b"\xff\xfe\xfa").decode()])
def test_undecodable_base64_bodies_are_400(handler, chat_path: str, raw: str) -> None:
    assert_client_error(handler, chat_event(raw, isBase64Encoded=True, path=chat_path), 400, "invalid_json")


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"message": 5}, "message"),
        ({"message": ["hi"]}, "message"),
        ({"message": None}, "message"),
        ({"message": {"text": "hi"}}, "message"),
        ({"message": True}, "message"),
        ({"message": "hi", "session_id": 7}, "session_id"),
        ({"message": "hi", "session_id": "has spaces and ümlauts"}, "session_id"),
        ({}, "message"),
        ({"text": "hi"}, "message"),
        ([{"message": "hi"}], "body"),
        ([{"message": "hi"}, {"message": "there"}], "body"),
        ("hi", "body"),
        (42, "body"),
    ],
)
def test_wrong_types_and_shapes_are_422_naming_the_field(handler, chat_path: str, payload, field: str) -> None:
    body = assert_client_error(handler, chat_event(json.dumps(payload), path=chat_path), 422, "invalid_request")
    assert f"'{field}'" in body["error"]["message"]


@pytest.mark.parametrize("message", ["", " ", "\n\t  ", "a" * 2001, "漫" * 2001, "ok\x00", "\x00"])
def test_empty_blank_oversized_or_nul_messages_are_422(handler, chat_path: str, message: str) -> None:
    evt = chat_event(json.dumps({"message": message}), path=chat_path)
    body = assert_client_error(handler, evt, 422, "invalid_request")
    assert "'message'" in body["error"]["message"]
    echoed = message.strip().strip("\x00")[:50]
    assert len(echoed) < 3 or echoed not in body["error"]["message"], "never echo the input"


def test_a_huge_body_is_rejected_without_echo(handler, chat_path: str) -> None:
    secret = "SECRET-" + "x" * 1_000_000
    evt = chat_event(json.dumps({"message": secret}), path=chat_path)
    body = assert_client_error(handler, evt, 422, "invalid_request")
    assert "SECRET" not in json.dumps(body)


@pytest.mark.parametrize("body", [None, ""])
def test_a_post_without_body_is_422(handler, chat_path: str, body) -> None:
    assert_client_error(handler, chat_event(body, path=chat_path), 422, "invalid_request")


@pytest.mark.filterwarnings("ignore:Received multipart/form-data:UserWarning")
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "multipart/form-data",
        "application/jsonp",
        "text/json",
    ],
)
@pytest.mark.parametrize("path", [*CHAT_PATHS, "/feedback"])
def test_wrong_content_type_is_415(handler, content_type: str, path: str) -> None:
    raw = "message=hi" if "form-urlencoded" in content_type else json.dumps({"message": "hi", "rating": "helpful"})
    evt = chat_event(raw, content_type=content_type, path=path)
    assert_client_error(handler, evt, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("POST", "/chat/extra"),
        ("POST", "/chat/guest/extra"),
        ("POST", "/guest"),
        ("GET", "/"),
        ("PUT", "/x"),
    ],
)
def test_unknown_routes_are_404(handler, method: str, path: str) -> None:
    assert_client_error(handler, chat_event(None, httpMethod=method, path=path), 404, "not_found")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/chat", "POST"),
        ("DELETE", "/chat", "POST"),
        ("GET", "/chat/guest", "POST"),
        ("PUT", "/chat/guest/", "POST"),
        ("POST", "/health", "GET"),
        ("PUT", "/status", "GET"),
    ],
)
def test_wrong_method_on_a_known_route_is_405_with_allow(handler, method: str, path: str, allow: str) -> None:
    evt = chat_event(None, httpMethod=method, path=path)
    assert_client_error(handler, evt, 405, "method_not_allowed")
    _, _, headers = invoke(handler, evt)
    assert headers["allow"] in (allow, [allow])


@pytest.mark.parametrize(
    "message",
    [
        "🙂" * 500,
        "مرحبا، أين طلبي؟",
        "e\u0301" * 900,
        "\u200b\u200e\ufeffWhere is my order?",
        "a" * 2000,
        "漫" * 2000,
        "<script>alert(1)</script>",
        "'; DROP TABLE orders; --",
        "{{7*7}} ${7*7}",
    ],
)
def test_odd_but_valid_messages_get_a_200_answer(handler, fake: FakeRuntime, chat_path: str, message: str) -> None:
    status, body, _ = invoke(handler, chat_event(json.dumps({"message": message}), path=chat_path))
    assert status == 200
    ChatResponse.model_validate(body)
    assert body["message"]
    assert "<script>" not in body["message"]


def test_an_internal_error_on_chat_is_still_a_polite_200(handler, monkeypatch, chat_path: str) -> None:
    class Broken:
        def answer(self, request, context):
            raise RuntimeError("state-table-prod exploded at 10.0.0.1")

    monkeypatch.setattr(handler, "runtime", Broken())
    status, body, _ = invoke(handler, on_path(event("chat_faq"), chat_path))
    assert status == 200
    assert body["degraded"] is True
    assert body["language"] == "ja"
    assert [a["type"] for a in body["actions"]] == ["escalation"]
    assert not any(leak in json.dumps(body, ensure_ascii=False) for leak in LEAKS)


def test_an_internal_error_elsewhere_is_a_bare_500_without_details(handler, monkeypatch) -> None:
    class Broken:
        def status(self):
            raise RuntimeError("state-table-prod exploded at 10.0.0.1")

    monkeypatch.setattr(handler, "runtime", Broken())
    status, body, _ = invoke(handler, event("status"))
    assert status == 500
    assert body == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side. Please try again."}
    }


# ---------------------------------------------------------------- any input shape: never a 5xx, on both routes

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
BODIES = st.one_of(
    JSON_VALUES.map(json.dumps),
    st.fixed_dictionaries({"message": JSON_VALUES}, optional={"session_id": JSON_VALUES}).map(json.dumps),
    st.fixed_dictionaries({"message": st.text(max_size=2100)}, optional={"session_id": st.text(max_size=130)}).map(
        json.dumps
    ),
    st.text(max_size=200),
    st.none(),
)
CONTENT_TYPES = st.sampled_from(
    [None, "application/json", "application/json; charset=utf-8", "text/plain", "multipart/form-data", "x/y;;"]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    path=st.sampled_from(CHAT_PATHS),
    raw=BODIES,
    content_type=CONTENT_TYPES,
    as_base64=st.booleans(),
    claims=st.none() | st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=3),
)
def test_no_input_shape_gets_a_5xx_on_either_chat_route(
    handler, fake: FakeRuntime, path, raw, content_type, as_base64, claims
) -> None:
    body = base64.b64encode(raw.encode("utf-8", "surrogatepass")).decode() if as_base64 and raw else raw
    evt = chat_event(body, content_type=content_type, path=path, isBase64Encoded=bool(as_base64 and raw))
    if claims is not None:
        evt["requestContext"]["authorizer"] = {"claims": claims}
    status, answer, _ = invoke(handler, evt)
    hypothesis.event(f"HTTP {status}")  # --hypothesis-show-statistics: the share of answers and of each 4xx
    assert status in (200, 400, 415, 422), answer
    if status == 200:
        ChatResponse.model_validate(answer)
    else:
        assert set(answer) == {"error"}
        assert set(answer["error"]) == {"code", "message"}
    assert not any(leak in json.dumps(answer) for leak in LEAKS)
