"""A simulated Lambda fleet calling one dependency through the real CircuitBreakers, on a virtual clock.

Each execution environment is a greenlet that owns a real ``CircuitBreakers`` (the fleet's shares the
DynamoDB capacity model; the peer's counts alone in a private in-memory store, as per-environment breakers
such as Powertools' do). A dependency call and a state-store round trip sleep in virtual time, so thousands
of environments interleave inside the breaker's own code exactly where real ones would.
"""

from __future__ import annotations

import logging
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from bench.fleet_sim.dynamo_model import DynamoCapacityStore, Latency, StateTable, StoreFault
from bench.fleet_sim.engine import Simulation
from mangaassist.breaker import CircuitBreakers, DependencyError, DependencyTimeoutError, ServiceUnavailableError
from mangaassist.breaker.model import CircuitState, Transition
from mangaassist.breaker.telemetry import BreakerTelemetry
from mangaassist.registry import REGISTRY, ServiceSpec
from tests.fakes import InMemoryCircuitStore

SERVICE = "order_service"
FLEET = "fleet"
PER_ENV = "per_env"


class SilentTelemetry(BreakerTelemetry):
    """Thousands of environments: the metrics would be the simulation's whole cost and say nothing new."""

    def emit(self, spec, name, value, unit) -> None:
        pass

    def transition(self, spec, transition) -> None:
        pass


@dataclass(frozen=True)
class DependencyFault:
    """A window of elapsed seconds in which the dependency misbehaves."""

    kind: str  # "hang" | "error" | "flapping" | "slow" | "sick_env" | "one_env" (a transient failure in one slot)
    start: float
    end: float
    period_s: float = 20.0  # flapping: failing for the first half of every period
    env: int = 0  # sick_env: the slot whose environment's every call fails

    def failing(self, elapsed: float, slot: int, generation: int = 0) -> str | None:
        if not self.start <= elapsed < self.end:
            return None
        if self.kind == "sick_env":
            # A broken connection pool belongs to one process: the environment Lambda starts in its place is well.
            return "error" if slot == self.env and generation == 0 else None
        if self.kind == "one_env":
            return "error" if slot == self.env else None
        if self.kind == "flapping":
            return "error" if (elapsed - self.start) % self.period_s < self.period_s / 2 else None
        return self.kind


@dataclass
class Arrival:
    at: float
    slot: int
    failed: bool
    probe: bool
    store_state: CircuitState | None  # the fleet's circuit as the store holds it when the call arrives


@dataclass
class ViewChange:
    """An environment's own view of the circuit moved (a transition it made, or one it learned)."""

    at: float
    slot: int
    before: CircuitState
    after: CircuitState
    reason: str
    dependency_failing: bool


@dataclass
class Outcome:
    calls: int = 0
    dead_calls: int = 0
    customer_seconds_lost: float = 0.0
    short_circuited: int = 0
    arrivals: list[Arrival] = field(default_factory=list)
    view_changes: list[ViewChange] = field(default_factory=list)
    transitions: list[tuple[int, Transition]] = field(default_factory=list)
    environments_started: int = 0


class Dependency:
    """The downstream service: answers in tens of milliseconds, or fails the way its fault says."""

    def __init__(self, sim: Simulation, rng: random.Random, spec: ServiceSpec, faults: tuple[DependencyFault, ...]):
        self.sim, self.rng, self.spec, self.faults = sim, rng, spec, faults
        self.healthy = Latency(median_s=0.06, sigma=0.4, tail_p=0.01, tail_s=(0.2, 0.5))

    def failing(self, slot: int, generation: int = 0, elapsed: float | None = None) -> str | None:
        elapsed = self.sim.elapsed if elapsed is None else elapsed
        return next((k for f in self.faults if (k := f.failing(elapsed, slot, generation))), None)


class Environment:
    """One Lambda execution environment: its breaker and the requests it serves one after another."""

    def __init__(self, fleet: Fleet, slot: int, generation: int):
        self.fleet, self.slot = fleet, slot
        self.generation = generation
        self.owner = f"env-{slot}-{generation}"
        self.breakers = fleet.new_breakers(self)
        self.seen = CircuitState.CLOSED

    def observe(self) -> None:
        rec = self.breakers.snapshot(refresh=False)[SERVICE]
        if rec.state is not self.seen:
            dep = self.fleet.dependency
            self.fleet.outcome.view_changes.append(
                ViewChange(
                    self.fleet.sim.elapsed,
                    self.slot,
                    self.seen,
                    rec.state,
                    rec.reason,
                    dep.failing(self.slot, self.generation) is not None,
                )
            )
            self.seen = rec.state

    def call_dependency(self) -> str:
        fleet, sim, dep = self.fleet, self.fleet.sim, self.fleet.dependency
        rec = self.breakers.snapshot(refresh=False)[SERVICE]
        probe = rec.state is CircuitState.HALF_OPEN and rec.probe_owner == self.owner
        fault = dep.failing(self.slot, self.generation)
        stored = fleet.store.current(SERVICE) if fleet.store is not None else None
        out = fleet.outcome
        out.arrivals.append(Arrival(sim.elapsed, self.slot, fault is not None, probe, stored and stored.state))
        timeout_s = dep.spec.timeout_ms / 1000
        if fault is None:
            sim.sleep(min(dep.healthy.draw(dep.rng), timeout_s))
            return "ok"
        out.dead_calls += 1
        if fault == "hang":
            # The adapter's timeout ends the wait: the customer sat through all of it.
            out.customer_seconds_lost += timeout_s
            sim.sleep(timeout_s)
            raise DependencyTimeoutError(SERVICE, "read timeout")
        if fault == "slow":
            took = min(timeout_s * 0.98, dep.spec.slow_call_ms / 1000 * dep.rng.uniform(1.05, 1.3))
            out.customer_seconds_lost += took
            sim.sleep(took)
            return "ok"
        took = dep.rng.uniform(0.005, 0.03)
        out.customer_seconds_lost += took
        sim.sleep(took)
        raise DependencyError(SERVICE, "HTTP 503", 503)

    def guarded_call(self) -> str:
        out = self.fleet.outcome
        out.calls += 1
        self.observe()
        try:
            result = self.breakers.call(SERVICE, self.call_dependency)
        except ServiceUnavailableError as err:
            result = "short" if err.kind.value == "circuit_open" else "failed"
        if result == "short":
            out.short_circuited += 1
        self.observe()
        return result


@dataclass(frozen=True)
class Traffic:
    """How many environments run when: steady (all from the start), ramp, or a burst of cold ones."""

    kind: str = "steady"  # "steady" | "ramp" | "burst" | "together" (the lab's workers, released at once)
    ramp_s: float = 20.0
    burst_at: float = 10.0
    warm_share: float = 0.25

    def start_of(self, slot: int, n: int, rng: random.Random) -> float:
        if self.kind == "together":
            return 0.0
        if self.kind == "ramp":
            return self.ramp_s * slot / n + rng.uniform(0, 0.5)
        if self.kind == "burst" and slot >= int(n * self.warm_share):
            return self.burst_at + rng.uniform(0, 1.0)
        return rng.uniform(0, 2.0)


@dataclass(frozen=True)
class LambdaWorkload:
    """Chat requests of one to three seconds, each with one call to the dependency; environments are
    recycled after a lifetime and replaced by cold ones (an init before the first request)."""

    pre_s: tuple[float, float] = (0.2, 1.0)
    post_s: tuple[float, float] = (0.5, 1.5)
    mean_lifetime_s: float = 900.0
    init_s: tuple[float, float] = (0.3, 1.0)

    def run(self, fleet: Fleet, slot: int, until: float) -> None:
        sim, rng = fleet.sim, fleet.rng
        generation = 0
        while sim.elapsed < until:
            retire_at = sim.elapsed + rng.expovariate(1.0 / self.mean_lifetime_s)
            sim.sleep(rng.uniform(*self.init_s))
            env = Environment(fleet, slot, generation)
            fleet.outcome.environments_started += 1
            while sim.elapsed < min(retire_at, until):
                sim.sleep(rng.uniform(*self.pre_s))
                env.guarded_call()
                sim.sleep(rng.uniform(*self.post_s))
            generation += 1


@dataclass(frozen=True)
class LabWorkload:
    """bench/fleet_lab.py's worker loop: one call every ``interval_s``, first calls spread over one interval."""

    interval_s: float = 0.1
    stagger: bool = True
    duration_s: float = 3.0
    overhead: Latency = field(default_factory=lambda: Latency(median_s=0.002, sigma=0.5, tail_p=0.0))

    def run(self, fleet: Fleet, slot: int, until: float) -> None:
        sim = fleet.sim
        env = Environment(fleet, slot, 0)
        fleet.outcome.environments_started += 1
        next_at = (self.interval_s * slot / fleet.n) if self.stagger else 0.0
        while True:
            if next_at > sim.elapsed:
                sim.sleep(next_at - sim.elapsed)
            if sim.elapsed >= min(self.duration_s, until):
                return
            # The worker's own Python (requests, boto3 signing and parsing) takes time between round trips.
            sim.sleep(self.overhead.draw(fleet.rng))
            env.guarded_call()
            next_at += self.interval_s


@dataclass
class Fleet:
    """Everything one run needs; ``mode`` picks the fleet-wide breaker or per-environment counting."""

    n: int
    mode: str
    seed: int
    spec: ServiceSpec = REGISTRY[SERVICE]
    dependency_faults: tuple[DependencyFault, ...] = ()
    store_faults: tuple[StoreFault, ...] = ()
    traffic: Traffic = field(default_factory=Traffic)
    workload: LambdaWorkload | LabWorkload = field(default_factory=LambdaWorkload)
    store_latency: Latency = field(default_factory=Latency)
    store_single_server: Latency | None = None
    dependency_latency: Latency | None = None
    breaker_options: dict = field(default_factory=dict)
    store_options: dict = field(default_factory=dict)
    read_copies: int = 1

    def __post_init__(self) -> None:
        logging.getLogger("mangaassist.breaker").setLevel(logging.ERROR)
        self.sim = Simulation()
        self.rng = random.Random(self.seed)
        self.registry = {SERVICE: self.spec}
        self.dependency = Dependency(self.sim, self.rng, self.spec, self.dependency_faults)
        if self.dependency_latency is not None:
            self.dependency.healthy = self.dependency_latency
        self.outcome = Outcome()
        self.store: StateTable | None = None
        if self.mode == FLEET:
            self.store = StateTable(
                self.sim,
                self.rng,
                latency=self.store_latency,
                faults=self.store_faults,
                single_server=self.store_single_server,
                read_copies=self.read_copies,
            )

    def new_breakers(self, env: Environment) -> CircuitBreakers:
        if self.store is not None:
            # Like DynamoCircuitStore's random pick, from the environment's name so a seed replays the run.
            copy = zlib.crc32(env.owner.encode())
            store = DynamoCapacityStore(self.store, copy=copy, **self.store_options)
        else:
            store = InMemoryCircuitStore()
        slot = env.slot

        def on_transition(t: Transition, slot=slot) -> None:
            self.outcome.transitions.append((slot, t))

        return CircuitBreakers(
            store,
            registry=self.registry,
            clock=self.sim.clock,
            owner_id=env.owner,
            telemetry=SilentTelemetry(),
            on_transition=on_transition,
            **self.breaker_options,
        )

    def run(self, duration_s: float) -> Outcome:
        for slot in range(self.n):
            start = self.traffic.start_of(slot, self.n, self.rng)
            self.sim.spawn(start, lambda slot=slot: self.workload.run(self, slot, duration_s))
        self.sim.run(duration_s)
        return self.outcome


def lab_registry(spec: ServiceSpec, **breaker) -> ServiceSpec:
    """The settings bench/fleet_lab.py gives its workers: slow calls never count, only the threshold moves."""
    return replace(spec, slow_call_ms=10_000, breaker=replace(spec.breaker, **breaker))


Factory = Callable[[], Fleet]
