"""`make bench-breaker`: this fleet-wide breaker vs Powertools' circuit_breaker vs pybreaker, side by side.

Every run uses OS processes as Lambda execution environments against one moto server (Powertools uses
the same table) and one local dependency that fails on command; the dependency counts what reached it.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from bench.fleet_lab import CountingDependency, Plan, run_fleet
from local.moto_process import MotoServer
from mangaassist.registry import SERVICE_NAMES

IMPLEMENTATIONS = ("fleet", "powertools", "pybreaker")
RESULTS = Path(__file__).resolve().parent / "results" / "breaker.json"
STALENESS_S = {"fleet": 1.0, "powertools": 5.0, "pybreaker": None}  # None: never shares state


def _table(moto: MotoServer) -> str:
    from tests.conftest import create_state_table

    return create_state_table(moto.url)


def spread(moto, impl, workers, threshold):
    dep = CountingDependency().start()
    dep.set_failing(True)
    try:
        plan = Plan(impl, moto.url, _table(moto), dep.url, threshold=threshold, interval_s=0.1, duration_s=3.0)
        run_fleet(plan, workers)
        return dep.calls_between(0)
    finally:
        dep.stop()


def burst(moto, impl, workers, threshold):
    dep = CountingDependency().start()
    dep.set_failing(True)
    try:
        plan = Plan(
            impl, moto.url, _table(moto), dep.url, threshold=threshold, interval_s=0.3, stagger=False, duration_s=2.0
        )
        run_fleet(plan, workers)
        return dep.calls_between(0)
    finally:
        dep.stop()


def healthy(moto, impl, workers):
    dep = CountingDependency().start()
    try:
        duration = 5.0
        plan = Plan(impl, moto.url, _table(moto), dep.url, interval_s=0.02, duration_s=duration, circuits=SERVICE_NAMES)
        reports, _ = run_fleet(plan, workers)
        calls = sum(r.calls for r in reports)
        requests = sum(r.store_requests for r in reports)
        return {
            "circuits": len(SERVICE_NAMES),
            "calls": calls,
            "store_requests": requests,
            "store_requests_per_1000_calls": round(1000 * requests / calls, 2) if calls else None,
            "store_requests_per_env_second": round(requests / (workers * duration), 2),
            "max_staleness_s": STALENESS_S[impl],
        }
    finally:
        dep.stop()


def recovery(moto, impl, workers):
    dep = CountingDependency().start()
    dep.set_failing(True)
    open_s, heal_after = 1.0, 4.0
    try:
        plan = Plan(
            impl,
            moto.url,
            _table(moto),
            dep.url,
            threshold=3,
            open_seconds=open_s,
            max_open_seconds=open_s,
            interval_s=0.05,
            duration_s=7.5,
        )
        reports, start = run_fleet(plan, workers, heal_after_s=heal_after, dependency=dep)
        heal_at = start + heal_after
        transitions = sorted((t for r in reports for t in r.transitions), key=lambda t: t[2])
        opens = [t[2] for t in transitions if t[1] == "OPEN"]
        # Skip the first open period: environments that had not seen the circuit open may still be
        # paying their one learning call. What reaches the dependency after that are probes.
        window_start = (opens[0] + open_s) if opens else heal_at
        half_opens = [t[2] for t in transitions if t[1] == "HALF_OPEN" and window_start <= t[2] < heal_at]
        periods = _clusters(half_opens, gap=open_s / 2)
        probes = dep.calls_between(window_start, heal_at, failed=True)
        first_ok = dep.first_success_after(heal_at)
        all_ok = [r.first_ok_after_heal for r in reports]
        return {
            "half_open_periods": periods,
            "probes": probes,
            "probes_per_half_open_period": round(probes / periods, 2) if periods else None,
            "seconds_heal_to_first_success": round(first_ok - heal_at, 2) if first_ok else None,
            "seconds_heal_to_all_environments": round(max(all_ok), 2) if all(all_ok) else None,
        }
    finally:
        dep.stop()


def _clusters(times: list[float], gap: float) -> int:
    """Half-open transitions of one fleet-wide period happen together; count the groups."""
    count, last = 0, None
    for t in times:
        if last is None or t - last > gap:
            count += 1
        last = t
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="only the 8-environment, threshold-3 rows")
    args = parser.parse_args()
    workers = args.workers
    results: dict = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "workers": workers,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    }
    spread_cases = [(workers, 3)] if args.quick else [(workers, 3), (workers, 5), (workers * 2, 3)]
    with MotoServer() as moto:
        for impl in IMPLEMENTATIONS:
            row: dict = {}
            for n, threshold in spread_cases:
                row[f"spread_calls_n{n}_t{threshold}"] = spread(moto, impl, n, threshold)
            row[f"spread_goal_n{workers}_t3"] = 3 + workers - 1
            row["burst_calls_t3"] = burst(moto, impl, workers, 3)
            row["burst_goal_t3"] = max(3, workers)
            row["healthy"] = healthy(moto, impl, workers)
            row["recovery"] = recovery(moto, impl, workers)
            results[impl] = row
            print(f"{impl}: done", flush=True)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print_table(results, spread_cases)


def print_table(results: dict, spread_cases) -> None:
    rows = [
        (
            f"calls reaching the failing dependency, spread, {n} envs, threshold {t}",
            lambda r, n=n, t=t: r[f"spread_calls_n{n}_t{t}"],
        )
        for n, t in spread_cases
    ]
    rows += [
        ("calls reaching the failing dependency, burst, threshold 3", lambda r: r["burst_calls_t3"]),
        (
            "state-store requests per 1,000 healthy calls (9 circuits)",
            lambda r: r["healthy"]["store_requests_per_1000_calls"],
        ),
        ("state-store requests per environment-second", lambda r: r["healthy"]["store_requests_per_env_second"]),
        ("max staleness of shared state (s)", lambda r: r["healthy"]["max_staleness_s"] or "never shared"),
        ("probes per half-open period (fleet-wide)", lambda r: r["recovery"]["probes_per_half_open_period"]),
        ("seconds from healing to first success", lambda r: r["recovery"]["seconds_heal_to_first_success"]),
        ("seconds from healing to every environment", lambda r: r["recovery"]["seconds_heal_to_all_environments"]),
    ]
    width = max(len(label) for label, _ in rows)
    print()
    print(f"{'':{width}}  " + "  ".join(f"{impl:>12}" for impl in IMPLEMENTATIONS))
    for label, get in rows:
        print(f"{label:{width}}  " + "  ".join(f"{get(results[impl])!s:>12}" for impl in IMPLEMENTATIONS))
    print(f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}")


if __name__ == "__main__":
    main()
