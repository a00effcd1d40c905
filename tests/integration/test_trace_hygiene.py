"""What the chat and the alarm relay send to X-Ray with tracing on: no secret, no token, no customer data.

Each handler runs in a child process (tests/integration/traced_lambda.py) with the X-Ray SDK in Lambda mode,
sending to a UDP socket here that stands in for the daemon. In Lambda the SDK never sends the facade segment;
it streams every subsegment as it closes, so what this socket receives is everything that would reach X-Ray.
The real parts are the relay's bench (moto, Slack and PagerDuty receivers) and the chat's (moto, simulators).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest

from local.simulators.sigv4 import SigV4Verifier
from tests.integration import test_alarm_relay_harness as harness
from tests.integration import test_chat_handler as chat_bench
from tests.integration.test_chat_handler import CUST_0001_ORDERS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL_HEADER = '{"format":"json","version":1}\n'
BEARER = "Bearer eyJraWQiOiJtYW5nYSJ9.eyJzdWIiOiJjdXN0LTAwMDEifQ.c2lnbmF0dXJl"

# The benches' fixtures, shared with their own modules.
bench = harness.bench
receivers = harness.receivers
faq_bucket = chat_bench.faq_bucket
chat = chat_bench.chat


class XRayDaemon:
    """A UDP socket on 127.0.0.1 collecting what the X-Ray SDK emits, one document per datagram."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.datagrams: list[str] = []
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self.sock.getsockname()
        return f"{host}:{port}"

    def _receive(self) -> None:
        while not self._stopping.is_set():
            try:
                self.datagrams.append(self.sock.recv(65535).decode("utf-8"))
            except TimeoutError:
                continue

    def drain(self) -> list[str]:
        """Everything the child sent: on loopback a datagram is queued here before sendto returns."""
        self._stopping.set()
        self._thread.join()
        self.sock.setblocking(False)
        while True:
            try:
                self.datagrams.append(self.sock.recv(65535).decode("utf-8"))
            except BlockingIOError:
                return self.datagrams

    def close(self) -> None:
        self._stopping.set()
        self._thread.join()
        self.sock.close()


@pytest.fixture
def daemon():
    running = XRayDaemon()
    yield running
    running.close()


def run_traced(function: str, events: list[dict[str, Any]], daemon: XRayDaemon, tmp_path: Path) -> dict[str, Any]:
    """Invokes functions/<function>/app.py on each event in a Lambda-like child process with active tracing."""
    events_path, results_path = tmp_path / f"{function}-events.json", tmp_path / f"{function}-results.json"
    events_path.write_text(json.dumps(events, ensure_ascii=False), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if not key.startswith(("POWERTOOLS_TRACER_", "_X_AMZN"))}
    env.update(
        {
            # The code's own choice is under test, so the template's POWERTOOLS_TRACER_CAPTURE_* stay unset.
            "POWERTOOLS_TRACE_DISABLED": "false",
            "LAMBDA_TASK_ROOT": str(ROOT / "functions" / function),
            "AWS_XRAY_DAEMON_ADDRESS": daemon.address,
            "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
            "AWS_LAMBDA_FUNCTION_NAME": f"mangaassist-{function}",
            "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "mangaassist"), str(ROOT)]),
        }
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.integration.traced_lambda", function, str(events_path), str(results_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(results_path.read_text(encoding="utf-8"))


def documents(datagrams: list[str]) -> list[dict[str, Any]]:
    docs = []
    for datagram in datagrams:
        assert datagram.startswith(PROTOCOL_HEADER), datagram[:200]
        docs.append(json.loads(datagram.removeprefix(PROTOCOL_HEADER)))
    return docs


def walk(doc: dict[str, Any]):
    yield doc
    for child in doc.get("subsegments", []):
        yield from walk(child)


def traced_names(datagrams: list[str]) -> set[str]:
    return {entity["name"] for doc in documents(datagrams) for entity in walk(doc)}


def assert_nowhere(datagrams: list[str], *needles: str) -> None:
    # Both as sent and decoded: the SDK's JSON may escape non-ASCII text (a Japanese message) as \\uXXXX.
    texts = [*datagrams, *(json.dumps(doc, ensure_ascii=False) for doc in documents(datagrams))]
    for needle in needles:
        leaked = [text[:300] for text in texts if needle in text]
        assert not leaked, f"{needle!r} reached X-Ray: {leaked[0]}"


def assert_no_urls(datagrams: list[str]) -> None:
    for doc in documents(datagrams):
        for entity in walk(doc):
            assert "url" not in entity.get("http", {}).get("request", {}), entity


# ---------------------------------------------------------------- the alarm relay


def test_the_relays_traces_hold_no_webhook_and_no_routing_key(bench, daemon, tmp_path):
    report = run_traced("alarm_relay", [harness.load_event("alarm_metric_math_alarm")], daemon, tmp_path)
    (outcome,) = report["outcomes"]
    assert outcome["result"]["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "delivered"}
    assert report["patched"] == ["botocore"]
    datagrams = daemon.drain()
    assert {"## lambda_handler", "secretsmanager", "dynamodb"} <= traced_names(datagrams)
    assert all(doc["trace_id"] in outcome["trace"] for doc in documents(datagrams))
    webhook_path = bench.webhook_url.removeprefix(bench.slack.url)
    assert_nowhere(datagrams, webhook_path, webhook_path.rsplit("/", 1)[1], bench.routing_key)
    assert_no_urls(datagrams)


def test_a_failed_slack_post_leaves_neither_the_webhook_nor_its_error_text_in_the_trace(bench, daemon, tmp_path):
    # A webhook on a closed port: requests' ConnectionError quotes the whole URL, secret path included.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    secret_path = f"/services/T0MANGA/B0ALARMS/{uuid.uuid4().hex}"
    bench.put_secret(bench.slack_secret_id, f"http://127.0.0.1:{closed}{secret_path}")

    report = run_traced("alarm_relay", [harness.load_event("alarm_metric_math_alarm")], daemon, tmp_path)

    assert report["outcomes"][0]["raised"] == "AlarmRelayError"
    datagrams = daemon.drain()
    (handler,) = [e for doc in documents(datagrams) for e in walk(doc) if e["name"] == "## lambda_handler"]
    # The failure itself is still traced, by the SDK: its type and the relay's own text, which names no URL.
    assert handler["fault"] is True
    assert [e["type"] for e in handler["cause"]["exceptions"]] == ["AlarmRelayError"]
    assert handler["cause"]["exceptions"][0]["message"].startswith("1 delivery(ies) will be retried: slack")
    assert_nowhere(datagrams, secret_path, secret_path.rsplit("/", 1)[1], f":{closed}/", bench.routing_key)
    assert_no_urls(datagrams)


# ---------------------------------------------------------------- the chat


def signed_in_event(name: str) -> dict[str, Any]:
    event = chat_bench.event(name)
    event["headers"]["Authorization"] = BEARER
    event["multiValueHeaders"]["Authorization"] = [BEARER]
    return event


def test_the_chats_traces_hold_no_customer_id_token_order_or_message(chat, fleet, daemon, tmp_path, monkeypatch):
    # Credentials no other part of the run uses, trusted by the store simulators for this test: the calls below
    # succeed only if the child signed with them, and none of them may reach X-Ray.
    role = SigV4Verifier(
        f"AKIA{uuid.uuid4().hex[:16].upper()}",
        f"secret-{uuid.uuid4().hex}",
        f"token-{uuid.uuid4().hex}",
        "ap-northeast-1",
    )
    for server in fleet.servers.values():
        if server.verifier is not None:
            monkeypatch.setattr(server, "verifier", role)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", role.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", role.secret_key)
    monkeypatch.setenv("AWS_SESSION_TOKEN", role.session_token)
    events = [signed_in_event(name) for name in ("chat_order_tracking", "chat_recommendation", "chat_returns")]
    report = run_traced("chat", events, daemon, tmp_path)

    bodies = [json.loads(outcome["result"]["body"]) for outcome in report["outcomes"]]
    assert [o["order_id"] for o in bodies[0]["orders"]] == list(CUST_0001_ORDERS)  # the data was there to leak
    assert report["patched"] == ["botocore"]
    datagrams = daemon.drain()
    names = traced_names(datagrams)
    assert {"## lambda_handler", "dynamodb", "order_service", "recommendations", "returns_service"} <= names
    order_calls = [e for doc in documents(datagrams) for e in walk(doc) if e["name"] == "order_service"]
    assert order_calls[0]["namespace"] == "remote"
    assert order_calls[0]["http"] == {"request": {"method": "GET"}, "response": {"status": 200}}

    customers = {event["requestContext"]["authorizer"]["claims"]["sub"] for event in events}
    messages = {json.loads(event["body"])["message"] for event in events}
    assert_nowhere(datagrams, *customers, *messages, *CUST_0001_ORDERS, BEARER.split()[1], bodies[0]["message"])
    assert_nowhere(datagrams, role.access_key, role.secret_key, role.session_token, "AWS4-HMAC-SHA256", "Signature=")
    assert_no_urls(datagrams)
