"""Property test: two environments sharing a store behave exactly like one small reference breaker."""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mangaassist.breaker import (
    CircuitBreakers,
    DependencyClientError,
    DependencyError,
    ServiceUnavailableError,
)
from mangaassist.breaker.fleet import BUCKETS_PER_WINDOW
from mangaassist.registry import REGISTRY, BreakerSettings
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry


@dataclass
class ReferenceBreaker:
    """The specification, written as plainly as possible: one circuit, one process, no store."""

    settings: BreakerSettings
    state: str = "CLOSED"
    failures: list[float] = field(default_factory=list)
    open_until: float = 0.0
    reopens: int = 0

    def _bucket(self, t: float) -> int:
        size = max(1, self.settings.window_seconds // BUCKETS_PER_WINDOW)
        return int(t // size) * size

    def _in_window(self, now: float) -> int:
        size = max(1, self.settings.window_seconds // BUCKETS_PER_WINDOW)
        oldest = self._bucket(now) - self.settings.window_seconds + size
        return sum(1 for t in self.failures if self._bucket(t) >= oldest)

    def call(self, now: float, outcome: str) -> tuple[bool, str]:
        """Returns (reached the dependency, what the caller got: ok | client_error | fallback)."""
        if self.state == "OPEN":
            if now < self.open_until:
                return False, "fallback"
            # The single probe.
            if outcome == "fail":
                self.reopens += 1
                period = min(self.settings.open_seconds * 2 ** (self.reopens - 1), self.settings.max_open_seconds)
                self.open_until = now + period
                return True, "fallback"
            self.state, self.failures, self.reopens = "CLOSED", [], 0
            return True, "ok" if outcome == "ok" else "client_error"
        if outcome == "fail":
            self.failures.append(now)
            if self._in_window(now) >= self.settings.failure_threshold:
                self.state, self.failures = "OPEN", []
                self.open_until = now + self.settings.open_seconds
                self.reopens = 0
            return True, "fallback"
        return True, "ok" if outcome == "ok" else "client_error"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


steps = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.2, 1.0, 4.0, 9.5, 15.0, 31.0, 61.0, 125.0]),  # time passing before the call
        st.integers(min_value=0, max_value=1),  # which environment makes the call
        st.sampled_from(["ok", "fail", "fail", "client"]),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=st.sampled_from(["order_service", "promotions", "llm"]), script=steps)
def test_fleet_matches_reference(service, script):
    store = InMemoryCircuitStore()
    clock = Clock()
    # cache_ttl_s=0: every call sees the store's latest state, so the fleet must act as one breaker.
    fleet = [
        CircuitBreakers(store, clock=clock, cache_ttl_s=0, telemetry=RecordingTelemetry(), owner_id=f"env-{i}")
        for i in range(2)
    ]
    reference = ReferenceBreaker(REGISTRY[service].breaker)

    for dt, env, outcome in script:
        clock.now += dt
        reached = []

        def dependency(outcome=outcome, reached=reached):
            reached.append(True)
            if outcome == "fail":
                raise DependencyError(service, "503")
            if outcome == "client":
                raise DependencyClientError(service, 404)
            return "ok"

        try:
            got = fleet[env].call(service, dependency)
        except ServiceUnavailableError:
            got = "fallback"
        except DependencyClientError:
            got = "client_error"

        expected_reached, expected = reference.call(clock.now, outcome)
        assert (bool(reached), got) == (expected_reached, expected)
        stored = store.load_all().get(service)
        # Calls are synchronous here, so a half-open lease never outlives the call that took it.
        assert (stored.state.value if stored else "CLOSED") == reference.state
