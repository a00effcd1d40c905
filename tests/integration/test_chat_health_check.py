"""GET /health against moto server: a cold environment's first check measures DynamoDB, not the client's build."""

from __future__ import annotations

import time

import pytest

from mangaassist import aws_clients
from mangaassist.chat.health_check import STATE_STORE_MAX_LATENCY_MS
from mangaassist.chat.runtime import ChatRuntime

pytestmark = pytest.mark.integration


def test_first_health_check_of_a_cold_environment_passes(state_table, monkeypatch) -> None:
    real_client = aws_clients.client
    built: list[str] = []

    def cold_client(service_name: str, hot_path: bool = True):
        # What a busy host's first botocore import and service-model load can cost, deterministically.
        time.sleep((STATE_STORE_MAX_LATENCY_MS + 60) / 1000)
        built.append(service_name)
        return real_client(service_name, hot_path)

    monkeypatch.setattr(aws_clients, "client", cold_client)
    runtime = ChatRuntime()
    assert built == []  # nothing is built before the first request needs it

    _, checks = runtime.health()
    assert built == ["dynamodb"]
    assert checks["state_store"]["status"] == "ok", checks
    assert checks["state_store"]["latency_ms"] < STATE_STORE_MAX_LATENCY_MS

    _, again = runtime.health()
    assert built == ["dynamodb"]  # one client per environment
    assert again["state_store"]["status"] == "ok"


def test_a_missing_table_still_fails_the_first_check(state_table, monkeypatch) -> None:
    monkeypatch.setenv("STATE_TABLE", "no-such-table")
    healthy, checks = ChatRuntime().health()
    assert not healthy
    assert checks["state_store"]["status"] == "fail"
