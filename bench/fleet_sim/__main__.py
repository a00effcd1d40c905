"""`make bench-fleet-sim`: the fleet breaker and per-environment counting at 10 to 10,000 environments.

Runs every scenario of bench/fleet_sim/scenarios.py at each size on a virtual clock (two worker processes,
one per core), prints a table and writes bench/results/fleet_sim.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import platform
import time
from pathlib import Path

from bench.fleet_sim import scenarios, validate
from bench.fleet_sim.dynamo_model import PARTITION_RCU, PARTITION_WCU
from bench.fleet_sim.fleet import FLEET, PER_ENV

RESULTS = Path(__file__).resolve().parents[1] / "results" / "fleet_sim.json"
# DynamoDB on-demand, ap-northeast-1 (the stack's region), USD per million request units (assumed, late 2024
# list prices). A Query of every circuit (under 4 KB) is one read unit strongly consistent, half eventually.
READ_USD_PER_MILLION = 0.1425
WRITE_USD_PER_MILLION = 0.715
SECONDS_PER_MONTH = 30 * 24 * 3600
SIZES = (10, 100, 1000, 3000, 10000)
# Past about 5,000 environments one partition cannot serve a Query per environment-second even eventually
# consistent: the refresh period has to grow with the fleet (STATE_CACHE_TTL_S). This is the 10,000 row so set.
VARIANTS = {"10000_cache_ttl_3.5s": (10000, (("cache_ttl_s", 3.5),))}


def summarize(size: int, results: dict[tuple[str, str], dict]) -> dict:
    fleet, peer = results[("outage", FLEET)], results[("outage", PER_ENV)]
    burst, sick = results[("burst", FLEET)], results[("sick", FLEET)]
    throttled, control = results[("throttled", FLEET)], results[("throttled_control", FLEET)]
    lost, lost_peer = fleet["customer_seconds_lost"], peer["customer_seconds_lost"]
    return {
        "read_capacity_peak_pct": max(
            fleet["read_capacity_peak_pct_steady"],
            fleet["read_capacity_peak_pct_outage"],
            burst["read_capacity_peak_pct_burst"],
        ),
        "write_capacity_peak_pct": max(
            fleet["write_capacity_peak_pct_steady"], fleet["write_capacity_peak_pct_outage"]
        ),
        "read_capacity_peak_pct_steady": fleet["read_capacity_peak_pct_steady"],
        "read_capacity_peak_pct_outage": fleet["read_capacity_peak_pct_outage"],
        "read_capacity_peak_pct_burst": burst["read_capacity_peak_pct_burst"],
        "read_demand_peak_pct": max(fleet["read_demand_peak_pct"], burst["read_demand_peak_pct_burst"]),
        "write_demand_peak_pct": fleet["write_demand_peak_pct"],
        "throttled_requests": fleet["throttled_requests"] + burst["throttled_requests_burst"],
        "read_units_per_second_steady": fleet["read_units_per_second_steady"],
        # Healthy traffic writes nothing: the steady reads are the bill (plus storage, pennies).
        "state_store_usd_per_month": round(
            fleet["read_units_per_second_steady"] * SECONDS_PER_MONTH * READ_USD_PER_MILLION / 1e6, 2
        ),
        "dead_calls": fleet["dead_calls"],
        "dead_calls_per_env_counting": peer["dead_calls"],
        "customer_seconds_lost": lost,
        "customer_seconds_lost_per_env_counting": lost_peer,
        "customer_seconds_lost_ratio": round(lost / lost_peer, 3) if lost_peer else None,
        "seconds_to_fleet_open": fleet["seconds_to_fleet_open"],
        "seconds_heal_to_fleet_close": fleet["seconds_heal_to_fleet_close"],
        "seconds_heal_to_p90_close_per_env_counting": peer["seconds_heal_to_p90_close"],
        "probes_per_half_open": fleet["probes_per_half_open"],
        "sick_environment_circuits_opened": sick["sick_environment_circuits_opened"],
        "store_throttle_wrong_transitions": throttled["store_throttle_wrong_transitions"],
        "store_throttle_wrong_transitions_control": control["store_throttle_wrong_transitions"],
        "scenarios": {f"{scenario}/{mode}": result for (scenario, mode), result in results.items()},
    }


COLUMNS = (
    ("read peak %", "read_capacity_peak_pct"),
    ("write peak %", "write_capacity_peak_pct"),
    ("throttled", "throttled_requests"),
    ("dead", "dead_calls"),
    ("dead per-env", "dead_calls_per_env_counting"),
    ("cust-s lost", "customer_seconds_lost"),
    ("cust-s per-env", "customer_seconds_lost_per_env_counting"),
    ("ratio", "customer_seconds_lost_ratio"),
    ("s to open", "seconds_to_fleet_open"),
    ("s heal->close", "seconds_heal_to_fleet_close"),
    ("probes/half-open", "probes_per_half_open"),
    ("sick opens", "sick_environment_circuits_opened"),
    ("throttle wrong", "store_throttle_wrong_transitions"),
    ("USD/month", "state_store_usd_per_month"),
)


def print_table(sizes: dict) -> None:
    print(f"{'environments':>22} " + " ".join(f"{label:>14}" for label, _ in COLUMNS))
    for n, row in sizes.items():
        print(f"{n:>22} " + " ".join(f"{row[key]!s:>14}" for _, key in COLUMNS))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-variants", action="store_true", help="only the plain sizes")
    args = parser.parse_args()
    started = time.time()
    jobs = [job for n in args.sizes for job in scenarios.jobs_for(n, seed=args.seed)]
    if not args.no_variants:
        for label, (n, options) in VARIANTS.items():
            jobs += scenarios.jobs_for(n, seed=args.seed, breaker_options=options, label=label)
    jobs.sort(key=lambda job: -job.cost)
    with mp.get_context("spawn").Pool(args.processes) as pool:
        done = pool.map(scenarios.timed_run, jobs, chunksize=1)
    by_label: dict[str, dict] = {}
    cpu: dict[str, float] = {}
    for job, result, seconds in done:
        by_label.setdefault(job.label, {})[(job.scenario, job.mode)] = result
        cpu[f"{job.label}/{job.scenario}/{job.mode}"] = seconds
    sizes = {str(n): summarize(n, by_label[str(n)]) for n in args.sizes}
    variants = {label: summarize(VARIANTS[label][0], by_label[label]) for label in VARIANTS if label in by_label}
    validation = validate.compare()
    output = {
        "model": {
            "partition_rcu_per_s": PARTITION_RCU,
            "partition_wcu_per_s": PARTITION_WCU,
            "read_usd_per_million_units": READ_USD_PER_MILLION,
            "write_usd_per_million_units": WRITE_USD_PER_MILLION,
            "seed": args.seed,
            "scenarios": {
                "outage": f"steady traffic, order_service hangs {scenarios.OUTAGE.start}-{scenarios.OUTAGE.end} s, "
                f"{scenarios.OUTAGE_RUN_S} s run",
                "sick": f"environment 0's every call fails {scenarios.SICK.start}-{scenarios.SICK.end} s",
                "throttled": f"store at {scenarios.THROTTLED_STORE.capacity_factor:.0%} capacity "
                f"{scenarios.THROTTLED_STORE.start}-{scenarios.THROTTLED_STORE.end} s, order_service 5xx "
                f"{scenarios.THROTTLED_DEPENDENCY.start}-{scenarios.THROTTLED_DEPENDENCY.end} s",
                "burst": "a quarter of the environments warm, the rest start cold at 10 s",
            },
        },
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "wall_seconds": round(time.time() - started, 1),
            "cpu_seconds_per_job": cpu,
        },
        "sizes": sizes,
        "variants": variants,
        "validation_against_bench_breaker": validation,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(output, indent=2) + "\n", encoding="utf-8")
    print_table(sizes | variants)
    print("\nvalidation: the simulator against the real 8- and 16-process runs (dead calls)")
    validate.print_rows(validation)
    print(f"\n{time.time() - started:.0f} s wall; written to {args.out}")


if __name__ == "__main__":
    main()
