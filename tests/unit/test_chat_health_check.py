"""GET /health's checks: the state store's 250 ms bound measures the store, not this environment's start-up."""

from __future__ import annotations

import time

from mangaassist.chat.health_check import STATE_STORE_MAX_LATENCY_MS, run_checks

OVER_BOUND_S = (STATE_STORE_MAX_LATENCY_MS + 60) / 1000


def slow_client_builder() -> object:
    time.sleep(OVER_BOUND_S)  # a cold environment importing botocore on a busy host
    return object()


def test_building_the_client_is_not_timed_as_the_store() -> None:
    calls = []
    healthy, checks = run_checks(lambda: calls.append("get_item"), lambda: True, state_store_client=slow_client_builder)
    assert healthy
    assert checks["state_store"]["status"] == "ok"
    assert checks["state_store"]["latency_ms"] < STATE_STORE_MAX_LATENCY_MS
    assert calls == ["get_item"]


def test_the_same_work_inside_the_probe_fails_the_bound() -> None:
    def cold_probe() -> None:
        slow_client_builder()

    healthy, checks = run_checks(cold_probe, lambda: True)
    assert not healthy
    assert checks["state_store"]["status"] == "fail"
    assert checks["state_store"]["latency_ms"] >= STATE_STORE_MAX_LATENCY_MS


def test_a_slow_store_still_fails_after_a_warm_client() -> None:
    def slow_store() -> None:
        time.sleep(OVER_BOUND_S)

    healthy, checks = run_checks(slow_store, lambda: True, state_store_client=object)
    assert not healthy
    assert checks["state_store"] == {"status": "fail", "latency_ms": checks["state_store"]["latency_ms"]}
    assert checks["state_store"]["latency_ms"] > STATE_STORE_MAX_LATENCY_MS


def test_a_client_that_cannot_be_built_fails_the_check_without_probing() -> None:
    probed = []

    def broken_builder() -> None:
        raise ValueError("Invalid endpoint: http://10.0.0.1:8000")

    healthy, checks = run_checks(lambda: probed.append(1), lambda: True, state_store_client=broken_builder)
    assert not healthy
    assert checks["state_store"]["status"] == "fail"
    assert probed == []
    assert checks["faq_store"]["status"] == "ok"
