"""The health pinger's flag, probe and banner logic with in-memory stores, fake probers and a fake clock."""

from __future__ import annotations

import threading
from concurrent.futures import wait
from dataclasses import dataclass, field, replace

import pytest

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitRecord,
    CircuitState,
    DependencyTimeoutError,
    FailureKind,
    Override,
)
from mangaassist.health import HealthStoreError, PingResult, ServiceHealth
from mangaassist.health.pinger import (
    BANNER_AFTER_S,
    BANNER_SERVICE,
    HEALTH_PING_REASON,
    HealthPinger,
    outage_since,
)
from mangaassist.health.status import ServiceStatus
from mangaassist.health.telemetry import PingTelemetry
from mangaassist.registry import REGISTRY, SERVICE_NAMES
from tests.fakes import InMemoryCircuitStore, InMemoryHealthStore, RecordingTelemetry

PERIOD_S = 60.0  # the schedule: one run a minute


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeService:
    """Stands in for one dependency's health endpoint: answers, fails or raises as told."""

    name: str
    healthy: bool = True
    latency_ms: float = 20.0
    status_code: int | None = 200
    raises: Exception | None = None
    calls: int = 0

    def __call__(self, timeout_s: float) -> PingResult:
        self.calls += 1
        if self.raises is not None:
            raise self.raises
        code = self.status_code if self.healthy else 503
        return PingResult(self.name, self.healthy, self.latency_ms, code, None if self.healthy else FailureKind.ERROR)


@dataclass
class RecordingPingTelemetry(PingTelemetry):
    published: list[tuple[str, bool, float | None, bool]] = field(default_factory=list)

    def publish(self, spec, result, circuit_open):
        self.published.append((spec.name, result.ok, result.latency_ms, circuit_open))


@dataclass
class Fleet:
    """One pinger, plus what it shares with the chat fleet: the circuit store and the health store."""

    clock: FakeClock
    circuit_store: InMemoryCircuitStore
    health_store: InMemoryHealthStore
    services: dict[str, FakeService]
    breaker_telemetry: RecordingTelemetry
    telemetry: RecordingPingTelemetry
    pinger: HealthPinger

    def circuit(self, name: str) -> CircuitRecord:
        return self.circuit_store.load_all().get(name) or CircuitRecord(service=name)

    def run_minutes(self, minutes: int):
        report = None
        for _ in range(minutes):
            report = self.pinger.run()
            self.clock.advance(PERIOD_S)
        return report


def make_pinger(clock, circuit_store, health_store, services, owner="pinger", **kwargs) -> HealthPinger:
    breakers = CircuitBreakers(
        circuit_store, clock=clock, cache_ttl_s=0, owner_id=owner, telemetry=kwargs.pop("breaker_telemetry", None)
    )
    return HealthPinger(store=health_store, breakers=breakers, probers=services, clock=clock, **kwargs)


@pytest.fixture
def fleet() -> Fleet:
    clock = FakeClock()
    circuit_store = InMemoryCircuitStore()
    health_store = InMemoryHealthStore(clock=clock)
    services = {name: FakeService(name) for name in SERVICE_NAMES}
    breaker_telemetry = RecordingTelemetry()
    telemetry = RecordingPingTelemetry()
    pinger = make_pinger(
        clock, circuit_store, health_store, services, breaker_telemetry=breaker_telemetry, telemetry=telemetry
    )
    return Fleet(clock, circuit_store, health_store, services, breaker_telemetry, telemetry, pinger)


def test_healthy_run_pings_every_service_once_and_changes_nothing(fleet):
    report = fleet.pinger.run()
    assert set(report.results) == set(SERVICE_NAMES)
    assert all(s.calls == 1 for s in fleet.services.values())
    assert all(h.status == ServiceStatus.OK for h in report.health.values())
    assert report.opened == []
    assert report.probes == {}
    assert report.banner == "unchanged"
    assert fleet.breaker_telemetry.transitions == []
    assert sorted(p[0] for p in fleet.telemetry.published) == sorted(SERVICE_NAMES)
    assert all(
        ok and latency == 20.0 and not circuit_open for _, ok, latency, circuit_open in fleet.telemetry.published
    )


def test_the_registry_count_of_failed_pings_opens_the_circuit_fleet_wide(fleet):
    needed = REGISTRY["order_service"].ping_failures_to_open
    fleet.services["order_service"].healthy = False
    before = fleet.run_minutes(needed - 1)
    assert fleet.circuit("order_service").state is CircuitState.CLOSED
    assert before.opened == []

    report = fleet.run_minutes(1)
    circuit = fleet.circuit("order_service")
    assert report.opened == ["order_service"]
    assert circuit.state is CircuitState.OPEN
    assert circuit.reason == HEALTH_PING_REASON
    assert report.health["order_service"].status == ServiceStatus.DOWN
    assert [t.service for t in fleet.breaker_telemetry.transitions] == ["order_service"]
    # A chat environment sharing the store now routes around order_service without failing first
    # (until the open period ends and a probe becomes due; run_minutes already moved the clock on).
    fleet.clock.now = circuit.opened_at + 1
    chat = CircuitBreakers(fleet.circuit_store, clock=fleet.clock, cache_ttl_s=0, owner_id="chat")
    assert chat.capability_map()["order_service"] is False
    assert chat.capability_map()["catalog"] is True
    assert ("order_service", False, 20.0, True) in fleet.telemetry.published


def test_recovery_closes_the_circuit_through_exactly_one_probe(fleet):
    spec = REGISTRY["order_service"]
    fleet.services["order_service"].healthy = False
    fleet.run_minutes(spec.ping_failures_to_open)
    opened_at = fleet.circuit("order_service").opened_at
    fleet.services["order_service"].healthy = True
    fleet.services["order_service"].calls = 0

    # Until the open period is over the ping is just a ping: the circuit waits for its probe.
    fleet.clock.now = opened_at + spec.breaker.open_seconds - 1
    early = fleet.pinger.run()
    assert early.probes == {}
    assert fleet.circuit("order_service").state is CircuitState.OPEN

    fleet.clock.now = opened_at + spec.breaker.open_seconds
    report = fleet.pinger.run()
    circuit = fleet.circuit("order_service")
    assert report.probes == {"order_service": True}
    assert circuit.state is CircuitState.CLOSED
    assert circuit.reason == "probe_succeeded"
    assert fleet.services["order_service"].calls == 2  # one early ping, one ping that was the probe
    states = [(t.from_state, t.to_state) for t in fleet.breaker_telemetry.transitions if t.service == "order_service"]
    assert states == [
        (CircuitState.CLOSED, CircuitState.OPEN),
        (CircuitState.OPEN, CircuitState.HALF_OPEN),
        (CircuitState.HALF_OPEN, CircuitState.CLOSED),
    ]


def test_a_failed_probing_ping_reopens_with_backoff(fleet):
    spec = REGISTRY["catalog"]
    fleet.services["catalog"].raises = DependencyTimeoutError("catalog", "read timed out")
    fleet.run_minutes(spec.ping_failures_to_open)
    opened = fleet.circuit("catalog")
    fleet.clock.now = opened.open_until
    report = fleet.pinger.run()
    reopened = fleet.circuit("catalog")
    assert report.probes == {"catalog": False}
    assert report.results["catalog"].failure is FailureKind.TIMEOUT
    assert reopened.state is CircuitState.OPEN
    assert reopened.reason == "probe_failed_timeout"
    assert reopened.reopen_count == 1
    assert reopened.open_until == fleet.clock.now + spec.breaker.open_seconds


def test_pinger_does_not_probe_while_a_chat_environment_holds_the_lease(fleet):
    spec = REGISTRY["recommendations"]
    now = fleet.clock.now
    held = CircuitRecord(
        service="recommendations",
        state=CircuitState.HALF_OPEN,
        opened_at=now - 60,
        open_until=now - 1,
        probe_owner="chat-env",
        lease_until=now + spec.breaker.probe_lease_seconds,
    )
    fleet.circuit_store.compare_and_set(0, held)
    report = fleet.pinger.run()
    assert report.probes == {}
    assert fleet.services["recommendations"].calls == 1
    after = fleet.circuit("recommendations")
    assert after.state is CircuitState.HALF_OPEN
    assert after.probe_owner == "chat-env"


def test_operator_override_is_never_overruled(fleet):
    fleet.circuit_store.set_override("promotions", Override.FORCED_CLOSED, fleet.clock.now)
    fleet.services["promotions"].healthy = False
    report = fleet.run_minutes(REGISTRY["promotions"].ping_failures_to_open + 1)
    assert report.opened == []
    assert fleet.circuit("promotions").state is CircuitState.CLOSED


def test_banner_after_more_than_five_minutes_of_llm_down_and_cleared_on_recovery(fleet):
    llm = fleet.services[BANNER_SERVICE]
    llm.healthy = False
    first_failure = fleet.clock.now
    minutes_to_banner = int(BANNER_AFTER_S // PERIOD_S)
    fleet.run_minutes(minutes_to_banner)
    # Exactly five minutes after the first failed ping: not yet "more than five minutes".
    assert fleet.clock.now - first_failure == BANNER_AFTER_S
    report = fleet.pinger.run()
    assert report.banner == "unchanged"
    assert fleet.health_store.get_banner() is None

    fleet.clock.advance(PERIOD_S)
    report = fleet.pinger.run()
    banner = fleet.health_store.get_banner()
    assert report.banner == "set"
    assert banner.active
    assert banner.since == first_failure
    assert banner.message_en
    assert "MangaAssist" in banner.message_ja
    assert banner.message_ja != banner.message_en

    # The LLM answers again: the banner stays until the circuit's probe has closed it.
    llm.healthy = True
    circuit = fleet.circuit(BANNER_SERVICE)
    assert circuit.state is CircuitState.OPEN
    if fleet.clock.now < circuit.open_until:
        fleet.clock.advance(1)
        assert fleet.pinger.run().banner == "unchanged"
        assert fleet.health_store.get_banner().active
        fleet.clock.now = circuit.open_until
    report = fleet.pinger.run()
    assert report.probes == {BANNER_SERVICE: True}
    assert report.banner == "cleared"
    assert fleet.health_store.get_banner().active is False


def test_banner_counts_from_when_the_circuit_opened_if_that_came_first(fleet):
    # The chat fleet opened llm's circuit on failed requests six minutes ago; pings only started failing now.
    now = fleet.clock.now
    opened = CircuitRecord(
        service=BANNER_SERVICE,
        state=CircuitState.OPEN,
        opened_at=now - 360,
        open_until=now + 60,
        reason="error_threshold",
    )
    fleet.circuit_store.compare_and_set(0, opened)
    fleet.services[BANNER_SERVICE].healthy = False
    report = fleet.pinger.run()
    assert report.banner == "set"
    assert fleet.health_store.get_banner().since == now - 360


def test_overlapping_runs_keep_one_history_and_make_one_transition(fleet):
    second = make_pinger(
        fleet.clock,
        fleet.circuit_store,
        fleet.health_store,
        fleet.services,
        owner="manual-run",
        breaker_telemetry=fleet.breaker_telemetry,
        telemetry=RecordingPingTelemetry(),
    )
    fleet.services["catalog"].healthy = False
    runs = 0
    for _ in range(3):
        barrier = threading.Barrier(2)

        def run(pinger, barrier=barrier):
            barrier.wait()
            pinger.run()

        threads = [threading.Thread(target=run, args=(p,)) for p in (fleet.pinger, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(5)
        runs += 2
        fleet.clock.advance(PERIOD_S)
    health = fleet.health_store.load_all()["catalog"]
    assert len(health.history) == runs
    assert health.consecutive_failures == runs
    # Round two opened the circuit once; in round three its probe was due and only one of the two runs won
    # the lease (catalog is still failing, so that probe reopened it).
    transitions = [(t.from_state, t.to_state, t.reason) for t in fleet.breaker_telemetry.transitions]
    assert transitions == [
        (CircuitState.CLOSED, CircuitState.OPEN, HEALTH_PING_REASON),
        (CircuitState.OPEN, CircuitState.HALF_OPEN, "probe"),
        (CircuitState.HALF_OPEN, CircuitState.OPEN, "probe_failed_error"),
    ]


def test_prober_errors_become_failed_pings_with_their_class(fleet):
    fleet.services["feedback"].raises = ConnectionError("connection refused")
    fleet.services["analytics"].raises = ValueError("adapter bug")
    fleet.services["user_profile"].raises = DependencyTimeoutError("user_profile", "slow", status_code=None)
    report = fleet.pinger.run()
    assert report.results["feedback"].failure is FailureKind.ERROR
    assert report.results["analytics"].failure is FailureKind.ERROR
    assert report.results["analytics"].detail == "ValueError"
    assert report.results["user_profile"].failure is FailureKind.TIMEOUT
    assert not any(report.results[n].ok for n in ("feedback", "analytics", "user_profile"))
    assert report.results["catalog"].ok


def test_a_service_without_a_prober_is_a_failed_ping(fleet):
    del fleet.services["returns_service"]
    report = fleet.pinger.run()
    assert report.results["returns_service"].ok is False
    assert report.results["returns_service"].detail == "not_configured"


def test_a_prober_that_ignores_its_timeout_is_abandoned(fleet):
    registry = {"catalog": replace(REGISTRY["catalog"], timeout_ms=50)}
    release = threading.Event()
    answered = threading.Event()
    waits: list[float] = []

    def hangs(timeout_s):
        release.wait(5)
        answered.set()
        return PingResult("catalog", True, 1.0)

    def recorded_wait(futures, timeout, return_when):
        waits.append(timeout)
        return wait(futures, timeout=timeout, return_when=return_when)

    breakers = CircuitBreakers(InMemoryCircuitStore(), registry=registry, clock=fleet.clock, cache_ttl_s=0)
    pinger = HealthPinger(
        store=InMemoryHealthStore(registry=registry, clock=fleet.clock),
        breakers=breakers,
        probers={"catalog": hangs},
        registry=registry,
        clock=fleet.clock,
        telemetry=RecordingPingTelemetry(),
        join_grace_s=0.1,
        wait_for_pings=recorded_wait,
    )
    report = pinger.run()
    still_hanging = not answered.is_set()
    release.set()
    # run() waited once, for the slowest timeout plus the grace it was given (not the default 1 s), and came
    # back while the prober was still blocked, with the abandoned result (no latency).
    assert waits == [pytest.approx(0.05 + 0.1)]
    assert still_hanging
    assert report.results["catalog"].ok is False
    assert report.results["catalog"].failure is FailureKind.TIMEOUT
    assert report.results["catalog"].latency_ms is None


def test_each_prober_gets_its_registry_timeout(fleet):
    seen: dict[str, float] = {}

    def recorder(name):
        def prober(timeout_s):
            seen[name] = timeout_s
            return PingResult(name, True, 5.0, 200)

        return prober

    fleet.pinger.probers = {name: recorder(name) for name in SERVICE_NAMES}
    fleet.pinger.run()
    assert seen == {name: REGISTRY[name].timeout_ms / 1000 for name in SERVICE_NAMES}


def test_state_table_outage_still_pings_and_publishes(fleet):
    fleet.health_store.fail_with = HealthStoreError("table unreachable")
    report = fleet.pinger.run()
    assert report.state_store_ok is False
    assert report.health == {}
    assert len(fleet.telemetry.published) == len(SERVICE_NAMES)
    assert report.as_dict()["services"]["catalog"]["ok"] is True


def test_outage_since_rules():
    now = 10_000.0
    closed = CircuitRecord(service="llm")
    ok_ping = PingResult("llm", True, 100.0, None, None, now)
    bad_ping = PingResult("llm", False, None, None, FailureKind.ERROR, now)
    streak = ServiceHealth("llm", ServiceStatus.DOWN, None, 1.0, now, 4, (), failing_since=now - 200)
    assert outage_since(None, ok_ping, closed, now) is None
    assert outage_since(None, bad_ping, closed, now) == now
    assert outage_since(streak, bad_ping, closed, now) == now - 200
    opened = CircuitRecord(service="llm", state=CircuitState.OPEN, opened_at=now - 500)
    assert outage_since(streak, bad_ping, opened, now) == now - 500
    assert outage_since(None, ok_ping, opened, now) == now - 500  # answering, but customers still get templates
    forced = CircuitRecord(service="llm", override=Override.FORCED_OPEN, updated_at=now - 50)
    assert outage_since(None, ok_ping, forced, now) == now - 50
    bypassed = CircuitRecord(service="llm", state=CircuitState.OPEN, opened_at=now - 500, override=Override.DISABLED)
    assert outage_since(None, ok_ping, bypassed, now) is None


def test_circuit_open_metric_rule():
    assert CircuitRecord(service="catalog").is_open is False
    assert CircuitRecord(service="catalog", state=CircuitState.HALF_OPEN).is_open is True
    assert CircuitRecord(service="catalog", override=Override.FORCED_OPEN).is_open is True
