"""The local stack's own logic, without starting it: what the front, the metric sink and the alarm evaluator
make of the template and of what the workers print. No network, no processes."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from local.alarms import UnsupportedExpressionError, evaluate, evaluate_expression, notification
from local.front import GatewayAnswer, api_routes, claims_for, http_answer, proxy_event
from local.metric_sink import MetricSink, parse_emf
from local.provision import local_refs, sns_subscriptions
from local.status_cli import render
from local.template_resources import function_environment, resolve
from local.workers import Outcome
from mangaassist.alerting.notification import parse_event
from mangaassist.registry import REGISTRY

NOW = 1_800_000_000.0


def emf(name: str, service: str, value: float, at: float) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": int(at * 1000),
                "CloudWatchMetrics": [
                    {"Namespace": "MangaAssist/ServiceHealth", "Dimensions": [["service"]], "Metrics": [{"Name": name}]}
                ],
            },
            "service": service,
            name: [value],
        }
    )


@pytest.fixture
def refs():
    return local_refs("mangaassist-test")


# ---------------------------------------------------------------------------------------------- metric sink


def test_emf_lines_become_datapoints_and_log_lines_do_not():
    points = parse_emf(emf("OrderServiceError", "order_service", 1, NOW))
    assert [(p.name, p.dimensions, p.value, p.at) for p in points] == [
        ("OrderServiceError", (("service", "order_service"),), 1.0, NOW)
    ]
    assert parse_emf('{"level": "INFO", "message": "chat_answer"}') == []
    assert parse_emf("not json at all") == []


def test_two_documents_printed_onto_one_line_both_count():
    line = emf("DependencyLatency", "catalog", 12, NOW) + emf("DependencyLatency", "llm", 40, NOW)
    assert sorted(p.dimensions[0][1] for p in parse_emf(line)) == ["catalog", "llm"]


def test_sink_matches_the_exact_dimension_set_and_window():
    sink = MetricSink()
    sink.add_line(emf("OrderServiceError", "order_service", 1, NOW - 10))
    sink.add_line(emf("OrderServiceError", "order_service", 1, NOW - 100))
    sink.add_line(emf("OrderServiceError", "catalog", 1, NOW - 10))
    dims = {"service": "order_service"}
    assert sink.statistic("Sum", "MangaAssist/ServiceHealth", "OrderServiceError", dims, NOW - 60, NOW) == 1.0
    assert sink.statistic("Sum", "MangaAssist/ServiceHealth", "OrderServiceError", {}, NOW - 60, NOW) is None
    summary = sink.summary(since=NOW - 60, until=NOW)
    assert summary["OrderServiceError"]["service=order_service"]["count"] == 1


# ---------------------------------------------------------------------------------------------- alarms


def test_metric_math_subset():
    assert evaluate_expression("FILL(errors, 0) + FILL(timeouts, 0)", {"errors": 4.0, "timeouts": None}) == 4.0
    expression = "IF((FILL(ping, 1) < 1) OR ((FILL(errors, 0) + FILL(timeouts, 0)) >= 3), 1, 0)"
    assert evaluate_expression(expression, {"ping": 0.0, "errors": None, "timeouts": None}) == 1
    assert evaluate_expression(expression, {"ping": 1.0, "errors": 1.0, "timeouts": 1.0}) == 0
    with pytest.raises(UnsupportedExpressionError):
        evaluate_expression("ANOMALY_DETECTION_BAND(m1)", {"m1": 1.0})


def test_order_service_availability_alarm_follows_its_template_threshold(refs):
    sink = MetricSink()
    spec = REGISTRY["order_service"]
    for i in range(10):
        sink.add_line(emf(spec.error_metric, "order_service", 1, NOW - 5 - i))
    assert evaluate("OrderServiceAvailability", sink, refs, now=NOW).state == "OK"  # 10 is not > 10
    sink.add_line(emf(spec.timeout_metric, "order_service", 1, NOW - 1))
    evaluation = evaluate("OrderServiceAvailability", sink, refs, now=NOW)
    assert evaluation.state == "ALARM"
    assert evaluation.datapoints == (11.0,)


def test_a_circuit_open_alarm_resolves_when_its_metric_stops(refs):
    sink = MetricSink()
    name = REGISTRY["catalog"].circuit_open_alarm
    sink.add_line(emf("CircuitOpen", "catalog", 1, NOW - 3))
    assert evaluate(name, sink, refs, now=NOW).state == "ALARM"
    # Nobody writes CircuitOpen any more (the pinger is gone): OK, so Slack and PagerDuty hear it end,
    # instead of INSUFFICIENT_DATA, which has no action and would leave the incident open.
    later = evaluate(name, sink, refs, now=NOW + 120)
    assert later.datapoints == (None,)
    assert later.state == "OK"


@pytest.mark.parametrize("name", ["OrderServiceAvailability", "CatalogCircuitOpen", "ChatSloFastBurn"])
def test_notifications_parse_as_the_alarm_relay_parses_them(refs, name):
    subject, message = notification(name, "ALARM", "OK", "Threshold Crossed: test", refs, at=NOW)
    event = {
        "Records": [{"EventSource": "aws:sns", "Sns": {"MessageId": "m-1", "Subject": subject, "Message": message}}]
    }
    envelope = parse_event(event)[0]
    assert envelope.is_alarm
    notice = envelope.notice
    assert notice.alarm_name == name
    assert notice.new_state == "ALARM"
    assert notice.old_state == "OK"
    assert notice.alarm_arn.endswith(f":alarm:{name}")
    assert notice.state_change_time.timestamp() == pytest.approx(NOW, abs=0.001)
    if name == "ChatSloFastBurn":
        assert notice.alarm_rule  # composite: the rule, no trigger
    else:
        assert notice.trigger is not None
    assert refs["AlarmTopic"] in json.loads(message)["AlarmActions"]


# ---------------------------------------------------------------------------------------------- the front


def test_routes_come_from_the_template():
    routes = api_routes()
    assert ("/chat", "POST") in routes
    assert routes[("/chat", "POST")].auth == "cognito"
    assert routes[("/chat", "POST")].body_schema["required"] == ["message"]
    assert routes[("/health", "GET")].auth == "none"
    assert routes[("/status", "GET")].auth == "iam"


def test_bearer_header_fills_the_cognito_claim_and_no_header_is_a_guest():
    chat = api_routes()[("/chat", "POST")]
    assert claims_for(chat, "Bearer cust-0007")["sub"] == "cust-0007"
    assert claims_for(chat, None) is None
    assert claims_for(api_routes()[("/health", "GET")], "Bearer cust-0007") is None
    with pytest.raises(GatewayAnswer) as answer:
        claims_for(chat, "Basic dXNlcg==")
    assert answer.value.status == 401


def test_the_guest_chat_route_takes_no_token_and_validates_like_chat():
    routes = api_routes()
    chat, guest = routes[("/chat", "POST")], routes[("/chat/guest", "POST")]
    assert (guest.auth, guest.function_id) == ("none", chat.function_id)
    assert guest.body_schema == chat.body_schema
    # No authorizer on the guest route: a token is neither checked nor turned into claims.
    assert claims_for(guest, "Bearer cust-0007") is None
    assert claims_for(guest, "Basic dXNlcg==") is None
    request = api_request("/chat/guest", b'{"message": "hi"}')
    event = proxy_event(guest, request, "/chat/guest", None, "127.0.0.1", "r")
    assert event["resource"] == event["path"] == "/chat/guest"
    assert "authorizer" not in event["requestContext"]


def api_request(path: str, body: bytes, query=(), headers=()) -> Request:
    environ = EnvironBuilder(path=path, method="POST", data=body, query_string=query, headers=headers).get_environ()
    return Request(environ)


def test_proxy_event_shape():
    chat = api_routes()[("/chat", "POST")]
    body = '{"message": "こんにちは"}'.encode()
    request = api_request(
        "/chat",
        body,
        [("lang", "ja"), ("lang", "en")],
        [("Content-Type", "application/json"), ("X-Tag", "a"), ("X-Tag", "b")],
    )
    event = proxy_event(chat, request, "/chat", {"sub": "cust-0001"}, "127.0.0.1", "req-1")
    assert event["resource"] == "/chat"
    assert event["requestContext"]["authorizer"]["claims"]["sub"] == "cust-0001"
    assert event["requestContext"]["path"] == "/local/chat"
    assert event["requestContext"]["requestId"] == "req-1"
    assert event["multiValueQueryStringParameters"] == {"lang": ["ja", "en"]}
    assert event["multiValueHeaders"]["X-Tag"] == ["a, b"]  # WSGI hands a repeated header over joined
    assert json.loads(event["body"]) == {"message": "こんにちは"}
    binary = proxy_event(chat, api_request("/chat", b"\xff\xfe"), "/chat", None, "127.0.0.1", "req-2")
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\xff\xfe"
    assert "authorizer" not in binary["requestContext"]


def test_function_errors_become_the_templates_5xx_gateway_response():
    ok = Outcome(
        "ok", "chat-1", result={"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": "{}"}
    )
    assert http_answer(ok)[0] == 200
    for broken in (Outcome("died", "chat-1"), Outcome("ok", "chat-1", result={"body": "no status"})):
        with pytest.raises(GatewayAnswer) as answer:
            http_answer(broken)
        assert answer.value.status == 502
        assert json.loads(answer.value.body)["error"]["code"] == "unavailable"


# ---------------------------------------------------------------------------------------------- provisioning


def test_function_environments_resolve_locally(refs):
    env = resolve(function_environment("AlarmRelayFunction"), refs)
    assert env["STATE_TABLE"] == "mangaassist-test-state"
    assert env["IDEMPOTENCY_TABLE"] == "mangaassist-test-idempotency"
    assert env["SLACK_WEBHOOK_SECRET_ID"] == "mangaassist-test/SlackWebhookSecret"
    assert ("AlarmRelayFunction", "AlarmTopic") in sns_subscriptions()


def test_status_table_renders_every_service():
    body = {
        "updated_at": "2026-01-01T00:00:00Z",
        "services": [
            {
                "name": n,
                "display_name": s.display_name,
                "status": "ok",
                "latency_ms": 45,
                "error_rate": 0.001,
                "circuit": "CLOSED",
                "override": "none",
            }
            for n, s in REGISTRY.items()
        ],
        "capabilities": {"order_tracking": "unavailable", "faq": "available"},
        "state_store": "ok",
        "health_pings": "ok",
        "banner": None,
    }
    body["services"][3] = {**body["services"][3], "status": "down", "circuit": "OPEN", "error_rate": 1.0}
    text = render(body)
    assert "Order Service       DOWN             ---      100.0%  OPEN" in text
    assert "Product Catalog     OK              45ms        0.1%  CLOSED" in text
    assert "Order tracking:                 Degraded (using fallback)" in text
