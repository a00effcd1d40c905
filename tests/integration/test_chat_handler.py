"""The chat Lambda end to end: the real handler, moto in server mode (state table, FAQ bucket) and the
project's downstream simulators over real HTTP (Bedrock Converse included).

Each test loads functions/chat/app.py afresh, so its runtime (breaker, clients, FAQ store) is built
from the environment exactly as in a new Lambda execution environment.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from mangaassist.breaker.model import CircuitState
from mangaassist.chat.telemetry import ANALYTICS_DEFERRED_LOG
from mangaassist.faq.bundled import BUNDLED_VECTORS_PATH
from mangaassist.faq.vectors import vectors_key
from mangaassist.health import Banner, HealthStore, PingResult, operator_banner
from mangaassist.observability import logger
from mangaassist.registry import REGISTRY, STATE_CIRCUITS_PK
from tests.conftest import dynamodb_client
from tests.fakes import FakeLambdaContext

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
FAQ_KEY = "faq/faq_templates.json"
# Sample data of the simulators: cust-0001's orders, newest first (docs/downstream-contracts.md).
CUST_0001_ORDERS = ("250-0412268-5560121", "250-1184302-7731904", "250-0977315-2208416")


def event(name: str, **body_changes) -> dict:
    evt = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    if body_changes:
        body = json.loads(evt["body"])
        body.update(body_changes)
        evt["body"] = json.dumps(body, ensure_ascii=False)
    return evt


def load_handler():
    spec = importlib.util.spec_from_file_location("chat_app_integration", ROOT / "functions" / "chat" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def s3_client(endpoint: str):
    return boto3.client(
        "s3", endpoint_url=endpoint, region_name="ap-northeast-1", config=Config(retries={"max_attempts": 1})
    )


@pytest.fixture
def faq_bucket(aws_env, monkeypatch) -> str:
    from mangaassist.faq.bundled import bundled_bytes

    bucket = f"faq-{time.time_ns()}"
    s3 = s3_client(aws_env.url)
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "ap-northeast-1"})
    s3.put_object(Bucket=bucket, Key=FAQ_KEY, Body=bundled_bytes(), ContentType="application/json")
    # ... and its vectors beside it, as `make seed-faq` writes them
    s3.put_object(Bucket=bucket, Key=vectors_key(FAQ_KEY), Body=BUNDLED_VECTORS_PATH.read_bytes())
    monkeypatch.setenv("FAQ_BUCKET", bucket)
    monkeypatch.setenv("FAQ_KEY", FAQ_KEY)
    return bucket


@pytest.fixture
def chat(healthy_fleet, state_table, faq_bucket, monkeypatch):
    """A fresh execution environment of the chat Lambda wired to moto and the simulators."""
    for key, value in healthy_fleet.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BEDROCK_MODEL_ID", MODEL_ID)
    monkeypatch.setenv("STORE_BASE_URL", "https://manga-store.example.jp")
    monkeypatch.setenv("STATE_CACHE_TTL_S", "1")
    monkeypatch.setenv("BANNER_CACHE_S", "0")
    return load_handler()


def invoke(handler, evt: dict, remaining_ms: int = 12_000) -> tuple[int, dict, float]:
    started = time.perf_counter()
    response = handler.lambda_handler(copy.deepcopy(evt), FakeLambdaContext(remaining_ms=remaining_ms))
    elapsed_ms = (time.perf_counter() - started) * 1000
    return response["statusCode"], json.loads(response["body"]), elapsed_ms


def answer_line(caplog) -> logging.LogRecord:
    """The one chat_answer line the last request logged: its services_down, calls and deadline_exceeded."""
    (line,) = [r for r in caplog.records if r.getMessage() == "chat_answer"]
    return line


def circuit_item(endpoint: str, table: str, service: str) -> dict:
    item = dynamodb_client(endpoint).get_item(
        TableName=table, Key={"pk": {"S": STATE_CIRCUITS_PK}, "sk": {"S": service}}, ConsistentRead=True
    )
    return item.get("Item") or {}


# ---------------------------------------------------------------- happy paths, one per intent


def healthy_answer(chat, name: str, intent: str) -> dict:
    """The body of the answer to events/<name>.json: a 200 with that intent and nothing degraded."""
    status, body, _ = invoke(chat, event(name))
    assert status == 200, body
    assert (body["intent"], body["degraded"]) == (intent, False)
    return body


def test_order_tracking_shows_the_order_services_orders(chat, fleet) -> None:
    body = healthy_answer(chat, "chat_order_tracking", "order_tracking")
    assert body["language"] == "ja"
    assert [o["order_id"] for o in body["orders"]] == list(CUST_0001_ORDERS)
    assert CUST_0001_ORDERS[0] in body["message"]
    (request,) = fleet.requests("order_service")
    assert request["path"] == "/customers/cust-0001/orders"


def test_recommendations_are_personal_for_a_signed_in_customer(chat, fleet) -> None:
    body = healthy_answer(chat, "chat_recommendation", "recommendation")
    assert body["items"]
    assert fleet.stats()["recommendations"]["calls"] == 1
    assert fleet.requests("recommendations")[0]["query"]["customer_id"] == "cust-0002"


def test_product_info_is_phrased_by_bedrock_from_catalog_data(chat, fleet) -> None:
    body = healthy_answer(chat, "chat_product_info", "product_info")
    assert body["language"] == "ja"
    assert any("フリーレン" in item["title_ja"] for item in body["items"])
    assert fleet.stats()["catalog"]["calls"] == 1
    assert fleet.stats()["llm"]["calls"] == 1


def test_faq_is_answered_by_rag_over_the_faq_from_s3(chat, fleet) -> None:
    body = healthy_answer(chat, "chat_faq", "faq")
    assert body["language"] == "ja"
    assert "送料" in body["message"]
    assert fleet.stats()["llm"]["calls"] == 1


def test_returns_lists_the_customers_return_cases(chat, fleet) -> None:
    body = healthy_answer(chat, "chat_returns", "returns")
    assert "RMA-9X1P6T" in body["message"]  # cust-0004's case in the sample data


@pytest.mark.parametrize(
    ("name", "intent"),
    [("chat_escalation", "escalation"), ("chat_greeting", "greeting"), ("chat_open_ended", "open_ended")],
)
def test_other_intents_answer(chat, name: str, intent: str) -> None:
    body = healthy_answer(chat, name, intent)
    assert body["message"]


def test_greeting_uses_the_profile_name(chat) -> None:
    _, body, _ = invoke(chat, event("chat_greeting"))
    assert "Emily Carter" in body["message"]


def test_guests_are_asked_to_sign_in_and_the_order_service_is_not_called(chat, fleet) -> None:
    status, body, _ = invoke(chat, event("chat_order_tracking_guest"))
    assert status == 200
    assert "orders" not in body
    status, body, _ = invoke(chat, event("chat_spoofed_customer_id"))
    assert status == 422  # a claimed identity in the body is refused outright
    assert fleet.stats()["order_service"]["calls"] == 0


# ---------------------------------------------------------------- degradation over real HTTP


@pytest.mark.parametrize("mode", ["down", "error", "hang"])
def test_order_service_outage_degrades_opens_the_environments_circuit_after_three_and_then_sends_nothing(
    chat, fleet, aws_env, state_table, caplog, mode: str
) -> None:
    fleet.set_fault("order_service", mode)
    threshold = REGISTRY["order_service"].breaker.failure_threshold
    assert threshold == 3
    for attempt in range(threshold):
        caplog.clear()
        status, body, _ = invoke(chat, event("chat_order_tracking"))
        assert status == 200
        assert body["degraded"] is True
        assert body["degraded_reason"] == "order_service_unavailable"
        assert [a["type"] for a in body["actions"]] == ["link", "escalation"]
        assert body["actions"][0]["url"] == "https://manga-store.example.jp/gp/css/order-history"
        assert "orders" not in body
        assert not any(order_id in body["message"] for order_id in CUST_0001_ORDERS)
        # A hung order service costs at most the request's own deadline, never the hang itself.
        assert answer_line(caplog).deadline_exceeded is False, f"attempt {attempt}"
    item = circuit_item(aws_env.url, state_table, "order_service")
    # One environment's failures alone open its own circuit; the fleet's keeps one of them as evidence.
    assert item["state"]["S"] == CircuitState.CLOSED.value
    assert sum(int(n["N"]) for n in item["fb"]["M"].values()) == 1
    reached = fleet.stats()["order_service"]["calls"]
    assert reached == threshold
    # An open circuit answers at once: the snapshot says the service is down before any flow runs, so the
    # answer is the fallback row's and no call is even attempted, let alone sent.
    for _ in range(5):
        caplog.clear()
        status, body, _ = invoke(chat, event("chat_order_tracking"))
        assert status == 200
        assert body["degraded_reason"] == "order_service_unavailable"
        answer = answer_line(caplog)
        assert "order_service" in answer.services_down
        assert "order_service" not in answer.calls
        assert fleet.stats()["order_service"]["calls"] == reached


def test_a_third_environment_sees_the_circuit_two_others_opened_through_the_state_table(
    chat, fleet, aws_env, state_table
) -> None:
    fleet.set_fault("order_service", "error")
    for _ in range(2):
        invoke(chat, event("chat_order_tracking"))
    invoke(load_handler(), event("chat_order_tracking"))  # the second environment's failure is the third
    assert circuit_item(aws_env.url, state_table, "order_service")["state"]["S"] == CircuitState.OPEN.value
    status, body, _ = invoke(load_handler(), event("chat_order_tracking"))
    assert status == 200
    assert body["degraded_reason"] == "order_service_unavailable"
    assert fleet.stats()["order_service"]["calls"] == 3


def test_llm_throttling_falls_back_to_the_canned_faq_answer_within_the_deadline(chat, fleet, caplog) -> None:
    fleet.set_fault("llm", "throttle")
    status, body, _ = invoke(chat, event("chat_faq"))
    assert status == 200
    assert body["degraded_reason"] == "llm_unavailable"
    assert body["language"] == "ja"
    assert "送料" in body["message"]
    assert answer_line(caplog).deadline_exceeded is False


def test_catalog_and_llm_down_still_answers_orders_and_faq_by_template(chat, fleet) -> None:
    fleet.set_fault("catalog", "down")
    fleet.set_fault("llm", "error")
    _, faq, _ = invoke(chat, event("chat_faq"))
    assert faq["degraded_reason"] == "llm_unavailable"
    _, orders, _ = invoke(chat, event("chat_order_tracking"))
    assert orders["degraded"] is False
    assert [o["order_id"] for o in orders["orders"]] == list(CUST_0001_ORDERS)
    _, product, _ = invoke(chat, event("chat_product_info"))
    assert product["degraded_reason"] == "catalog_unavailable"
    assert "items" not in product


def test_recommendations_down_shows_popular_titles_from_the_catalog(chat, fleet, caplog) -> None:
    fleet.set_fault("recommendations", "hang")
    status, body, _ = invoke(chat, event("chat_recommendation"))
    assert status == 200
    assert body["degraded_reason"] == "recommendations_unavailable"
    assert body["items"]
    # One attempt, cut off by its timeout, and the popular titles still inside the request's deadline.
    assert fleet.stats()["recommendations"]["calls"] == 1
    assert answer_line(caplog).deadline_exceeded is False


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_analytics_down_logs_the_event_for_replay(chat, fleet, capsys) -> None:
    records = Records()
    logging.getLogger(logger.name).addHandler(records)
    try:
        fleet.set_fault("analytics", "down")
        _, body, _ = invoke(chat, event("chat_greeting"))
    finally:
        logging.getLogger(logger.name).removeHandler(records)
    deferred = [r for r in records.records if r.getMessage() == ANALYTICS_DEFERRED_LOG]
    assert len(deferred) == 1
    assert deferred[0].analytics_event["request_id"] == body["request_id"]
    assert deferred[0].analytics_event["intent"] == "greeting"
    assert '"AnalyticsEventsDeferred"' in capsys.readouterr().out


def test_feedback_down_is_accepted_dropped_and_counted(chat, fleet, capsys) -> None:
    fleet.set_fault("feedback", "error")
    response = chat.lambda_handler(event("feedback"), FakeLambdaContext())
    assert response["statusCode"] == 202
    out = capsys.readouterr().out
    assert '"FeedbackDropped"' in out


def test_the_maintenance_banner_is_shown_in_the_customers_language(chat, aws_env, state_table) -> None:
    from mangaassist.aws_clients import client

    HealthStore(state_table, client("dynamodb", hot_path=False)).set_banner(
        Banner(True, "AI answers are limited right now.", "現在AIの回答が制限されています。", since=time.time() - 400)
    )
    _, ja, _ = invoke(chat, event("chat_order_tracking"))
    _, en, _ = invoke(chat, event("chat_greeting"))
    assert ja["banner"] == "現在AIの回答が制限されています。"
    assert en["banner"] == "AI answers are limited right now."


def test_an_operator_banner_shows_beside_the_degraded_order_answer_in_both_languages(
    chat, fleet, aws_env, state_table
) -> None:
    from mangaassist.aws_clients import client

    fleet.set_fault("order_service", "down")
    now = time.time()
    HealthStore(state_table, client("dynamodb", hot_path=False)).put_operator_banner(
        operator_banner(
            message_en="Order tracking is down. Your order history page still lists every order.",
            message_ja="現在、注文状況の確認ができません。注文履歴ページをご覧ください。",
            reason="INC-7 order_service outage",
            expires_at=now + 600,
            now=now,
        )
    )
    _, ja, _ = invoke(chat, event("chat_order_tracking"))
    _, en, _ = invoke(chat, event("chat_order_tracking", message="Where is my order?"))
    assert (ja["banner"], ja["degraded_reason"]) == (
        "現在、注文状況の確認ができません。注文履歴ページをご覧ください。",
        "order_service_unavailable",
    )
    assert (en["banner"], en["degraded_reason"]) == (
        "Order tracking is down. Your order history page still lists every order.",
        "order_service_unavailable",
    )
    _, status, _ = invoke(chat, event("status"))
    assert status["banner"]["sources"] == ["operator"]
    assert status["banner"]["operator"]["reason"] == "INC-7 order_service outage"


# ---------------------------------------------------------------- /health and /status


def test_health_is_200_when_the_state_store_and_faq_store_answer(chat) -> None:
    status, body, _ = invoke(chat, event("health"))
    assert status == 200
    assert body["status"] == "healthy"
    assert {name: check["status"] for name, check in body["checks"].items()} == {"state_store": "ok", "faq_store": "ok"}


def test_health_is_503_when_the_faq_bucket_is_missing(chat, monkeypatch) -> None:
    monkeypatch.setenv("FAQ_BUCKET", "no-such-bucket-anywhere")
    status, body, _ = invoke(load_handler(), event("health"))
    assert status == 503
    assert body["status"] == "unhealthy"
    assert body["checks"]["faq_store"]["status"] == "fail"
    assert body["checks"]["state_store"]["status"] == "ok"
    assert "no-such-bucket" not in json.dumps(body)


def test_health_is_503_when_the_state_store_is_unreachable(chat, monkeypatch) -> None:
    from mangaassist.aws_clients import client

    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:9")  # nothing listens on the discard port
    client.cache_clear()
    status, body, elapsed_ms = invoke(load_handler(), event("health"))
    client.cache_clear()
    assert status == 503
    assert body["checks"]["state_store"]["status"] == "fail"
    assert "127.0.0.1" not in json.dumps(body)
    assert elapsed_ms < 3000


def test_health_is_503_when_the_state_table_does_not_exist(chat, monkeypatch) -> None:
    monkeypatch.setenv("STATE_TABLE", "state-table-that-was-deleted")
    status, body, _ = invoke(load_handler(), event("health"))
    assert status == 503
    assert body["checks"]["state_store"]["status"] == "fail"
    assert "state-table" not in json.dumps(body)


def test_status_shows_circuits_pings_capabilities_and_banner(chat, fleet, aws_env, state_table) -> None:
    from mangaassist.aws_clients import client

    fleet.set_fault("order_service", "error")
    for _ in range(3):
        invoke(chat, event("chat_order_tracking"))
    now = time.time()
    store = HealthStore(state_table, client("dynamodb", hot_path=False))
    store.record(
        [PingResult("catalog", True, 45.0, 200, at=now - 5), PingResult("returns_service", True, 890.0, at=now)]
    )
    status, body, _ = invoke(chat, event("status"))
    assert status == 200
    rows = {row["name"]: row for row in body["services"]}
    assert list(rows) == list(REGISTRY)
    assert rows["order_service"]["status"] == "down"
    assert rows["order_service"]["circuit"] == "OPEN"
    assert rows["catalog"]["status"] == "ok"
    assert rows["catalog"]["latency_ms"] == 45
    assert rows["returns_service"]["status"] == "warn"  # slower than its slow-call threshold
    assert body["capabilities"]["order_tracking"] == "unavailable"
    assert body["capabilities"]["return_requests"] == "degraded"
    assert body["capabilities"]["product_info"] == "available"
    assert body["banner"] is None
    assert body["state_store"] == "ok"


# ---------------------------------------------------------------- the internal services refuse the chat's signature


@pytest.mark.parametrize(
    ("name", "service", "fallback_url"),
    [
        ("chat_order_tracking", "order_service", "https://manga-store.example.jp/gp/css/order-history"),
        ("chat_returns", "returns_service", None),
    ],
)
def test_a_403_from_an_internal_service_gets_the_fallback_never_its_data_and_never_an_error(
    chat, fleet, aws_env, state_table, monkeypatch, capsys, caplog, name: str, service: str, fallback_url: str | None
) -> None:
    # The chat signs with a key the services do not trust (a role the resource policy no longer names): the real
    # simulators recompute the signature and answer 403 JSON to every call.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "a-secret-the-services-do-not-trust")
    threshold = REGISTRY[service].breaker.failure_threshold
    for _ in range(threshold + 1):
        status, body, _ = invoke(chat, event(name))
        assert status == 200
        assert body["degraded"] is True
        assert body["degraded_reason"] == f"{service}_unavailable"
        assert "orders" not in body
        assert not any(order_id in body["message"] for order_id in CUST_0001_ORDERS)
        assert "RMA-9X1P6T" not in body["message"]  # cust-0004's return case
        assert body["actions"]
        if fallback_url:
            assert body["actions"][0]["url"] == fallback_url
    refused = fleet.requests(service)
    assert len(refused) == threshold + 1, "every turn asked the service and was refused; nothing was made up"
    # A 4xx is our request's fault, not an outage: the circuit never counts it, so it stays closed.
    assert circuit_item(aws_env.url, state_table, service).get("state", {}).get("S", "closed") == "closed"
    forbidden = [r for r in caplog.records if r.getMessage() == "downstream_forbidden" and r.service == service]
    assert len(forbidden) == threshold + 1
    logged = capsys.readouterr().out + caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for secret in ("Signature=", "AWS4-HMAC-SHA256", "X-Amz-Security-Token", "a-secret-the-services"):
        assert secret not in logged
