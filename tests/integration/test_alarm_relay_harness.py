"""The alarm relay's test bench: moto server (secrets, idempotency and state tables), local Slack/PagerDuty receivers.

Other alarm-relay test modules import the `bench` fixture from here; the tests in this module check the bench
itself (tables shaped as Powertools and template.yaml expect, secrets readable, receivers wired in).
"""

from __future__ import annotations

import importlib.util
import io
import json
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

from local.receivers import Receiver, pagerduty_receiver, slack_receiver
from local.template_resources import dynamodb_create_table_args, dynamodb_ttl_attribute, template
from tests.fakes import FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
RUNBOOK_BASE_URL = "https://github.com/mangaassist/resilience/blob/main/docs/runbooks"
DASHBOARD_URL = "https://ap-northeast-1.console.aws.amazon.com/cloudwatch/home#dashboards/dashboard/MangaAssist"
IDEMPOTENCY_TABLE_ID = "IdempotencyTable"

pytestmark = pytest.mark.integration


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def load_handler_module():
    spec = importlib.util.spec_from_file_location("alarm_relay_app", ROOT / "functions" / "alarm_relay" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _client(service: str, endpoint: str):
    return boto3.client(
        service, endpoint_url=endpoint, region_name="ap-northeast-1", config=Config(retries={"max_attempts": 1})
    )


def create_idempotency_table(endpoint: str) -> str:
    """The table Powertools' DynamoDBPersistenceLayer expects: partition key "id" (S), TTL on "expiration".

    Taken from template.yaml once the template declares it, so the tests follow the deployed shape.
    """
    name = f"idempotency-{uuid.uuid4().hex[:10]}"
    ddb = _client("dynamodb", endpoint)
    if IDEMPOTENCY_TABLE_ID in template().get("Resources", {}):
        ddb.create_table(**dynamodb_create_table_args(IDEMPOTENCY_TABLE_ID, name))
        ttl = dynamodb_ttl_attribute(IDEMPOTENCY_TABLE_ID)
    else:
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        ttl = "expiration"
    if ttl:
        ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})
    return name


@dataclass
class Bench:
    endpoint: str
    slack: Receiver
    pagerduty: Receiver
    handler_module: Any
    state_table: str
    idempotency_table: str
    slack_secret_id: str
    pagerduty_secret_id: str
    webhook_url: str
    routing_key: str

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        return self.handler_module.lambda_handler(
            event,
            FakeLambdaContext(function_name="mangaassist-alarm-relay", memory_limit_in_mb=256, remaining_ms=30_000),
        )

    def invoke_file(self, name: str) -> dict[str, Any]:
        return self.invoke(load_event(name))

    def put_secret(self, secret_id: str, value: str) -> None:
        _client("secretsmanager", self.endpoint).put_secret_value(SecretId=secret_id, SecretString=value)

    def fresh_relay(self) -> None:
        """A new execution environment: settings re-read, secret cache empty."""
        self.handler_module.bootstrap()

    def alarm_item(self, alarm_name: str) -> dict[str, Any]:
        item = _client("dynamodb", self.endpoint).get_item(
            TableName=self.state_table, Key={"pk": {"S": "alarms"}, "sk": {"S": alarm_name}}, ConsistentRead=True
        )
        return item.get("Item", {})

    def idempotency_records(self) -> list[dict[str, Any]]:
        return _client("dynamodb", self.endpoint).scan(TableName=self.idempotency_table)["Items"]


class RelayLogs:
    """What the relay's Powertools logger writes (Lambda ships it to CloudWatch Logs)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def entries(self, level: str | None = None) -> list[dict[str, Any]]:
        lines = [json.loads(line) for line in self.text.splitlines() if line.startswith("{")]
        return [e for e in lines if level is None or e.get("level") == level]


@pytest.fixture
def relay_logs():
    # The shared Logger's handler holds the stdout it saw at import; pytest's capfd cannot see through that.
    from mangaassist.observability import logger

    handler = logger.registered_handler
    logs = RelayLogs()
    previous = handler.setStream(logs.stream)
    try:
        yield logs
    finally:
        handler.setStream(previous)


@pytest.fixture(scope="module")
def receivers():
    with slack_receiver() as slack, pagerduty_receiver() as pager:
        yield slack, pager


@pytest.fixture
def bench(aws_env, state_table, receivers, monkeypatch) -> Bench:
    slack, pager = receivers
    slack.answer(200)
    pager.answer(202)
    slack.clear()
    pager.clear()
    endpoint = aws_env.url
    suffix = uuid.uuid4().hex[:8]
    webhook_url = f"{slack.url}/services/T0MANGA/B0ALARMS/{uuid.uuid4().hex}"
    routing_key = f"R0{uuid.uuid4().hex}"
    secrets = _client("secretsmanager", endpoint)
    slack_secret_id = f"mangaassist/alarm-relay/slack-webhook-{suffix}"
    pagerduty_secret_id = f"mangaassist/alarm-relay/pagerduty-routing-key-{suffix}"
    secrets.create_secret(Name=slack_secret_id, SecretString=webhook_url)
    secrets.create_secret(Name=pagerduty_secret_id, SecretString=routing_key)
    idempotency_table = create_idempotency_table(endpoint)
    env = {
        "IDEMPOTENCY_TABLE": idempotency_table,
        "SLACK_WEBHOOK_SECRET_ID": slack_secret_id,
        "PAGERDUTY_ROUTING_KEY_SECRET_ID": pagerduty_secret_id,
        "PAGERDUTY_EVENTS_URL": f"{pager.url}/v2/enqueue",
        "RUNBOOK_BASE_URL": RUNBOOK_BASE_URL,
        "DASHBOARD_URL": DASHBOARD_URL,
        # The stand-ins listen on 127.0.0.1; in AWS only https://hooks.slack.com/ is accepted.
        "SLACK_WEBHOOK_PREFIX": "http://127.0.0.1:",
        "ALERT_HTTP_TIMEOUT_S": "1",
        "AWS_LAMBDA_FUNCTION_NAME": "mangaassist-alarm-relay",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    module = load_handler_module()
    return Bench(
        endpoint=endpoint,
        slack=slack,
        pagerduty=pager,
        handler_module=module,
        state_table=state_table,
        idempotency_table=idempotency_table,
        slack_secret_id=slack_secret_id,
        pagerduty_secret_id=pagerduty_secret_id,
        webhook_url=webhook_url,
        routing_key=routing_key,
    )


def test_idempotency_table_has_the_key_schema_powertools_writes(bench):
    bench.invoke_file("alarm_metric_math_alarm")
    records = bench.idempotency_records()
    assert len(records) == 2  # one per channel
    assert {r["status"]["S"] for r in records} == {"COMPLETED"}
    assert all(r["id"]["S"].startswith("alarm-relay#") for r in records)
    assert all(int(r["expiration"]["N"]) > 0 for r in records)


def test_webhook_and_routing_key_reach_the_receivers(bench):
    bench.invoke_file("alarm_metric_math_alarm")
    (slack_request,) = bench.slack.requests
    (pd_request,) = bench.pagerduty.requests
    assert slack_request.path == bench.webhook_url.removeprefix(bench.slack.url)
    assert pd_request.path == "/v2/enqueue"
    assert pd_request.json()["routing_key"] == bench.routing_key
    assert slack_request.headers["Content-Type"] == "application/json"


def test_bootstrap_wires_the_relay_the_handler_uses(bench):
    """The relay's one wiring seam, like the chat's and the pinger's: what bootstrap builds serves every event
    after it, until the next bootstrap (a new execution environment)."""

    class CountingSession(requests.Session):
        def __init__(self) -> None:
            super().__init__()
            self.posts = 0

        def post(self, *args: Any, **kwargs: Any) -> requests.Response:
            self.posts += 1
            return super().post(*args, **kwargs)

    session = CountingSession()
    relay = bench.handler_module.bootstrap(session=session)
    bench.invoke_file("alarm_metric_math_alarm")
    assert bench.handler_module.relay() is relay
    assert session.posts == 2  # Slack and PagerDuty, through the session bootstrap was given
    assert len(bench.slack.requests) == len(bench.pagerduty.requests) == 1

    bench.fresh_relay()
    assert bench.handler_module.relay() is not relay
