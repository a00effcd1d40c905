"""GET /health's checks: the state store's 250 ms bound measures the store, not this environment's start-up."""

from __future__ import annotations

import pytest

from mangaassist.chat.health_check import STATE_STORE_MAX_LATENCY_MS, run_checks
from tests.fakes import ManualClock

OVER_BOUND_S = (STATE_STORE_MAX_LATENCY_MS + 60) / 1000
OVER_BOUND_MS = STATE_STORE_MAX_LATENCY_MS + 60


def slow_client_builder(clock: ManualClock):
    def build() -> object:
        clock.advance(OVER_BOUND_S)  # a cold environment importing botocore on a busy host
        return object()

    return build


def test_building_the_client_is_not_timed_as_the_store() -> None:
    clock = ManualClock()
    calls = []
    healthy, checks = run_checks(
        lambda: calls.append("get_item"), lambda: True, state_store_client=slow_client_builder(clock), clock=clock
    )
    assert healthy
    assert checks["state_store"] == {"status": "ok", "latency_ms": 0.0}  # the build's 310 ms are not in it
    assert calls == ["get_item"]


def test_the_same_work_inside_the_probe_fails_the_bound() -> None:
    clock = ManualClock()
    healthy, checks = run_checks(slow_client_builder(clock), lambda: True, clock=clock)
    assert not healthy
    assert checks["state_store"] == {"status": "fail", "latency_ms": OVER_BOUND_MS}


@pytest.mark.parametrize(
    ("store_ms", "status"), [(STATE_STORE_MAX_LATENCY_MS, "ok"), (STATE_STORE_MAX_LATENCY_MS + 0.1, "fail")]
)
def test_a_store_just_within_the_bound_passes_and_just_over_it_fails(store_ms: float, status: str) -> None:
    clock = ManualClock()
    healthy, checks = run_checks(lambda: clock.advance(store_ms / 1000), lambda: True, clock=clock)
    assert healthy is (status == "ok")
    assert checks["state_store"] == {"status": status, "latency_ms": store_ms}


def test_a_slow_store_still_fails_after_a_warm_client() -> None:
    clock = ManualClock()
    healthy, checks = run_checks(
        lambda: clock.advance(OVER_BOUND_S), lambda: True, state_store_client=object, clock=clock
    )
    assert not healthy
    assert checks["state_store"] == {"status": "fail", "latency_ms": OVER_BOUND_MS}


def test_a_client_that_cannot_be_built_fails_the_check_without_probing() -> None:
    probed = []

    def broken_builder() -> None:
        raise ValueError("Invalid endpoint: http://10.0.0.1:8000")

    healthy, checks = run_checks(lambda: probed.append(1), lambda: True, state_store_client=broken_builder)
    assert not healthy
    assert checks["state_store"]["status"] == "fail"
    assert probed == []
    assert checks["faq_store"]["status"] == "ok"
