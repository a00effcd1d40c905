"""One sick environment (a broken connection pool) opens its own circuit, not the fleet's."""

from __future__ import annotations

from mangaassist.breaker import CircuitBreakers, CircuitState
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry
from tests.unit.test_breaker_state_machine import Clock, boom, fail_n, ok

SERVICE = "promotions"  # open 30 s in a 60 s window: a failure left behind outlives the open period
SETTINGS = REGISTRY[SERVICE].breaker


def fleet(n: int = 3):
    store, clock = InMemoryCircuitStore(), Clock()
    envs = [
        CircuitBreakers(store, clock=clock, cache_ttl_s=0, telemetry=RecordingTelemetry(), owner_id=f"env-{i}")
        for i in range(n)
    ]
    return store, clock, envs


def stored_failures(store: InMemoryCircuitStore) -> int:
    return sum(store.load_all()[SERVICE].failure_buckets.values())


def test_the_sick_environment_stops_calling_and_leaves_one_failure_as_evidence():
    store, _, (sick, healthy, _) = fleet()
    fail_n(sick, SERVICE, SETTINGS.failure_threshold)
    assert sick.record(SERVICE).state is CircuitState.OPEN
    assert store.load_all()[SERVICE].state is CircuitState.CLOSED
    assert stored_failures(store) == 1
    called = []
    assert sick.call(SERVICE, lambda: called.append(1), fallback=lambda info: "fallback") == "fallback"
    assert called == []
    assert healthy.call(SERVICE, ok) == "ok"
    assert sick.telemetry.transitions[-1].reason == "timeout_threshold_this_environment"


def test_one_transient_failure_elsewhere_does_not_finish_the_job():
    store, _, (sick, healthy, _) = fleet()
    fail_n(sick, SERVICE, SETTINGS.failure_threshold)
    fail_n(healthy, SERVICE, 1)
    assert store.load_all()[SERVICE].state is CircuitState.CLOSED
    assert healthy.record(SERVICE).state is CircuitState.CLOSED


def test_a_second_environment_failing_too_opens_the_fleet_with_the_evidence_left_behind():
    store, _, (first, second, third) = fleet()
    fail_n(first, SERVICE, SETTINGS.failure_threshold)
    fail_n(second, SERVICE, SETTINGS.failure_threshold - 1)
    assert store.load_all()[SERVICE].state is CircuitState.OPEN
    # The fleet's circuit replaces the first environment's own: one probe for everyone from now on.
    assert {env.record(SERVICE).reason for env in (first, second, third)} == {"timeout_threshold"}


def test_after_its_probe_the_environment_counts_afresh_as_one_breaker_would():
    store, clock, (sick, _, _) = fleet()
    fail_n(sick, SERVICE, SETTINGS.failure_threshold)
    clock.advance(SETTINGS.open_seconds + 1)
    assert sick.call(SERVICE, ok) == "ok"  # its own probe closes its own circuit
    assert sick.record(SERVICE).state is CircuitState.CLOSED
    fail_n(sick, SERVICE, SETTINGS.failure_threshold - 1)
    # The failure it left behind is still in the window, but it is the fleet's evidence, not a fresh one.
    assert sick.record(SERVICE).state is CircuitState.CLOSED
    fail_n(sick, SERVICE, 1)
    assert sick.record(SERVICE).state is CircuitState.OPEN
    assert store.load_all()[SERVICE].state is CircuitState.CLOSED


def test_a_failed_own_probe_reopens_with_the_backoff_and_writes_nothing():
    store, clock, (sick, _, _) = fleet()
    fail_n(sick, SERVICE, SETTINGS.failure_threshold)
    before = store.load_all()[SERVICE]
    open_for = []
    for _ in range(2):
        clock.now = sick.record(SERVICE).open_until + 0.1
        fail_n(sick, SERVICE, 1)
        rec = sick.record(SERVICE)
        assert rec.state is CircuitState.OPEN
        open_for.append(rec.open_until - rec.opened_at)
    assert open_for == [SETTINGS.open_seconds, SETTINGS.open_seconds * 2]
    assert store.load_all()[SERVICE] == before
    assert sick.call(SERVICE, boom, fallback=lambda info: "fallback") == "fallback"


def test_an_environments_own_circuit_is_logged_but_never_reported_as_open_fleet_wide():
    _, clock, (sick, _, _) = fleet()
    fail_n(sick, SERVICE, SETTINGS.failure_threshold)
    clock.advance(SETTINGS.open_seconds + 1)
    assert sick.call(SERVICE, ok) == "ok"
    assert [(t.to_state, t.scope) for t in sick.telemetry.transitions] == [
        (CircuitState.OPEN, "environment"),
        (CircuitState.CLOSED, "environment"),
    ]
    # The CircuitOpen alarms say "open fleet-wide": they must not page for one broken environment.
    assert sick.telemetry.count("CircuitOpen") == 0
    assert sick.telemetry.count("CircuitTransition") == 2
