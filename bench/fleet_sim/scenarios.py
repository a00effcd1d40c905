"""The scenarios `make bench-fleet-sim` runs at every fleet size, and what each one measures."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

from bench.fleet_sim.dynamo_model import StoreFault
from bench.fleet_sim.fleet import FLEET, PER_ENV, DependencyFault, Fleet, Outcome, Traffic, ViewChange
from mangaassist.breaker.model import CircuitState

# Elapsed seconds. The outage heals before order_service's first probe (open 60 s) so a heal is observed.
OUTAGE = DependencyFault("hang", 10.0, 55.0)
OUTAGE_RUN_S = 90.0
SICK = DependencyFault("sick_env", 5.0, 35.0, env=0)
SICK_RUN_S = 35.0
# Longer than order_service's open period, so a local timer that re-closes too early shows.
THROTTLED_DEPENDENCY = DependencyFault("error", 15.0, 100.0)
THROTTLED_STORE = StoreFault("throttled", 5.0, 110.0, capacity_factor=0.05)
THROTTLED_RUN_S = 120.0
BURST = Traffic("burst", burst_at=10.0, warm_share=0.25)
BURST_RUN_S = 25.0
# One call of another environment fails while the sick one is open for itself: not the fleet's evidence.
TRANSIENT = DependencyFault("one_env", 20.0, 20.8, env=1)
# Environments arrive over 20 s (cold starts, first Queries) and the dependency hangs once they all run.
RAMP = Traffic("ramp", ramp_s=20.0)
RAMP_OUTAGE = DependencyFault("hang", 25.0, 55.0)
RAMP_RUN_S = 70.0
# Failing (fast 5xx) for the first 10 s of every 20 s: the circuit must follow without probing in a crowd.
FLAPPING = DependencyFault("flapping", 10.0, 70.0, period_s=20.0)
FLAPPING_RUN_S = 80.0
# Answers, but past slow_call_ms: slow calls count as failures, and customers wait for each one.
SLOW_DEPENDENCY = DependencyFault("slow", 10.0, 55.0)
SLOW_DEPENDENCY_RUN_S = 70.0
# The store answers 40 times slower (past the client's 0.5 s read timeout in its tail) while the dependency fails.
SLOW_STORE = StoreFault("slow", 5.0, 50.0, slowdown=40.0)
SLOW_STORE_DEPENDENCY = DependencyFault("error", 15.0, 45.0)
SLOW_STORE_RUN_S = 60.0
# The store is gone while the dependency starts hanging: every environment counts alone until it answers again.
DOWN_STORE = StoreFault("down", 5.0, 20.0)
DOWN_STORE_DEPENDENCY = DependencyFault("hang", 10.0, 60.0)
DOWN_STORE_RUN_S = 40.0
STORE_FAULTS = {
    "slow_store": (SLOW_STORE_DEPENDENCY, SLOW_STORE, SLOW_STORE_RUN_S),
    "down_store": (DOWN_STORE_DEPENDENCY, DOWN_STORE, DOWN_STORE_RUN_S),
}
# Scenarios with a dependency fault, run by the fleet and by per-environment counting alike.
COMPARED = {
    "ramp": ((RAMP_OUTAGE,), RAMP, RAMP_RUN_S),
    "flapping": ((FLAPPING,), Traffic(), FLAPPING_RUN_S),
    "slow_dependency": ((SLOW_DEPENDENCY,), Traffic(), SLOW_DEPENDENCY_RUN_S),
}


@dataclass(frozen=True)
class Job:
    size: int
    scenario: str
    mode: str
    seed: int = 7
    breaker_options: tuple = ()
    store_options: tuple = ()
    read_copies: int = 1
    label: str = ""  # a variant's name in the results; the size when empty

    @property
    def cost(self) -> float:
        return (
            self.size
            * {
                "outage": 90,
                "sick": 35,
                "sick_transient": 35,
                "throttled": 60,
                "throttled_control": 60,
                "burst": 20,
                "ramp": 60,
                "flapping": 80,
                "slow_dependency": 70,
                "slow_store": 60,
                "down_store": 40,
            }[self.scenario]
        )


def _first(times: list[float]) -> float | None:
    return round(min(times), 2) if times else None


def _p90(times: list[float]) -> float | None:
    if not times:
        return None
    return round(statistics.quantiles(times, n=10)[-1] if len(times) > 1 else times[0], 2)


def _per_slot_first(outcome: Outcome, to: CircuitState, after: float) -> list[float]:
    first: dict[int, float] = {}
    for slot, t in outcome.transitions:
        at = t.at - 1_800_000_000.0
        if t.to_state is to and at >= after and slot not in first:
            first[slot] = at
    return list(first.values())


def _capacity(fleet: Fleet, split_at: float) -> dict:
    ledger = fleet.store.ledger
    # Skip the first seconds: environments are still starting and reading their first snapshot.
    steady = [ledger.read_units.get(second, 0.0) for second in range(3, int(split_at))]
    return {
        "read_units_per_second_steady": round(sum(steady) / len(steady), 1) if steady else 0.0,
        "read_capacity_peak_pct_steady": ledger.peak_pct("read", until=split_at),
        "read_capacity_peak_pct_outage": ledger.peak_pct("read", since=split_at),
        "read_capacity_peak_pct_one_partition": ledger.peak_pct("read", one_partition=True),
        "write_capacity_peak_pct_one_partition": ledger.peak_pct("write", one_partition=True),
        "write_capacity_peak_pct_steady": ledger.peak_pct("write", until=split_at),
        "write_capacity_peak_pct_outage": ledger.peak_pct("write", since=split_at),
        "read_demand_peak_pct": ledger.peak_demand_pct("read"),
        "write_demand_peak_pct": ledger.peak_demand_pct("write"),
        "store_requests": ledger.requests,
        "throttled_requests": ledger.throttled,
        "throttled_reads": ledger.throttled_reads,
        "throttled_writes": ledger.throttled_writes,
    }


def _wrong_transitions(out: Outcome, dep: DependencyFault) -> tuple[list[ViewChange], list[ViewChange]]:
    """Opens before the dependency failed, and closes (or local re-closes) while it still failed."""
    wrong_opens = [v for v in out.view_changes if v.after is CircuitState.OPEN and v.at < dep.start]
    wrong_closes = [
        v
        for v in out.view_changes
        if v.after is CircuitState.CLOSED and v.before is not CircuitState.CLOSED and v.dependency_failing
    ]
    return wrong_opens, wrong_closes


def _store_transitions(fleet: Fleet, to: CircuitState, after: float = 0.0) -> list[float]:
    return [
        at
        for at, primitive, rec in fleet.store.write_log
        if primitive == "compare_and_set" and rec.state is to and at >= after
    ]


def run(job: Job) -> dict:
    common = {
        "breaker_options": dict(job.breaker_options),
        "store_options": dict(job.store_options),
        "read_copies": job.read_copies,
    }
    if job.scenario == "outage":
        fleet = Fleet(job.size, job.mode, job.seed, dependency_faults=(OUTAGE,), **common)
        out = fleet.run(OUTAGE_RUN_S)
        probes = sum(1 for a in out.arrivals if a.probe)
        result = {
            "calls": out.calls,
            "environments_started": out.environments_started,
            "dead_calls": out.dead_calls,
            "customer_seconds_lost": round(out.customer_seconds_lost, 1),
            "short_circuited": out.short_circuited,
            "probe_calls": probes,
        }
        if job.mode == FLEET:
            opens = _store_transitions(fleet, CircuitState.OPEN, OUTAGE.start)
            closes = _store_transitions(fleet, CircuitState.CLOSED, OUTAGE.end)
            leases = _store_transitions(fleet, CircuitState.HALF_OPEN, OUTAGE.start)
            result |= {
                "seconds_to_fleet_open": round(opens[0] - OUTAGE.start, 2) if opens else None,
                "seconds_heal_to_fleet_close": round(closes[0] - OUTAGE.end, 2) if closes else None,
                "half_open_periods": len(leases),
                "probes_per_half_open": round(probes / len(leases), 2) if leases else None,
                **_capacity(fleet, OUTAGE.start),
            }
        else:
            opened = _per_slot_first(out, CircuitState.OPEN, OUTAGE.start)
            closed = _per_slot_first(out, CircuitState.CLOSED, OUTAGE.end)
            result |= {
                # Each environment opens on its own: when the first and when nine in ten had.
                "seconds_to_first_open": round(_first(opened) - OUTAGE.start, 2) if opened else None,
                "seconds_to_p90_open": round(_p90(opened) - OUTAGE.start, 2) if opened else None,
                "seconds_heal_to_p90_close": round(_p90(closed) - OUTAGE.end, 2) if closed else None,
                "environments_opened": len(opened),
            }
        return result
    if job.scenario in COMPARED:
        faults, traffic, duration = COMPARED[job.scenario]
        fleet = Fleet(job.size, job.mode, job.seed, dependency_faults=faults, traffic=traffic, **common)
        out = fleet.run(duration)
        result = {
            "calls": out.calls,
            "dead_calls": out.dead_calls,
            "customer_seconds_lost": round(out.customer_seconds_lost, 1),
            "short_circuited": out.short_circuited,
            "probe_calls": sum(1 for a in out.arrivals if a.probe),
        }
        if job.mode == FLEET:
            leases = _store_transitions(fleet, CircuitState.HALF_OPEN)
            result |= {
                "fleet_opens": len(_store_transitions(fleet, CircuitState.OPEN)),
                "half_open_periods": len(leases),
                "probes_per_half_open": round(result["probe_calls"] / len(leases), 2) if leases else None,
                **_capacity(fleet, faults[0].start),
            }
        return result
    if job.scenario in STORE_FAULTS:
        dependency, store_fault, duration = STORE_FAULTS[job.scenario]
        fleet = Fleet(job.size, FLEET, job.seed, dependency_faults=(dependency,), store_faults=(store_fault,), **common)
        out = fleet.run(duration)
    if job.scenario == "slow_store":
        dep = SLOW_STORE_DEPENDENCY
        wrong_opens, wrong_closes = _wrong_transitions(out, dep)
        ledger = fleet.store.ledger
        return {
            "store_slow_wrong_transitions": len(wrong_opens) + len(wrong_closes),
            "dead_calls": out.dead_calls,
            "customer_seconds_lost": round(out.customer_seconds_lost, 1),
            "store_requests_timed_out": ledger.timed_out,
            "fleet_opens": len(_store_transitions(fleet, CircuitState.OPEN)),
            "seconds_to_fleet_open": round(opens[0] - dep.start, 2)
            if (opens := _store_transitions(fleet, CircuitState.OPEN))
            else None,
        }
    if job.scenario == "down_store":
        back = DOWN_STORE.end
        opens = _store_transitions(fleet, CircuitState.OPEN)
        return {
            "dead_calls": out.dead_calls,
            # What the counts merged back are for: once the store answers, the fleet knows at once.
            "dead_calls_after_store_back": sum(1 for a in out.arrivals if a.failed and a.at >= back),
            "seconds_store_back_to_fleet_open": round(opens[0] - back, 2) if opens else None,
            "customer_seconds_lost": round(out.customer_seconds_lost, 1),
        }
    if job.scenario in ("sick", "sick_transient"):
        faults = (SICK, TRANSIENT) if job.scenario == "sick_transient" else (SICK,)
        fleet = Fleet(job.size, job.mode, job.seed, dependency_faults=faults, **common)
        out = fleet.run(SICK_RUN_S)
        healthy_short = sum(1 for a in out.arrivals if a.slot != SICK.env)
        result = {
            "sick_environment_dead_calls": out.dead_calls,
            "calls": out.calls,
            "short_circuited": out.short_circuited,
            "healthy_calls_reaching_dependency": healthy_short,
        }
        if job.mode == FLEET:
            result["sick_environment_circuits_opened"] = len(_store_transitions(fleet, CircuitState.OPEN))
        return result
    if job.scenario in ("throttled", "throttled_control"):
        # The control is the same dependency outage with a healthy store: what the breaker does anyway.
        faults = (THROTTLED_STORE,) if job.scenario == "throttled" else ()
        fleet = Fleet(
            job.size, FLEET, job.seed, dependency_faults=(THROTTLED_DEPENDENCY,), store_faults=faults, **common
        )
        out = fleet.run(THROTTLED_RUN_S)
        dep = THROTTLED_DEPENDENCY
        wrong_opens, wrong_closes = _wrong_transitions(out, dep)
        return {
            "wrong_opens": len(wrong_opens),
            "wrong_closes": len(wrong_closes),
            "wrong_close_reasons": sorted({v.reason for v in wrong_closes}),
            "store_throttle_wrong_transitions": len(wrong_opens) + len(wrong_closes),
            "dead_calls": out.dead_calls,
            "customer_seconds_lost": round(out.customer_seconds_lost, 1),
            "throttled_requests": fleet.store.ledger.throttled,
            "fleet_opens": len(_store_transitions(fleet, CircuitState.OPEN)),
        }
    if job.scenario == "burst":
        fleet = Fleet(job.size, job.mode, job.seed, traffic=BURST, **common)
        fleet.run(BURST_RUN_S)
        ledger = fleet.store.ledger
        return {
            "read_capacity_peak_pct_burst": ledger.peak_pct("read"),
            "read_capacity_peak_pct_one_partition_burst": ledger.peak_pct("read", one_partition=True),
            "read_demand_peak_pct_burst": ledger.peak_demand_pct("read"),
            "throttled_requests_burst": ledger.throttled,
        }
    raise ValueError(job.scenario)


def timed_run(job: Job) -> tuple[Job, dict, float]:
    """run(), with the CPU seconds it took (module level, so a spawned pool worker can unpickle it)."""
    started = time.process_time()
    result = run(job)
    return job, result, round(time.process_time() - started, 1)


def jobs_for(
    size: int,
    seed: int = 7,
    breaker_options: tuple = (),
    store_options: tuple = (),
    label: str = "",
    read_copies: int = 1,
    only: tuple[str, ...] = (),
) -> list[Job]:
    fleet = dict(
        seed=seed,
        breaker_options=breaker_options,
        store_options=store_options,
        label=label or str(size),
        read_copies=read_copies,
    )
    jobs = [
        Job(size, "outage", FLEET, **fleet),
        Job(size, "outage", PER_ENV, seed=seed, label=label or str(size)),
        Job(size, "sick", FLEET, **fleet),
        Job(size, "sick_transient", FLEET, **fleet),
        Job(size, "throttled", FLEET, **fleet),
        Job(size, "throttled_control", FLEET, **fleet),
        Job(size, "burst", FLEET, **fleet),
        Job(size, "slow_store", FLEET, **fleet),
        Job(size, "down_store", FLEET, **fleet),
    ]
    for scenario in COMPARED:
        jobs += [Job(size, scenario, FLEET, **fleet), Job(size, scenario, PER_ENV, seed=seed, label=label or str(size))]
    return [job for job in jobs if not only or job.scenario in only]
