"""The health-ping handler against the project's own downstream simulators and moto server.

Where test_health_ping_lambda.py uses a minimal stand-in, this proves the pinger, the real adapters and
the simulators agree on the contract: health paths, the Bedrock one-token Converse, and how each
injected fault (error, down, throttle, hang) shows up in the health item and the circuit.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from local.simulators.fleet import SimulatorFleet
from mangaassist.health.factory import pinger_from_env
from mangaassist.health.items import HEALTH_PK
from mangaassist.health.status import ServiceStatus
from mangaassist.registry import REGISTRY, SERVICE_NAMES, STATE_CIRCUITS_PK
from tests.conftest import dynamodb_client
from tests.fakes import FakeLambdaContext

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
EVENT = json.loads((ROOT / "events" / "scheduled_ping.json").read_text(encoding="utf-8"))
START = 1_800_000_000.0


def lambda_context() -> FakeLambdaContext:
    return FakeLambdaContext(function_name="HealthPingFunction", memory_limit_in_mb=256)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def simulators():
    with SimulatorFleet() as fleet:
        yield fleet


@pytest.fixture
def handler(simulators, state_table, monkeypatch):
    simulators.clear_faults()
    simulators.reset_stats()
    for key, value in simulators.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BEDROCK_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    spec = importlib.util.spec_from_file_location("health_ping_app_sim", ROOT / "functions" / "health_ping" / "app.py")
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    clock = Clock()
    pinger = pinger_from_env(clock=clock)
    monkeypatch.setattr(app, "pinger", lambda: pinger)

    def invoke():
        report = app.lambda_handler(EVENT, lambda_context())
        clock.now += 60
        return report

    yield invoke
    simulators.clear_faults()


def test_every_simulator_answers_the_pinger(handler, simulators):
    report = handler()
    assert {name for name, s in report["services"].items() if s["ok"]} == set(SERVICE_NAMES)
    assert all(s["status"] == ServiceStatus.OK for s in report["services"].values())
    for name in SERVICE_NAMES:
        seen = simulators.requests(name)
        assert len(seen) == 1, name
        if REGISTRY[name].kind == "http":
            assert seen[0]["method"] == "GET"
            assert seen[0]["path"] == REGISTRY[name].health_path
    converse = simulators.requests("llm")[0]
    assert converse["path"].endswith("/converse")
    assert converse["json"]["inferenceConfig"]["maxTokens"] == 1


def test_injected_faults_show_up_as_their_failure_class(handler, simulators, aws_env, state_table):
    simulators.set_fault("returns_service", "error")
    simulators.set_fault("order_service", "down")
    simulators.set_fault("promotions", "throttle")
    simulators.set_fault("analytics", "hang")
    simulators.set_fault("llm", "down")
    needed = REGISTRY["returns_service"].ping_failures_to_open
    for _ in range(needed):
        report = handler()
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
    ddb = dynamodb_client(aws_env.url)
    for name in broken:
        circuit = ddb.get_item(
            TableName=state_table, Key={"pk": {"S": STATE_CIRCUITS_PK}, "sk": {"S": name}}, ConsistentRead=True
        )["Item"]
        assert circuit["state"]["S"] == "OPEN", name
        assert circuit["reason"]["S"] == "health_ping", name

    # Faults cleared: the services answer again, and /status says "warn" (recovering, recent errors) not "ok".
    simulators.clear_faults()
    recovering = handler()
    assert all(s["ok"] for s in recovering["services"].values())
    item = ddb.get_item(
        TableName=state_table, Key={"pk": {"S": HEALTH_PK}, "sk": {"S": "returns_service"}}, ConsistentRead=True
    )["Item"]
    assert item["status"]["S"] == ServiceStatus.WARN
    assert int(item["consecutive_failures"]["N"]) == 0
