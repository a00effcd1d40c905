"""Without the store, a circuit an environment opened on its own count probes on its own before closing."""

from __future__ import annotations

import pytest

from mangaassist.breaker import CircuitState, DependencyTimeoutError, ServiceUnavailableError, StateStoreError
from mangaassist.registry import REGISTRY
from tests.unit.test_breaker_state_machine import fail_n, make

OPEN_S = REGISTRY["order_service"].breaker.open_seconds


class Dependency:
    def __init__(self) -> None:
        self.down = True
        self.reached = 0

    def __call__(self) -> str:
        self.reached += 1
        if self.down:
            raise DependencyTimeoutError("order_service")
        return "ok"


def test_a_local_open_reopens_when_its_probe_fails_and_closes_only_on_success():
    breakers, store, clock, telemetry = make()
    store.fail_with = StateStoreError("throttled")
    fail_n(breakers, "order_service", 3)
    assert breakers.record("order_service").state is CircuitState.OPEN

    dependency = Dependency()
    clock.advance(OPEN_S)
    with pytest.raises(ServiceUnavailableError):
        breakers.call("order_service", dependency)  # the one local probe, and it fails
    with pytest.raises(ServiceUnavailableError):
        breakers.call("order_service", dependency)
    # The timer alone never sent traffic back: one probe reached the dependency, and the circuit reopened.
    assert dependency.reached == 1
    assert breakers.record("order_service").state is CircuitState.OPEN
    assert telemetry.transitions[-1].reason == "local_probe_failed_timeout"

    dependency.down = False
    clock.advance(2 * OPEN_S)  # the backoff doubles like a fleet-wide reopen
    assert breakers.call("order_service", dependency) == "ok"
    assert breakers.call("order_service", dependency) == "ok"
    assert dependency.reached == 3
    assert breakers.record("order_service").state is CircuitState.CLOSED
    assert telemetry.transitions[-1].reason == "local_probe_succeeded"


def test_the_store_coming_back_replaces_a_local_open_with_the_fleets_record():
    breakers, store, clock, _ = make()
    store.fail_with = StateStoreError("connection refused")
    fail_n(breakers, "order_service", 3)
    store.fail_with = None
    clock.advance(OPEN_S)
    dependency = Dependency()
    dependency.down = False
    # No local probe: the store answers, the fleet's circuit is closed, the call goes through as usual.
    assert breakers.call("order_service", dependency) == "ok"
    assert (
        store.load_all().get("order_service") is None or store.load_all()["order_service"].state is CircuitState.CLOSED
    )
