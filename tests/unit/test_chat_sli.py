"""The chat's SLI as CloudWatch will read it: one EMF document per POST to a chat route, printed to stdout.

The burn-rate alarms and the dashboard's SLO widget (mangaassist.ops.slo) divide ChatFailures by ChatRequests
under the dimension service=chat. These tests run the real handler and parse what it prints, so a renamed
metric, a lost dimension, a second document or a missing one on an error path fails here.
"""

from __future__ import annotations

import json

import pytest

from mangaassist.chat.resolver import CHAT_PATHS, GUEST_CHAT_PATH
from mangaassist.ops import slo
from mangaassist.registry import METRIC_NAMESPACE
from tests.fakes import FakeLambdaContext
from tests.unit.chat_fakes import FakeRuntime
from tests.unit.test_chat_api import chat_event, event, load_handler

SIGNED_IN_EVENT = "chat_order_tracking"


@pytest.fixture
def handler(monkeypatch):
    module = load_handler()
    monkeypatch.delenv("STATE_TABLE", raising=False)
    return module


def on_route(evt: dict, path: str) -> dict:
    evt = {**evt, "path": path, "resource": path}
    evt["requestContext"] = {**evt["requestContext"], "resourcePath": path, "path": f"/prod{path}"}
    return evt


def sli_documents(out: str) -> list[dict]:
    docs = []
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        names = {m["Name"] for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]}
        if names & {slo.CHAT_REQUESTS_METRIC, slo.CHAT_FAILURES_METRIC}:
            docs.append(doc)
    return docs


# EMF carries a metric's values as a list of samples: one sample per request.
OK = ([1.0], [0.0])
FAILED = ([1.0], [1.0])


def the_sli(capsys) -> tuple[list[float], list[float]]:
    """The one SLI document the request printed, checked field by field; (ChatRequests, ChatFailures)."""
    [doc] = sli_documents(capsys.readouterr().out)
    [directive] = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == METRIC_NAMESPACE
    assert directive["Dimensions"] == [["service"]]
    assert doc["service"] == slo.CHAT_SERVICE
    assert directive["Metrics"] == [
        {"Name": slo.CHAT_REQUESTS_METRIC, "Unit": "Count"},
        {"Name": slo.CHAT_FAILURES_METRIC, "Unit": "Count"},
    ]
    return doc[slo.CHAT_REQUESTS_METRIC], doc[slo.CHAT_FAILURES_METRIC]


def run(handler, evt: dict, context: FakeLambdaContext | None = None) -> dict:
    response = handler.lambda_handler(evt, context or FakeLambdaContext())
    assert response["statusCode"] < 500
    return json.loads(response["body"])


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_a_normal_answer_is_one_request_and_no_failure(handler, monkeypatch, capsys, path):
    monkeypatch.setattr(handler, "runtime", FakeRuntime())
    body = run(handler, on_route(event(SIGNED_IN_EVENT), path))
    assert body["degraded"] is False
    assert the_sli(capsys) == OK


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_a_degraded_answer_is_available_hence_no_failure(handler, monkeypatch, capsys, path):
    monkeypatch.setattr(handler, "runtime", FakeRuntime(down={"catalog"}))
    body = run(handler, on_route(event("chat_product_info"), path))
    assert (body["degraded"], body["degraded_reason"]) == (True, "catalog_unavailable")
    assert the_sli(capsys) == OK


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_an_error_the_route_catches_is_one_request_and_one_failure(handler, monkeypatch, capsys, path):
    class Broken:
        def answer(self, request, context):
            raise RuntimeError("boom")

    monkeypatch.setattr(handler, "runtime", Broken())
    body = run(handler, on_route(event(SIGNED_IN_EVENT), path))
    assert body["degraded"] is True
    assert body["degraded_reason"] is None
    assert the_sli(capsys) == FAILED


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_an_error_the_orchestrator_catches_is_one_request_and_one_failure(handler, monkeypatch, capsys, path):
    runtime = FakeRuntime()

    def unreadable_circuits():
        raise RuntimeError("snapshot corrupt")

    monkeypatch.setattr(runtime.breakers, "capability_map", unreadable_circuits)
    monkeypatch.setattr(handler, "runtime", runtime)
    body = run(handler, on_route(event(SIGNED_IN_EVENT), path))
    assert (body["degraded"], body["degraded_reason"]) == (True, None)
    assert the_sli(capsys) == FAILED


def test_an_answer_after_the_deadline_is_a_failure(handler, monkeypatch, capsys):
    monkeypatch.setattr(handler, "runtime", FakeRuntime())
    # 0.4 s left in the Lambda is less than the 0.5 s margin: the deadline is gone before any flow runs.
    body = run(handler, event(SIGNED_IN_EVENT), FakeLambdaContext(remaining_ms=400))
    assert body["message"]
    assert the_sli(capsys) == FAILED


def test_the_same_request_with_time_left_is_not(handler, monkeypatch, capsys):
    monkeypatch.setattr(handler, "runtime", FakeRuntime())
    run(handler, event(SIGNED_IN_EVENT), FakeLambdaContext(remaining_ms=10_000))
    assert the_sli(capsys) == OK


@pytest.mark.parametrize("path", CHAT_PATHS)
def test_a_rejected_body_is_a_request_the_chat_handled_correctly(handler, capsys, path):
    response = handler.lambda_handler(chat_event(json.dumps({"message": ""}), path=path), FakeLambdaContext())
    assert response["statusCode"] == 422
    assert the_sli(capsys) == OK


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/chat"), ("GET", GUEST_CHAT_PATH), ("POST", "/chat/extra"), ("GET", "/health")]
)
def test_requests_that_are_not_a_chat_post_are_not_counted(handler, monkeypatch, capsys, method, path):
    monkeypatch.setattr(handler, "runtime", FakeRuntime())
    handler.lambda_handler(chat_event(None, httpMethod=method, path=path), FakeLambdaContext())
    assert sli_documents(capsys.readouterr().out) == []


def test_every_request_gets_its_own_document(handler, monkeypatch, capsys):
    monkeypatch.setattr(handler, "runtime", FakeRuntime())
    for path in (*CHAT_PATHS, *CHAT_PATHS):
        run(handler, on_route(event("chat_faq"), path))
    docs = sli_documents(capsys.readouterr().out)
    assert [(d[slo.CHAT_REQUESTS_METRIC], d[slo.CHAT_FAILURES_METRIC]) for d in docs] == [OK] * 4


def test_a_failed_request_leaves_nothing_behind_for_the_next_one(handler, monkeypatch, capsys):
    class Broken:
        def answer(self, request, context):
            raise RuntimeError("boom")

    monkeypatch.setattr(handler, "runtime", Broken())
    run(handler, on_route(event(SIGNED_IN_EVENT), CHAT_PATHS[0]))
    # Rejected before any route runs, so nothing in this request says whether it failed: only a fresh state does.
    rejected = handler.lambda_handler(chat_event(json.dumps({"message": ""}), path=CHAT_PATHS[0]), FakeLambdaContext())
    assert rejected["statusCode"] == 422
    docs = sli_documents(capsys.readouterr().out)
    assert [(d[slo.CHAT_REQUESTS_METRIC], d[slo.CHAT_FAILURES_METRIC]) for d in docs] == [FAILED, OK]
