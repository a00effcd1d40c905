"""A slow failure re-reads the circuit before counting: an open circuit costs the store a read, not a write."""

from __future__ import annotations

import pytest

from mangaassist.breaker import CircuitBreakers, CircuitState, DependencyTimeoutError, ServiceUnavailableError
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry
from tests.unit.test_breaker_state_machine import Clock, open_fleet


class RequestLog(InMemoryCircuitStore):
    def __init__(self) -> None:
        super().__init__()
        self.log: list[str] = []

    def load_all(self):
        self.log.append("query")
        return super().load_all()

    def add_failure(self, *args, **kwargs):
        self.log.append("add_failure")
        return super().add_failure(*args, **kwargs)

    def compare_and_set(self, *args, **kwargs):
        self.log.append("compare_and_set")
        return super().compare_and_set(*args, **kwargs)


def environments(store, clock, n=2):
    return [CircuitBreakers(store, clock=clock, telemetry=RecordingTelemetry(), owner_id=f"env-{i}") for i in range(n)]


def hangs(clock, seconds):
    def call():
        clock.advance(seconds)
        raise DependencyTimeoutError("order_service")

    return call


def test_a_timeout_that_ends_after_another_environment_opened_the_circuit_writes_nothing():
    store, clock = RequestLog(), Clock()
    slow_env, fast_env, other_env = environments(store, clock, 3)
    slow_env.snapshot()  # read before its call, as every call's refresh does

    def hang_while_the_fleet_opens():
        open_fleet(fast_env, other_env, "order_service")
        clock.advance(1.0)
        raise DependencyTimeoutError("order_service")

    store.log.clear()
    with pytest.raises(ServiceUnavailableError):
        slow_env.call("order_service", hang_while_the_fleet_opens)
    slow_log = store.log[-1:]
    assert slow_log == ["query"]
    assert slow_env.record("order_service").state is CircuitState.OPEN


def test_a_timeout_on_a_closed_circuit_is_still_counted_after_the_re_read():
    store, clock = RequestLog(), Clock()
    env, _ = environments(store, clock)
    env.snapshot()
    store.log.clear()
    with pytest.raises(ServiceUnavailableError):
        env.call("order_service", hangs(clock, 1.0))
    assert store.log == ["query", "add_failure"]
    assert sum(store.load_all()["order_service"].failure_buckets.values()) == 1


def test_a_fast_failure_on_a_fresh_snapshot_writes_without_re_reading():
    store, clock = RequestLog(), Clock()
    env, _ = environments(store, clock)
    env.snapshot()
    store.log.clear()
    with pytest.raises(ServiceUnavailableError):
        env.call("order_service", hangs(clock, 0.01))
    assert store.log == ["add_failure"]


def test_a_probe_due_on_a_snapshot_older_than_the_recheck_age_is_read_again_before_racing_for_the_lease():
    store, clock = RequestLog(), Clock()
    first, second, late = environments(store, clock, 3)
    open_fleet(first, second, "order_service")
    clock.now = store.load_all()["order_service"].open_until - 0.5
    late.snapshot()  # within its cache TTL when the open period ends, and older than the recheck age
    clock.now += 0.5
    seen = []

    def probe():
        clock.now += 0.1
        store.log.clear()
        seen.append(late.call("order_service", lambda: "not the probe", fallback=lambda info: "fallback"))
        seen.append(list(store.log))
        return "healed"

    assert first.call("order_service", probe) == "healed"
    # The lease is taken: half a read unit says so, instead of a losing conditional write.
    assert seen == ["fallback", ["query"]]


def test_a_probe_due_on_a_fresh_snapshot_races_for_the_lease_without_a_read():
    store, clock = RequestLog(), Clock()
    first, second, late = environments(store, clock, 3)
    open_fleet(first, second, "order_service")
    clock.now = store.load_all()["order_service"].open_until
    late.snapshot()
    store.log.clear()
    clock.now += 0.1
    assert late.call("order_service", lambda: "ok") == "ok"
    assert store.log == ["compare_and_set", "compare_and_set"]  # the lease, then the close
