"""scripts/circuit.py against moto in server mode: overrides reach the copies environments read, fleet-wide."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from mangaassist.breaker import CircuitBreakers
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from scripts import circuit as circuit_cli
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
COPIES = 3


def environment(endpoint: str, table: str, copy: int) -> CircuitBreakers:
    """One execution environment that reads copy ``copy`` of the circuits item, as the chat does."""
    store = DynamoCircuitStore(table, dynamodb_client(endpoint), read_copies=COPIES, copy=copy)
    return CircuitBreakers(store, cache_ttl_s=0)


def reaches_the_service(breakers: CircuitBreakers, service: str = "order_service") -> bool:
    reached = []
    breakers.call(service, lambda: reached.append(1), fallback=lambda info: info)
    return bool(reached)


def run(capsys, endpoint: str, table: str, *args: str) -> tuple[int, dict]:
    capsys.readouterr()  # the environments' own log lines and metrics are not the command's output
    code = circuit_cli.main(["--table", table, *args], dynamodb=dynamodb_client(endpoint))
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else {}


def test_an_override_reaches_every_copy_in_one_go_and_none_hands_the_circuit_back(moto_server, state_table, capsys):
    readers = [environment(moto_server.url, state_table, copy) for copy in range(COPIES)]
    assert all(reaches_the_service(env) for env in readers)

    code, out = run(
        capsys, moto_server.url, state_table, "--read-copies", str(COPIES), "override", "order_service", "forced_open"
    )
    assert code == 0
    assert out["circuits"]["order_service"]["override"] == "forced_open"
    assert out["circuits"]["order_service"]["copies_agree"] is True
    assert not any(reaches_the_service(env) for env in readers), "every copy's readers get the fallback"

    code, out = run(
        capsys, moto_server.url, state_table, "--read-copies", str(COPIES), "override", "order_service", "none"
    )
    assert code == 0
    assert all(reaches_the_service(env) for env in readers)


def test_show_finds_a_copy_left_behind_by_a_hand_written_update(moto_server, state_table, capsys):
    run(capsys, moto_server.url, state_table, "--read-copies", str(COPIES), "override", "llm", "forced_closed")
    # What the runbook used to say: one update-item on the circuits item. The copies keep the old override.
    dynamodb_client(moto_server.url).update_item(
        TableName=state_table,
        Key={"pk": {"S": "circuits"}, "sk": {"S": "llm"}},
        UpdateExpression="SET #o = :o",
        ExpressionAttributeNames={"#o": "override"},
        ExpressionAttributeValues={":o": {"S": "forced_open"}},
    )
    code, out = run(capsys, moto_server.url, state_table, "--read-copies", str(COPIES), "show")
    assert code == 0
    assert out["circuits"]["llm"]["override"] == "forced_open"
    assert out["circuits"]["llm"]["copies_agree"] is False


def test_the_number_of_copies_comes_from_the_stack_else_from_the_table(moto_server, state_table, capsys):
    cloudformation = boto3.client("cloudformation", endpoint_url=moto_server.url, region_name="ap-northeast-1")
    template = {
        "Parameters": {"CircuitReadCopies": {"Type": "Number", "Default": 1}},
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
    }
    cloudformation.create_stack(
        StackName="ma-copies",
        TemplateBody=json.dumps(template),
        Parameters=[{"ParameterKey": "CircuitReadCopies", "ParameterValue": str(COPIES)}],
    )
    args = ["--stack", "ma-copies", "--table", state_table, "override", "catalog", "forced_open"]
    client = dynamodb_client(moto_server.url)
    capsys.readouterr()
    assert circuit_cli.main(args, dynamodb=client, cloudformation=cloudformation) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["read_copies"], out["read_copies_from"]) == (COPIES, "stack ma-copies parameter CircuitReadCopies")
    assert not reaches_the_service(environment(moto_server.url, state_table, COPIES - 1), "catalog")

    # No readable stack: the copies already in the table say how many there are.
    args = ["--stack", "no-such-stack", "--table", state_table, "show"]
    capsys.readouterr()
    assert circuit_cli.main(args, dynamodb=client, cloudformation=cloudformation) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["read_copies"], out["read_copies_from"]) == (COPIES, "copies found in the table")
    assert out["circuits"]["catalog"]["copies_agree"] is True


@pytest.mark.parametrize(
    ("service", "mode", "problem"),
    [("orders", "forced_open", "service: 'orders'"), ("order_service", "open", "mode: 'open'")],
)
def test_an_unknown_service_or_mode_exits_2_and_writes_nothing(
    moto_server, state_table, capsys, service, mode, problem
):
    code = circuit_cli.main(
        ["--table", state_table, "--read-copies", "1", "override", service, mode],
        dynamodb=dynamodb_client(moto_server.url),
    )
    assert code == circuit_cli.EXIT_BAD_INPUT
    assert problem in capsys.readouterr().err
    items = dynamodb_client(moto_server.url).scan(TableName=state_table)["Items"]
    assert items == []


def test_on_call_runs_it_from_the_command_line(moto_server, state_table):
    env = {**os.environ, **moto_server.env(), "STATE_TABLE": state_table}
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "circuit.py"), "--read-copies", "1", "override", "bedrock", "disabled"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["circuits"]["llm"]["override"] == "disabled"
