"""The health-ping Lambda handler end to end: moto server for the state table, real HTTP for every dependency.

A small HTTP server started by the tests stands in for the dependencies: GET /<service>/health for each
HTTP service, and Bedrock's POST /model/<id>/converse for the LLM. Each can be told to answer, fail
(503) or hang. The handler runs unchanged with events/scheduled_ping.json; only its clock is replaced
by one the test moves forward a minute per scheduled run.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mangaassist.health.factory import pinger_from_env
from mangaassist.health.items import HEALTH_PK
from mangaassist.health.pinger import BANNER_AFTER_S
from mangaassist.health.status import ServiceStatus
from mangaassist.health.store import HEALTH_TTL_S
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    METRIC_NAMESPACE,
    PING_AVAILABILITY_METRIC,
    PING_LATENCY_METRIC,
    REGISTRY,
    SERVICE_NAMES,
    STATE_CIRCUITS_PK,
)
from tests.conftest import dynamodb_client
from tests.fakes import FakeLambdaContext

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "scheduled_ping.json").read_text(encoding="utf-8"))
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
PERIOD_S = 60.0
START = 1_800_000_000.0


def load_app():
    spec = importlib.util.spec_from_file_location("health_ping_app", ROOT / "functions" / "health_ping" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Dependencies(ThreadingHTTPServer):
    """Every dependency's health endpoint (and Bedrock's Converse) on one loopback port."""

    daemon_threads = True
    request_queue_size = 64  # nine pings connect at once; the default backlog of 5 drops SYNs under load

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _DependencyHandler)
        self.modes = dict.fromkeys(SERVICE_NAMES, "ok")  # ok | down | hang
        self.hits = dict.fromkeys(SERVICE_NAMES, 0)
        self.release = threading.Event()
        self.hangs_over = 0  # hung answers that have ended (released, or after their 5 s)
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def hit(self, service: str) -> str:
        with self.lock:
            self.hits[service] += 1
            return self.modes[service]


class _DependencyHandler(BaseHTTPRequestHandler):
    server: Dependencies

    def log_message(self, *args) -> None:
        pass

    def _answer(self, status: int, body: dict, headers: dict | None = None) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _behave(self, service: str) -> bool:
        mode = self.server.hit(service)
        if mode == "hang":
            self.server.release.wait(5)
            with self.server.lock:
                self.server.hangs_over += 1
        return mode != "down"

    def do_GET(self) -> None:
        service, _, rest = self.path.strip("/").partition("/")
        if service not in self.server.modes or rest != "health":
            self._answer(404, {"error": {"code": "not_found"}})
            return
        if self._behave(service):
            self._answer(200, {"status": "healthy"})
        else:
            self._answer(503, {"status": "unhealthy"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/converse"):
            self._answer(404, {"message": "unknown operation"})
            return
        if not self._behave("llm"):
            self._answer(
                503,
                {"message": "Bedrock is unable to process your request."},
                {"x-amzn-ErrorType": "ServiceUnavailableException"},
            )
            return
        assert request["inferenceConfig"]["maxTokens"] == 1  # the ping must stay the cheapest real call
        self._answer(
            200,
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "OK"}]}},
                "stopReason": "max_tokens",
                "usage": {"inputTokens": 1, "outputTokens": 1, "totalTokens": 2},
                "metrics": {"latencyMs": 5},
            },
        )


def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(function_name="HealthPingFunction", memory_limit_in_mb=256)


class Clock:
    def __init__(self, now: float = START):
        self.now = now
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds


@pytest.fixture
def dependencies():
    server = Dependencies()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


@pytest.fixture
def handler(state_table, dependencies, monkeypatch):
    """The real handler, with every execution environment (thread) building its pinger on the test clock."""
    for spec in REGISTRY.values():
        if spec.kind == "http":
            monkeypatch.setenv(spec.url_env, f"{dependencies.url}/{spec.name}")
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", dependencies.url)
    monkeypatch.setenv("BEDROCK_MODEL_ID", MODEL_ID)
    app = load_app()
    clock = Clock()
    environments = threading.local()

    def pinger():
        if not hasattr(environments, "pinger"):
            environments.pinger = pinger_from_env(clock=clock)
        return environments.pinger

    monkeypatch.setattr(app, "pinger", pinger)

    def invoke():
        return app.lambda_handler(EVENT, lambda_context())

    invoke.clock = clock
    return invoke


def item(state_table: str, endpoint: str, pk: str, sk: str) -> dict:
    return dynamodb_client(endpoint).get_item(
        TableName=state_table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )["Item"]


def circuit(state_table: str, endpoint: str, service: str) -> dict:
    return item(state_table, endpoint, STATE_CIRCUITS_PK, service)


def emf(out: str) -> dict[str, dict]:
    """The last EMF document per service printed to stdout."""
    docs = {}
    for line in out.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            doc = json.loads(line)
            if doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == METRIC_NAMESPACE and PING_AVAILABILITY_METRIC in doc:
                docs[doc["service"]] = doc
    return docs


def run_minutes(handler, minutes: int) -> dict:
    report = {}
    for _ in range(minutes):
        report = handler()
        handler.clock.advance(PERIOD_S)
    return report


def test_healthy_run_records_every_service_with_ttl_and_publishes_metrics(handler, aws_env, state_table, capsys):
    report = handler()
    assert report["state_store_ok"] is True
    assert set(report["services"]) == set(SERVICE_NAMES)
    services = report["services"].values()
    assert all(s["ok"] and s["status"] == ServiceStatus.OK and s["circuit"] == "CLOSED" for s in services)
    stored = dynamodb_client(aws_env.url).query(
        TableName=state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": HEALTH_PK}},
    )["Items"]
    assert {i["sk"]["S"] for i in stored} == set(SERVICE_NAMES)
    for stored_item in stored:
        assert int(stored_item["expires_at"]["N"]) == int(START + HEALTH_TTL_S)
        assert len(stored_item["history"]["L"]) == 1
    metrics = emf(capsys.readouterr().out)
    assert set(metrics) == set(SERVICE_NAMES)
    for name, doc in metrics.items():
        assert doc[PING_AVAILABILITY_METRIC] == [1.0], name
        assert doc[CIRCUIT_OPEN_METRIC] == [0.0], name
        assert doc[PING_LATENCY_METRIC][0] < REGISTRY[name].timeout_ms


def test_three_failed_pings_open_the_circuit_and_one_probe_closes_it(
    handler, dependencies, aws_env, state_table, capsys
):
    spec = REGISTRY["order_service"]
    dependencies.modes["order_service"] = "down"
    before = run_minutes(handler, spec.ping_failures_to_open - 1)
    assert before["opened"] == []
    assert before["services"]["order_service"]["circuit"] == "CLOSED"

    capsys.readouterr()
    report = handler()
    assert report["opened"] == ["order_service"]
    assert report["services"]["order_service"]["status"] == ServiceStatus.DOWN
    assert report["services"]["order_service"]["status_code"] == 503
    stored = circuit(state_table, aws_env.url, "order_service")
    assert stored["state"]["S"] == "OPEN"
    assert stored["reason"]["S"] == "health_ping"
    metrics = emf(capsys.readouterr().out)
    assert metrics["order_service"][PING_AVAILABILITY_METRIC] == [0.0]
    assert metrics["order_service"][CIRCUIT_OPEN_METRIC] == [1.0]
    assert metrics["catalog"][CIRCUIT_OPEN_METRIC] == [0.0]

    # Recovered, and the open period is over: the next ping is the fleet's single probe.
    dependencies.modes["order_service"] = "ok"
    handler.clock.now = float(stored["open_until"]["N"])
    hits_before = dependencies.hits["order_service"]
    recovered = handler()
    assert recovered["probes"] == {"order_service": True}
    assert dependencies.hits["order_service"] == hits_before + 1
    closed = circuit(state_table, aws_env.url, "order_service")
    assert closed["state"]["S"] == "CLOSED"
    assert closed["reason"]["S"] == "probe_succeeded"
    assert int(closed["version"]["N"]) == 3  # opened, leased for the probe, closed: nothing else wrote


def test_banner_after_more_than_five_minutes_of_llm_down_and_cleared_on_recovery(
    handler, dependencies, aws_env, state_table
):
    dependencies.modes["llm"] = "down"
    minutes = int(BANNER_AFTER_S // PERIOD_S) + 1  # pings at 0, 1, ... 5 minutes: exactly five minutes down
    quiet = run_minutes(handler, minutes)
    assert quiet["banner"] == "unchanged"
    with pytest.raises(KeyError):
        item(state_table, aws_env.url, "flags", "banner")

    report = handler()  # six minutes after the first failed ping
    assert report["banner"] == "set"
    banner = item(state_table, aws_env.url, "flags", "banner")
    assert banner["active"]["BOOL"] is True
    assert float(banner["since"]["N"]) == START
    assert banner["message_en"]["S"]
    assert banner["message_ja"]["S"] != banner["message_en"]["S"]
    assert "expires_at" in banner

    dependencies.modes["llm"] = "ok"
    stored = circuit(state_table, aws_env.url, "llm")
    assert stored["state"]["S"] == "OPEN"
    handler.clock.now = float(stored["open_until"]["N"])
    recovered = handler()
    assert recovered["probes"] == {"llm": True}
    assert recovered["banner"] == "cleared"
    assert item(state_table, aws_env.url, "flags", "banner")["active"]["BOOL"] is False
    assert circuit(state_table, aws_env.url, "llm")["state"]["S"] == "CLOSED"


def test_two_overlapping_invocations_leave_consistent_state(handler, dependencies, aws_env, state_table):
    dependencies.modes["catalog"] = "down"
    rounds = 3
    errors: list[BaseException] = []
    for _ in range(rounds):
        barrier = threading.Barrier(2)

        def invoke(barrier=barrier):
            barrier.wait()
            try:
                handler()
            except BaseException as err:  # re-raised below through the assertion
                errors.append(err)

        threads = [threading.Thread(target=invoke) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        handler.clock.advance(PERIOD_S)
    assert errors == []

    health = item(state_table, aws_env.url, HEALTH_PK, "catalog")
    history = [float(p["M"]["at"]["N"]) for p in health["history"]["L"]]
    assert len(history) == 2 * rounds
    assert history == sorted(history)
    assert int(health["version"]["N"]) == 2 * rounds
    assert int(health["consecutive_failures"]["N"]) == 2 * rounds
    # Round two opened the circuit exactly once; in round three exactly one of the two runs won the probe
    # lease and, catalog still failing, reopened it: three conditional writes, no more.
    stored = circuit(state_table, aws_env.url, "catalog")
    assert stored["state"]["S"] == "OPEN"
    # (a 503, or on a loaded machine possibly a timeout: either way a failed probe)
    assert stored["reason"]["S"].startswith("probe_failed_")
    assert int(stored["version"]["N"]) == 3
    assert int(stored["reopen_count"]["N"]) == 1


def test_a_hanging_dependency_costs_its_own_timeout_only(handler, dependencies):
    dependencies.modes["promotions"] = "hang"
    report = handler()
    hang_still_held = dependencies.hangs_over == 0
    promotions = report["services"]["promotions"]
    assert promotions["ok"] is False
    assert (promotions["failure"], promotions["error_class"]) == ("timeout", "timeout")
    assert report["services"]["catalog"]["ok"] is True
    # The run came back while the dependency still held its answer: it waited for neither the hang's end nor
    # its own give-up (an abandoned prober reports no latency), and the ping's own timeout ended it.
    assert hang_still_held
    assert promotions["latency_ms"] >= REGISTRY["promotions"].timeout_ms


def test_state_table_gone_still_pings_and_reports(handler, monkeypatch):
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    report = handler()
    assert report["state_store_ok"] is False
    assert all(s["ok"] for s in report["services"].values())
    assert all(s["status"] is None for s in report["services"].values())
