"""Property tests: environments sharing a store against small reference breakers written as plainly as possible.

The guarantee they state: an environment whose failures are every failure in the window opens, for itself,
exactly when one breaker would; the fleet's circuit opens only once a second environment failed too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyClientError,
    DependencyError,
    ServiceUnavailableError,
)
from mangaassist.breaker.fleet import BUCKETS_PER_WINDOW
from mangaassist.registry import REGISTRY, BreakerSettings
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry


def _bucket(settings: BreakerSettings, t: float) -> int:
    size = max(1, settings.window_seconds // BUCKETS_PER_WINDOW)
    return int(t // size) * size


def _in_window(settings: BreakerSettings, t: float, now: float) -> bool:
    size = max(1, settings.window_seconds // BUCKETS_PER_WINDOW)
    return _bucket(settings, t) >= _bucket(settings, now) - settings.window_seconds + size


def _backoff(settings: BreakerSettings, reopens: int) -> float:
    return min(settings.open_seconds * 2 ** (reopens - 1), settings.max_open_seconds)


def _answer(outcome: str) -> str:
    return "ok" if outcome == "ok" else "client_error"


@dataclass
class ReferenceBreaker:
    """One circuit, one process, no store."""

    settings: BreakerSettings
    state: str = "CLOSED"
    failures: list[float] = field(default_factory=list)
    open_until: float = 0.0
    reopens: int = 0

    def call(self, now: float, outcome: str) -> tuple[bool, str]:
        """Returns (reached the dependency, what the caller got: ok | client_error | fallback)."""
        if self.state == "OPEN":
            if now < self.open_until:
                return False, "fallback"
            # The single probe.
            if outcome == "fail":
                self.reopens += 1
                self.open_until = now + _backoff(self.settings, self.reopens)
                return True, "fallback"
            self.state, self.failures, self.reopens = "CLOSED", [], 0
            return True, _answer(outcome)
        if outcome == "fail":
            self.failures.append(now)
            if sum(_in_window(self.settings, t, now) for t in self.failures) >= self.settings.failure_threshold:
                self.state, self.failures = "OPEN", []
                self.open_until = now + self.settings.open_seconds
                self.reopens = 0
            return True, "fallback"
        return True, _answer(outcome)


@dataclass
class Failure:
    at: float
    env: int
    left_behind: bool = False  # the one an environment leaves in the count when it opens for itself


@dataclass
class ReferenceFleet:
    """Environments sharing one circuit: the fleet's, plus one per environment that failed alone."""

    settings: BreakerSettings
    state: str = "CLOSED"
    failures: list[Failure] = field(default_factory=list)
    open_until: float = 0.0
    reopens: int = 0
    own: dict[int, ReferenceBreaker] = field(default_factory=dict)  # environments open for themselves

    def call(self, env: int, now: float, outcome: str) -> tuple[bool, str]:
        if self.state == "OPEN":
            if now < self.open_until:
                return False, "fallback"
            if outcome == "fail":
                self.reopens += 1
                self.open_until = now + _backoff(self.settings, self.reopens)
                return True, "fallback"
            self.state, self.failures, self.reopens = "CLOSED", [], 0
            return True, _answer(outcome)
        if env in self.own:
            # Open for this environment alone: its own breaker's open period and single probe.
            reached, got = self.own[env].call(now, outcome)
            if self.own[env].state == "CLOSED":
                del self.own[env]
            return reached, got
        if outcome != "fail":
            return True, _answer(outcome)
        self.failures.append(Failure(now, env))
        window = [f for f in self.failures if _in_window(self.settings, f.at, now)]
        mine = [f for f in window if f.env == env]
        fresh = [f for f in mine if not f.left_behind]
        threshold = self.settings.failure_threshold
        if len(mine) < len(window) and len(window) >= threshold:
            self.state, self.failures, self.reopens, self.own = "OPEN", [], 0, {}
            self.open_until = now + self.settings.open_seconds
        elif len(mine) == len(window) and len(fresh) >= threshold:
            self.failures = [f for f in self.failures if f not in mine] + [Failure(now, env, left_behind=True)]
            self.own[env] = ReferenceBreaker(self.settings, "OPEN", open_until=now + self.settings.open_seconds)
        return True, "fallback"


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


def _fleet(store: InMemoryCircuitStore, clock: Clock, n: int = 2) -> list[CircuitBreakers]:
    # cache_ttl_s=0: every call sees the store's latest state, so the fleet must act exactly as the reference.
    return [
        CircuitBreakers(store, clock=clock, cache_ttl_s=0, telemetry=RecordingTelemetry(), owner_id=f"env-{i}")
        for i in range(n)
    ]


def _call(breakers: CircuitBreakers, service: str, outcome: str) -> tuple[bool, str]:
    reached = []

    def dependency():
        reached.append(True)
        if outcome == "fail":
            raise DependencyError(service, "503")
        if outcome == "client":
            raise DependencyClientError(service, 404)
        return "ok"

    try:
        got = breakers.call(service, dependency)
    except ServiceUnavailableError:
        got = "fallback"
    except DependencyClientError:
        got = "client_error"
    return bool(reached), got


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=st.sampled_from(["order_service", "promotions", "llm"]), script=steps)
def test_fleet_matches_reference(service, script):
    store, clock = InMemoryCircuitStore(), Clock()
    fleet = _fleet(store, clock)
    reference = ReferenceFleet(REGISTRY[service].breaker)

    for dt, env, outcome in script:
        clock.now += dt
        assert _call(fleet[env], service, outcome) == reference.call(env, clock.now, outcome)
        stored = store.load_all().get(service)
        # Calls are synchronous here, so a half-open lease never outlives the call that took it.
        assert (stored.state.value if stored else "CLOSED") == reference.state
        for i, breakers in enumerate(fleet):
            own = i in reference.own and reference.own[i].state == "OPEN"
            assert (breakers.record(service).state is not CircuitState.CLOSED) == (reference.state == "OPEN" or own)


lone_steps = st.lists(
    st.tuples(
        st.sampled_from([0.0, 0.2, 1.0, 4.0, 9.5, 15.0, 31.0, 61.0, 125.0]),
        st.sampled_from(["ok", "fail", "fail", "client"]),  # the reporting environment's call
        st.sampled_from(["ok", "client"]),  # then the other environment's, which never fails
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(service=st.sampled_from(["order_service", "promotions", "llm"]), script=lone_steps)
def test_a_lone_reporter_opens_for_itself_as_one_breaker_and_never_for_the_fleet(service, script):
    store, clock = InMemoryCircuitStore(), Clock()
    reporter, other = _fleet(store, clock)
    one_breaker = ReferenceBreaker(REGISTRY[service].breaker)

    for dt, outcome, others_outcome in script:
        clock.now += dt
        assert _call(reporter, service, outcome) == one_breaker.call(clock.now, outcome)
        assert _call(other, service, others_outcome) == (True, _answer(others_outcome))
        stored = store.load_all().get(service)
        assert stored is None or stored.state is CircuitState.CLOSED
