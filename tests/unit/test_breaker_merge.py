"""Failures an environment counted alone while the store was unreachable join the shared count, once, when
the store answers again."""

from __future__ import annotations

from mangaassist.breaker import CircuitState, StateStoreError
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore
from tests.unit.test_breaker_state_machine import Clock, fail_n, make

SERVICE = "order_service"  # threshold 3
RETRY_S = 5.0


def counted(store: InMemoryCircuitStore) -> int:
    rec = store.load_all().get(SERVICE)
    return sum(rec.failure_buckets.values()) if rec else 0


def fleet(store=None):
    store, clock = store or InMemoryCircuitStore(), Clock()
    a, _, _, _ = make(store, clock, owner_id="a", store_retry_after_s=RETRY_S)
    b, _, _, _ = make(store, clock, owner_id="b", store_retry_after_s=RETRY_S)
    return store, clock, a, b


def fail_while_unreachable(store: InMemoryCircuitStore, breakers, n: int, service: str = SERVICE) -> None:
    """``n`` failures counted by ``breakers`` alone while the store cannot be reached; then the store is back."""
    store.fail_with = StateStoreError("connect timeout")
    fail_n(breakers, service, n)
    store.fail_with = None


def test_counts_kept_while_the_store_was_down_are_added_when_it_answers_and_open_the_fleet_with_a_second_failure():
    store, clock, a, b = fleet()
    store.fail_with = StateStoreError("connect timeout")
    fail_n(a, SERVICE, REGISTRY[SERVICE].breaker.failure_threshold - 1)
    assert a.state_store_degraded
    store.fail_with = None
    clock.advance(RETRY_S + 0.1)
    a.snapshot()
    assert counted(store) == 2
    fail_n(b, SERVICE, 1)
    assert store.load_all()[SERVICE].state is CircuitState.OPEN


def test_merged_counts_are_added_once():
    store, clock, a, _ = fleet()
    fail_while_unreachable(store, a, 2)
    for _ in range(3):
        clock.advance(RETRY_S + 0.1)
        a.snapshot()
    assert counted(store) == 2


class AnswerLost(InMemoryCircuitStore):
    """Applies the next count write, then the answer never arrives (the client's read timeout)."""

    lose_next = False

    def merge_failures(self, *args, **kwargs):
        rec = super().merge_failures(*args, **kwargs)
        if self.lose_next:
            self.lose_next = False
            raise StateStoreError("Read timeout on endpoint URL", may_have_landed=True)
        return rec


def test_a_count_whose_write_may_have_landed_is_not_merged_again():
    store, clock, a, _ = fleet(AnswerLost())
    a.snapshot()
    store.lose_next = True
    fail_n(a, SERVICE, 1)  # landed, but a was not told: it counts it locally, and must not add it again
    clock.advance(RETRY_S + 0.1)
    a.snapshot()
    assert counted(store) == 1


def test_failures_out_of_the_window_when_the_store_returns_are_not_merged():
    store, clock, a, _ = fleet()
    fail_while_unreachable(store, a, 2)
    clock.advance(REGISTRY[SERVICE].breaker.window_seconds + 1)
    a.snapshot()
    assert counted(store) == 0


def test_a_throttled_merge_is_kept_for_the_next_answer():
    store, clock, a, _ = fleet()
    fail_while_unreachable(store, a, 2)
    clock.advance(RETRY_S + 0.1)
    calls = {"n": 0}
    real = store.merge_failures

    def throttled_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise StateStoreError("ProvisionedThroughputExceededException")
        return real(*args, **kwargs)

    store.merge_failures = throttled_once
    a.snapshot()
    assert counted(store) == 0
    clock.advance(RETRY_S + 0.1)
    a.snapshot()
    assert counted(store) == 2


def test_a_failed_merge_keeps_every_circuits_counts_for_the_next_answer():
    store, clock, a, _ = fleet()
    store.fail_with = StateStoreError("connect timeout")
    fail_n(a, SERVICE, 2)
    fail_n(a, "catalog", 2)
    store.fail_with = None
    clock.advance(RETRY_S + 0.1)
    real = store.merge_failures
    store.merge_failures = lambda *args, **kwargs: (_ for _ in ()).throw(StateStoreError("throttled"))
    a.snapshot()
    store.merge_failures = real
    clock.advance(RETRY_S + 0.1)
    a.snapshot()
    assert counted(store) == 2
    assert sum(store.load_all()["catalog"].failure_buckets.values()) == 2
