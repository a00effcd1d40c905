"""The per-client Bedrock budget against moto in server mode: the conditional write, the TTL attribute, the key."""

from __future__ import annotations

import socket
import threading
import uuid

import boto3
import pytest

from local.template_resources import dynamodb_ttl_attribute
from mangaassist.chat.client_budget import BudgetStoreError, ClientBudget, client_hash
from mangaassist.chat.client_budget_store import LLM_BUDGET_PK_PREFIX, DynamoBudgetStore, SecretKey
from mangaassist.client_limits import LLM_BUDGET
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

KEY = b"integration-hmac-key"
GUEST_IP = "203.0.113.77"
WINDOW_START = 1_790_000_400


def items(endpoint: str, table: str) -> list[dict]:
    scanned = dynamodb_client(endpoint).scan(TableName=table)["Items"]
    return [item for item in scanned if item["pk"]["S"].startswith(LLM_BUDGET_PK_PREFIX)]


def test_the_conditional_write_counts_to_the_limit_and_refuses_the_next(moto_server, state_table):
    store = DynamoBudgetStore(state_table, dynamodb_client(moto_server.url))
    hashed = client_hash(KEY, None, GUEST_IP) or ""
    expires_at = WINDOW_START + 2 * LLM_BUDGET.window_s
    spent = [store.spend(hashed, WINDOW_START, LLM_BUDGET.calls, expires_at) for _ in range(LLM_BUDGET.calls + 2)]
    assert spent == [True] * 30 + [False] * 2
    assert store.spend(hashed, WINDOW_START + LLM_BUDGET.window_s, LLM_BUDGET.calls, expires_at + 600) is True

    [counter, _next_window] = sorted(items(moto_server.url, state_table), key=lambda item: item["sk"]["S"])
    assert counter["pk"]["S"] == LLM_BUDGET_PK_PREFIX + hashed
    assert counter["sk"]["S"] == str(WINDOW_START)
    assert counter["calls"]["N"] == "30", "refused writes leave the count alone"
    assert counter["expires_at"]["N"] == str(expires_at)
    assert dynamodb_ttl_attribute("StateTable") == "expires_at"
    ttl = dynamodb_client(moto_server.url).describe_time_to_live(TableName=state_table)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    assert GUEST_IP not in str(items(moto_server.url, state_table))


def test_concurrent_environments_never_spend_past_the_limit(moto_server, state_table):
    hashed = client_hash(KEY, "cust-0007", None) or ""
    results: list[bool] = []
    lock = threading.Lock()

    def environment() -> None:
        store = DynamoBudgetStore(state_table, dynamodb_client(moto_server.url))
        for _ in range(5):
            allowed = store.spend(hashed, WINDOW_START, LLM_BUDGET.calls, WINDOW_START + 1200)
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=environment) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(True) == 30
    assert results.count(False) == 10


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_an_unreachable_table_is_a_store_error_and_the_budget_lets_the_call_through(caplog):
    store = DynamoBudgetStore("state", dynamodb_client(closed_port(), connect_timeout=0.2, read_timeout=0.2))
    with pytest.raises(BudgetStoreError):
        store.spend("h", WINDOW_START, 30, WINDOW_START + 1200)
    assert ClientBudget(store, lambda: KEY).spend(None, GUEST_IP) is True
    assert [r.getMessage() for r in caplog.records] == ["llm_budget_not_enforced"]


def test_the_key_is_read_from_secrets_manager_once_and_a_missing_secret_leaves_the_budget_off(aws_env):
    sm = boto3.client("secretsmanager", endpoint_url=aws_env.url, region_name="ap-northeast-1")
    name = f"client-key-{uuid.uuid4().hex[:8]}"
    sm.create_secret(Name=name, SecretString="  generated-by-secrets-manager  ")
    calls: list[str] = []

    def client():
        calls.append("client")
        return sm

    key = SecretKey(name, client)
    assert key() == key() == b"generated-by-secrets-manager"
    assert calls == ["client"]

    now = [100.0]
    missing = SecretKey("no-such-secret", lambda: sm, clock=lambda: now[0])
    with pytest.raises(BudgetStoreError):
        missing()
    assert missing() is None, "no second read within the retry interval"
    now[0] += SecretKey.RETRY_AFTER_S
    with pytest.raises(BudgetStoreError):
        missing()
