"""The health-ping Lambda handler end to end: moto server for the state table, the project's simulators for every
dependency.

The handler runs unchanged with events/scheduled_ping.json against the simulators (each service's health path,
Bedrock's Converse), broken through their own fault state; only its clock is replaced by one the test moves forward
a minute per scheduled run. What reached each simulator is read from its stats and request log.
"""

from __future__ import annotations

import importlib.util
import json
import threading
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
HANG_HELD_S = 3.0  # ten times promotions' timeout, and short of the run's bound on a prober (llm's 6 s plus grace)


def load_app():
    spec = importlib.util.spec_from_file_location("health_ping_app", ROOT / "functions" / "health_ping" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


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
def handler(state_table, healthy_fleet, monkeypatch):
    """The real handler, with every execution environment (thread) building its pinger on the test clock."""
    for key, value in healthy_fleet.env().items():
        monkeypatch.setenv(key, value)
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


def test_healthy_run_pings_each_health_path_records_every_service_with_ttl_and_publishes_metrics(
    handler, fleet, aws_env, state_table, capsys
):
    report = handler()
    assert report["state_store_ok"] is True
    assert set(report["services"]) == set(SERVICE_NAMES)
    services = report["services"].values()
    assert all(s["ok"] and s["status"] == ServiceStatus.OK and s["circuit"] == "CLOSED" for s in services)
    for name in SERVICE_NAMES:
        seen = fleet.requests(name)
        assert len(seen) == 1, name
        if REGISTRY[name].kind == "http":
            assert (seen[0]["method"], seen[0]["path"]) == ("GET", REGISTRY[name].health_path)
    converse = fleet.requests("llm")[0]
    assert converse["path"].endswith("/converse")
    assert converse["json"]["inferenceConfig"]["maxTokens"] == 1  # the ping must stay the cheapest real call
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


def test_three_failed_pings_open_the_circuit_and_one_probe_closes_it(handler, fleet, aws_env, state_table, capsys):
    spec = REGISTRY["order_service"]
    fleet.set_fault("order_service", "error")
    before = run_minutes(handler, spec.ping_failures_to_open - 1)
    assert before["opened"] == []
    assert before["services"]["order_service"]["circuit"] == "CLOSED"

    capsys.readouterr()
    report = handler()
    assert report["opened"] == ["order_service"]
    assert report["services"]["order_service"]["status"] == ServiceStatus.DOWN
    assert report["services"]["order_service"]["status_code"] == 503
    failing = spec.ping_failures_to_open
    assert fleet.stats()["order_service"] == {"calls": failing, "failures": failing}
    stored = circuit(state_table, aws_env.url, "order_service")
    assert stored["state"]["S"] == "OPEN"
    assert stored["reason"]["S"] == "health_ping"
    metrics = emf(capsys.readouterr().out)
    assert metrics["order_service"][PING_AVAILABILITY_METRIC] == [0.0]
    assert metrics["order_service"][CIRCUIT_OPEN_METRIC] == [1.0]
    assert metrics["catalog"][CIRCUIT_OPEN_METRIC] == [0.0]

    # Recovered, and the open period is over: the next ping is the fleet's single probe.
    fleet.clear_faults()
    fleet.reset_stats()
    handler.clock.now = float(stored["open_until"]["N"])
    recovered = handler()
    assert recovered["probes"] == {"order_service": True}
    assert fleet.stats()["order_service"] == {"calls": 1, "failures": 0}
    closed = circuit(state_table, aws_env.url, "order_service")
    assert closed["state"]["S"] == "CLOSED"
    assert closed["reason"]["S"] == "probe_succeeded"
    assert int(closed["version"]["N"]) == 3  # opened, leased for the probe, closed: nothing else wrote


def test_banner_after_more_than_five_minutes_of_llm_down_and_cleared_on_recovery(handler, fleet, aws_env, state_table):
    fleet.set_fault("llm", "error")
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

    fleet.clear_faults()
    stored = circuit(state_table, aws_env.url, "llm")
    assert stored["state"]["S"] == "OPEN"
    handler.clock.now = float(stored["open_until"]["N"])
    recovered = handler()
    assert recovered["probes"] == {"llm": True}
    assert recovered["banner"] == "cleared"
    assert item(state_table, aws_env.url, "flags", "banner")["active"]["BOOL"] is False
    assert circuit(state_table, aws_env.url, "llm")["state"]["S"] == "CLOSED"


def test_two_overlapping_invocations_leave_consistent_state(handler, fleet, aws_env, state_table):
    fleet.set_fault("catalog", "error")
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


def test_a_hanging_dependency_costs_its_own_timeout_only(handler, fleet):
    # The simulator holds the call until the fault expires, then resets it: a ping that outwaited its own timeout
    # would see that reset ("connection"), and one the run abandoned would report no latency.
    fleet.set_fault("promotions", "hang", expires_in_s=HANG_HELD_S)
    report = handler()
    promotions = report["services"]["promotions"]
    assert promotions["ok"] is False
    assert (promotions["failure"], promotions["error_class"]) == ("timeout", "timeout")
    assert report["services"]["catalog"]["ok"] is True
    assert promotions["latency_ms"] is not None
    assert promotions["latency_ms"] >= REGISTRY["promotions"].timeout_ms
    assert fleet.stats()["promotions"] == {"calls": 1, "failures": 1}


def test_injected_faults_show_up_as_their_failure_class(handler, fleet, aws_env, state_table):
    fleet.set_fault("returns_service", "error")
    fleet.set_fault("order_service", "down")
    fleet.set_fault("promotions", "throttle")
    fleet.set_fault("analytics", "hang")
    fleet.set_fault("llm", "down")
    report = run_minutes(handler, REGISTRY["returns_service"].ping_failures_to_open)
    services = report["services"]
    assert services["returns_service"]["status_code"] == 503
    assert services["order_service"]["error_class"] == "connection"
    assert services["order_service"]["status_code"] is None
    assert services["promotions"]["status_code"] == 429
    assert services["promotions"]["error_class"] == "throttled"
    assert services["analytics"]["error_class"] == "timeout"
    assert services["llm"]["ok"] is False
    assert services["catalog"]["ok"] is True
    broken = {"returns_service", "order_service", "promotions", "analytics", "llm"}
    assert set(report["opened"]) == broken
    assert {name for name, s in services.items() if s["status"] == ServiceStatus.DOWN} == broken
    for name in broken:
        stored = circuit(state_table, aws_env.url, name)
        assert stored["state"]["S"] == "OPEN", name
        assert stored["reason"]["S"] == "health_ping", name

    # Faults cleared: the services answer again, and /status says "warn" (recovering, recent errors) not "ok".
    fleet.clear_faults()
    recovering = handler()
    assert all(s["ok"] for s in recovering["services"].values())
    returns = item(state_table, aws_env.url, HEALTH_PK, "returns_service")
    assert returns["status"]["S"] == ServiceStatus.WARN
    assert int(returns["consecutive_failures"]["N"]) == 0


def test_state_table_gone_still_pings_and_reports(handler, monkeypatch):
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    report = handler()
    assert report["state_store_ok"] is False
    assert all(s["ok"] for s in report["services"].values())
    assert all(s["status"] is None for s in report["services"].values())
