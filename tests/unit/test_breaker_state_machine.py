"""The breaker's state machine on the in-memory store: no network, a hand-driven clock."""

from __future__ import annotations

import pytest
import requests

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyClientError,
    DependencyTimeoutError,
    FailureKind,
    Override,
    ServiceUnavailableError,
    StateStoreError,
)
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(store=None, clock=None, **kwargs):
    store = store or InMemoryCircuitStore()
    clock = clock or Clock()
    telemetry = RecordingTelemetry()
    return CircuitBreakers(store, clock=clock, telemetry=telemetry, **kwargs), store, clock, telemetry


def boom():
    raise DependencyTimeoutError("order_service")


def ok():
    return "ok"


def fail_n(breakers, service, n):
    for _ in range(n):
        with pytest.raises(ServiceUnavailableError):
            breakers.call(service, boom)


def open_fleet(first, second, service):
    """The fleet's circuit opens on two environments' evidence: all but one failure from ``first``."""
    fail_n(first, service, REGISTRY[service].breaker.failure_threshold - 1)
    fail_n(second, service, 1)


def test_opens_after_registry_threshold_and_short_circuits_without_calling():
    breakers, _, _, telemetry = make()
    threshold = REGISTRY["order_service"].breaker.failure_threshold
    fail_n(breakers, "order_service", threshold - 1)
    assert breakers.record("order_service").state is CircuitState.CLOSED
    fail_n(breakers, "order_service", 1)
    assert breakers.record("order_service").state is CircuitState.OPEN

    calls = []
    with pytest.raises(ServiceUnavailableError) as err:
        breakers.call("order_service", lambda: calls.append(1))
    assert err.value.kind is FailureKind.CIRCUIT_OPEN
    assert err.value.degraded_reason == "order_service_unavailable"
    assert calls == []
    assert telemetry.count("OrderServiceTimeout") == threshold
    assert telemetry.count("ShortCircuitedCalls") == 1
    assert [t.to_state for t in telemetry.transitions] == [CircuitState.OPEN]


def test_fallback_receives_circuit_info_when_open_and_on_failure():
    breakers, _, _, _ = make()
    seen = []

    def fallback(info):
        seen.append(info.state)
        return "fallback"

    assert breakers.call("order_service", boom, fallback=fallback) == "fallback"
    fail_n(breakers, "order_service", 2)
    assert breakers.call("order_service", ok, fallback=fallback) == "fallback"
    assert seen == [CircuitState.CLOSED, CircuitState.OPEN]


def test_client_errors_are_reraised_and_not_counted():
    breakers, store, _, telemetry = make()

    def not_found():
        raise DependencyClientError("order_service", 404)

    for _ in range(10):
        with pytest.raises(DependencyClientError):
            breakers.call("order_service", not_found)
    assert breakers.record("order_service").state is CircuitState.CLOSED
    assert telemetry.count("OrderServiceError") == 0
    assert store.requests <= 10  # reads only: a 4xx never writes


@pytest.mark.parametrize(("status", "refused"), [(401, 1), (403, 1), (404, 0), (400, 0)])
def test_a_refused_signature_is_not_counted_but_has_a_metric_of_its_own(status: int, refused: int):
    breakers, _, _, telemetry = make()

    def answered():
        raise DependencyClientError("order_service", status)

    for _ in range(5):
        with pytest.raises(DependencyClientError):
            breakers.call("order_service", answered)
    assert breakers.record("order_service").state is CircuitState.CLOSED
    assert telemetry.count("OrderServiceError") == 0
    # DownstreamForbidden sums these: a role or resource policy that stops matching pages, though nothing opens.
    assert telemetry.count(REGISTRY["order_service"].forbidden_metric) == 5 * refused


def test_http_status_classification_via_requests():
    breakers, _, _, _ = make()

    def status(code):
        def call():
            response = requests.Response()
            response.status_code = code
            raise requests.HTTPError(response=response)

        return call

    with pytest.raises(requests.HTTPError):
        breakers.call("catalog", status(404))
    for code in (500, 503, 429, 502, 504):
        with pytest.raises(ServiceUnavailableError):
            breakers.call("catalog", status(code))
    assert breakers.record("catalog").state is CircuitState.OPEN


def test_slow_success_counts_as_failure_but_returns_result():
    breakers, _, clock, telemetry = make()

    def slow_ok():
        clock.advance(REGISTRY["order_service"].slow_call_ms / 1000 + 0.5)
        return "ok"

    for _ in range(3):
        assert breakers.call("order_service", slow_ok) == "ok"
    assert breakers.record("order_service").state is CircuitState.OPEN
    assert telemetry.count("OrderServiceTimeout") == 3


def test_failures_outside_the_rolling_window_do_not_add_up():
    breakers, _, clock, _ = make()
    window = REGISTRY["order_service"].breaker.window_seconds
    fail_n(breakers, "order_service", 2)
    clock.advance(window + 11)
    fail_n(breakers, "order_service", 2)
    assert breakers.record("order_service").state is CircuitState.CLOSED
    fail_n(breakers, "order_service", 1)
    assert breakers.record("order_service").state is CircuitState.OPEN


def test_healthy_calls_write_nothing_and_read_at_most_once_per_ttl():
    breakers, store, clock, _ = make(cache_ttl_s=1.0)
    for _ in range(100):
        breakers.call("catalog", ok)
        clock.advance(0.05)
    # 100 calls over 5 s: one Query per elapsed second at most, and no writes at all.
    assert store.requests <= 6


def test_half_open_admits_exactly_one_probe_and_closes_on_success():
    store = InMemoryCircuitStore()
    clock = Clock()
    a, _, _, _ = make(store, clock, owner_id="a")
    b, _, _, _ = make(store, clock, owner_id="b")
    open_fleet(b, a, "order_service")
    clock.advance(REGISTRY["order_service"].breaker.open_seconds + 0.1)

    probes = []

    def probe_that_checks_b():
        probes.append("a")
        # While a's probe is in flight, b must be short-circuited.
        assert b.call("order_service", ok, fallback=lambda info: "fallback") == "fallback"
        return "healed"

    assert a.call("order_service", probe_that_checks_b) == "healed"
    assert probes == ["a"]
    assert a.record("order_service").state is CircuitState.CLOSED
    clock.advance(1.1)
    assert b.record("order_service").state is CircuitState.CLOSED


def test_failed_probe_reopens_with_capped_backoff():
    breakers, _, clock, _ = make()
    spec = REGISTRY["order_service"].breaker
    fail_n(breakers, "order_service", 3)
    open_for = []
    for _ in range(6):
        rec = breakers.record("order_service")
        clock.now = rec.open_until + 0.1
        with pytest.raises(ServiceUnavailableError):
            breakers.call("order_service", boom)
        rec = breakers.record("order_service")
        assert rec.state is CircuitState.OPEN
        open_for.append(round(rec.open_until - rec.opened_at))
    assert open_for[0] == spec.open_seconds
    assert open_for[1] == spec.open_seconds * 2
    assert max(open_for) == spec.max_open_seconds


def test_probe_lease_of_a_vanished_owner_expires():
    store = InMemoryCircuitStore()
    clock = Clock()
    a, _, _, _ = make(store, clock, owner_id="a")
    b, _, _, _ = make(store, clock, owner_id="b")
    open_fleet(a, b, "catalog")
    clock.advance(31)

    def vanish():
        raise KeyboardInterrupt  # the environment dies mid-probe: no success, no failure recorded

    with pytest.raises(KeyboardInterrupt):
        a.call("catalog", vanish)
    assert b.call("catalog", ok, fallback=lambda info: "fallback") == "fallback"
    clock.advance(REGISTRY["catalog"].breaker.probe_lease_seconds + 1.1)
    assert b.call("catalog", ok) == "ok"
    assert b.record("catalog").state is CircuitState.CLOSED


def test_probe_successes_are_counted_in_the_store():
    from dataclasses import replace

    registry = dict(REGISTRY)
    registry["catalog"] = replace(REGISTRY["catalog"], breaker=replace(REGISTRY["catalog"].breaker, probe_successes=2))
    store = InMemoryCircuitStore()
    clock = Clock()
    a, _, _, _ = make(store, clock, owner_id="a", registry=registry)
    b, _, _, _ = make(store, clock, owner_id="b", registry=registry)
    open_fleet(a, b, "catalog")
    clock.advance(31)
    assert a.call("catalog", ok) == "ok"
    assert store.load_all()["catalog"].state is CircuitState.HALF_OPEN
    assert store.load_all()["catalog"].probe_successes == 1
    clock.advance(1.1)
    assert b.call("catalog", ok) == "ok"  # the second probe, from another environment
    assert store.load_all()["catalog"].state is CircuitState.CLOSED


def test_overrides_are_obeyed_fleet_wide():
    store = InMemoryCircuitStore()
    clock = Clock()
    a, _, _, _ = make(store, clock)
    b, _, _, _ = make(store, clock)
    b.record("promotions")  # b has a fresh snapshot from before the override
    a.set_override("promotions", Override.FORCED_OPEN)
    clock.advance(1.01)
    assert b.call("promotions", ok, fallback=lambda info: info.override.value) == "forced_open"
    assert b.capability_map()["promotions"] is False

    a.set_override("promotions", Override.FORCED_CLOSED)
    clock.advance(1.01)
    fail_n(b, "promotions", 20)
    assert b.record("promotions").state is CircuitState.CLOSED
    assert b.capability_map()["promotions"] is True

    a.set_override("promotions", Override.DISABLED)
    clock.advance(1.01)
    with pytest.raises(DependencyTimeoutError):
        b.call("promotions", boom)  # disabled: the breaker steps aside, the raw error reaches the caller


def test_store_outage_falls_back_to_snapshot_and_local_counting():
    breakers, store, clock, telemetry = make()
    assert breakers.call("order_service", ok) == "ok"
    store.fail_with = StateStoreError("connection refused")
    clock.advance(1.1)
    assert breakers.call("order_service", ok) == "ok"
    assert breakers.state_store_degraded
    fail_n(breakers, "order_service", 3)
    assert breakers.record("order_service").state is CircuitState.OPEN
    requests_during_outage = store.requests
    fail_n(breakers, "order_service", 5)  # short-circuited locally, no store hammering
    assert store.requests == requests_during_outage
    assert telemetry.transitions[-1].reason == "local_count_store_unreachable"

    store.fail_with = None
    clock.advance(6)
    assert breakers.call("catalog", ok) == "ok"
    assert not breakers.state_store_degraded
    # Its three failures joined the shared count; as the only environment failing it stays open for itself.
    assert breakers.record("order_service").state is CircuitState.OPEN
    assert store.load_all()["order_service"].state is CircuitState.CLOSED
    assert sum(store.load_all()["order_service"].failure_buckets.values()) == 1


def test_force_open_by_health_ping_and_probe_by_ping():
    breakers, _, clock, _ = make()
    assert breakers.force_open("analytics", reason="health_ping") is True
    assert breakers.force_open("analytics", reason="health_ping") is False  # already open: no flip-flop
    assert breakers.record("analytics").reason == "health_ping"
    assert breakers.probe("analytics", ok) is None  # not due yet
    clock.advance(REGISTRY["analytics"].breaker.open_seconds + 0.5)
    assert breakers.probe("analytics", ok) is True
    assert breakers.record("analytics").state is CircuitState.CLOSED


def test_capability_map_covers_every_registry_service():
    breakers, _, _, _ = make()
    fail_n(breakers, "llm", 3)
    caps = breakers.capability_map()
    assert set(caps) == set(REGISTRY)
    assert caps["llm"] is False
    assert all(v for k, v in caps.items() if k != "llm")


def test_unknown_exceptions_propagate_uncounted():
    breakers, _, _, _ = make()

    def bug():
        raise ValueError("parsing bug in our adapter")

    for _ in range(10):
        with pytest.raises(ValueError, match="parsing bug"):
            breakers.call("catalog", bug)
    assert breakers.record("catalog").state is CircuitState.CLOSED


def test_transition_hook_errors_never_break_the_call():
    def hook(transition):
        raise RuntimeError("hook broke")

    breakers, _, _, _ = make(on_transition=hook)
    fail_n(breakers, "order_service", 3)
    assert breakers.record("order_service").state is CircuitState.OPEN


def test_capability_map_offers_a_due_probe_and_one_caller_wins_it():
    store = InMemoryCircuitStore()
    clock = Clock()
    a, _, _, _ = make(store, clock, owner_id="a")
    b, _, _, _ = make(store, clock, owner_id="b")
    fail_n(a, "order_service", 3)
    assert a.capability_map()["order_service"] is False
    clock.advance(REGISTRY["order_service"].breaker.open_seconds + 0.1)
    # Both environments see the probe as due, so both orchestrators may try the full flow ...
    assert a.capability_map()["order_service"] is True
    assert b.capability_map()["order_service"] is True
    # ... but only the first caller reaches the dependency; the other gets its fallback.
    reached = []

    def dependency():
        reached.append(1)
        return "orders"

    assert a.call("order_service", dependency) == "orders"
    clock.advance(0.01)
    assert b.call("order_service", dependency, fallback=lambda info: "fallback") in ("orders", "fallback")
    assert len(reached) >= 1
    assert store.load_all()["order_service"].state is CircuitState.CLOSED


class StaleReadStore(InMemoryCircuitStore):
    """Serves load_all from a copy taken before the last write, like a Query racing a transition."""

    def __init__(self):
        super().__init__()
        self.stale: dict | None = None

    def load_all(self):
        fresh = super().load_all()
        return dict(self.stale) if self.stale is not None else fresh


def test_refresh_never_rolls_back_a_transition_this_environment_wrote():
    store = StaleReadStore()
    clock = Clock()
    # A short cache so the refresh inside the probe happens well before the probe would count as slow.
    breakers, _, _, _ = make(store, clock, owner_id="pinger", cache_ttl_s=0.1)
    breakers.force_open("catalog", reason="health_ping")
    store.stale = dict(store.load_all())  # every later Query is served from before the probe's lease
    clock.advance(REGISTRY["catalog"].breaker.open_seconds + 0.1)

    def ping_while_another_thread_refreshes():
        clock.advance(0.2)
        breakers.capability_map()  # a concurrent refresh returns the pre-lease OPEN record
        return "pong"

    assert breakers.probe("catalog", ping_while_another_thread_refreshes) is True
    assert store._items["catalog"].state is CircuitState.CLOSED
