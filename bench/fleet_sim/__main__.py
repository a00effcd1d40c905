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
# CircuitReadCopies as the docs recommend it per fleet size: past about 3,000 environments one partition
# cannot serve a Query per environment-second, so the 10,000 row reads 4 copies.
READ_COPIES = {10: 1, 100: 1, 1000: 1, 3000: 1, 10000: 4}
# The same fleet with the other setting: what the copies buy at 10,000 and cost at 3,000 (outage and burst only).
VARIANTS = {"10000_read_copies_1": (10000, 1), "3000_read_copies_4": (3000, 4)}
VARIANT_SCENARIOS = ("outage", "burst")


def _ratio(lost: float, lost_peer: float) -> float | None:
    return round(lost / lost_peer, 3) if lost_peer else None


def summarize_compared(results: dict[tuple[str, str], dict]) -> dict:
    """Ramp, flapping and slow dependency: the fleet against per-environment counting, and the store's peaks."""
    rows = {}
    for scenario in scenarios.COMPARED:
        if (scenario, FLEET) not in results:
            continue
        fleet, peer = results[(scenario, FLEET)], results[(scenario, PER_ENV)]
        rows[scenario] = {
            "read_capacity_peak_pct": max(
                fleet["read_capacity_peak_pct_steady"], fleet["read_capacity_peak_pct_outage"]
            ),
            "write_capacity_peak_pct": max(
                fleet["write_capacity_peak_pct_steady"], fleet["write_capacity_peak_pct_outage"]
            ),
            "throttled_requests": fleet["throttled_requests"],
            "dead_calls": fleet["dead_calls"],
            "dead_calls_per_env_counting": peer["dead_calls"],
            "customer_seconds_lost": fleet["customer_seconds_lost"],
            "customer_seconds_lost_per_env_counting": peer["customer_seconds_lost"],
            "customer_seconds_lost_ratio": _ratio(fleet["customer_seconds_lost"], peer["customer_seconds_lost"]),
            "fleet_opens": fleet["fleet_opens"],
            "probes_per_half_open": fleet["probes_per_half_open"],
        }
    return rows


def summarize(size: int, results: dict[tuple[str, str], dict], read_copies: int) -> dict:
    fleet, peer = results[("outage", FLEET)], results[("outage", PER_ENV)]
    burst = results[("burst", FLEET)]
    lost, lost_peer = fleet["customer_seconds_lost"], peer["customer_seconds_lost"]
    row = {
        "read_copies": read_copies,
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
        # The same seconds as if every partition key shared one partition (a new table, before any split).
        "read_capacity_peak_pct_one_partition": max(
            fleet["read_capacity_peak_pct_one_partition"], burst["read_capacity_peak_pct_one_partition_burst"]
        ),
        "write_capacity_peak_pct_one_partition": fleet["write_capacity_peak_pct_one_partition"],
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
        "customer_seconds_lost_ratio": _ratio(lost, lost_peer),
        "seconds_to_fleet_open": fleet["seconds_to_fleet_open"],
        "seconds_heal_to_fleet_close": fleet["seconds_heal_to_fleet_close"],
        "seconds_heal_to_p90_close_per_env_counting": peer["seconds_heal_to_p90_close"],
        "probes_per_half_open": fleet["probes_per_half_open"],
    }
    if ("sick", FLEET) in results:
        throttled, control = results[("throttled", FLEET)], results[("throttled_control", FLEET)]
        slow_store = results[("slow_store", FLEET)]
        row |= {
            "sick_environment_circuits_opened": results[("sick", FLEET)]["sick_environment_circuits_opened"],
            "sick_plus_one_transient_circuits_opened": results[("sick_transient", FLEET)][
                "sick_environment_circuits_opened"
            ],
            "store_throttle_wrong_transitions": throttled["store_throttle_wrong_transitions"],
            "store_throttle_wrong_transitions_control": control["store_throttle_wrong_transitions"],
            "store_slow_wrong_transitions": slow_store["store_slow_wrong_transitions"],
            "store_slow_seconds_to_fleet_open": slow_store["seconds_to_fleet_open"],
            "store_down_dead_calls_after_back": results[("down_store", FLEET)]["dead_calls_after_store_back"],
            "store_down_seconds_back_to_fleet_open": results[("down_store", FLEET)]["seconds_store_back_to_fleet_open"],
            "compared": summarize_compared(results),
        }
    row["scenarios"] = {f"{scenario}/{mode}": result for (scenario, mode), result in results.items()}
    return row


CAPACITY_AND_LOSS = (
    ("read peak %", "read_capacity_peak_pct"),
    ("write peak %", "write_capacity_peak_pct"),
    ("throttled", "throttled_requests"),
    ("dead", "dead_calls"),
    ("dead per-env", "dead_calls_per_env_counting"),
    ("cust-s lost", "customer_seconds_lost"),
    ("cust-s per-env", "customer_seconds_lost_per_env_counting"),
    ("ratio", "customer_seconds_lost_ratio"),
)
COLUMNS = (
    ("copies", "read_copies"),
    *CAPACITY_AND_LOSS,
    ("s to open", "seconds_to_fleet_open"),
    ("s heal->close", "seconds_heal_to_fleet_close"),
    ("probes/half-open", "probes_per_half_open"),
    ("sick opens", "sick_environment_circuits_opened"),
    ("sick+1 opens", "sick_plus_one_transient_circuits_opened"),
    ("throttle wrong", "store_throttle_wrong_transitions"),
    ("slow-store wrong", "store_slow_wrong_transitions"),
    ("down: dead after", "store_down_dead_calls_after_back"),
    ("USD/month", "state_store_usd_per_month"),
)
COMPARED_COLUMNS = (*CAPACITY_AND_LOSS, ("fleet opens", "fleet_opens"), ("probes/half-open", "probes_per_half_open"))


def _print_rows(columns: tuple[tuple[str, str], ...], rows: dict[str, dict]) -> None:
    print(f"{'environments':>22} " + " ".join(f"{label:>14}" for label, _ in columns))
    for n, row in rows.items():
        print(f"{n:>22} " + " ".join(f"{row.get(key, '-')!s:>14}" for _, key in columns))


def print_table(sizes: dict) -> None:
    _print_rows(COLUMNS, sizes)
    for scenario in scenarios.COMPARED:
        print(f"\n{scenario}")
        _print_rows(COMPARED_COLUMNS, {n: row["compared"][scenario] for n, row in sizes.items() if "compared" in row})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-variants", action="store_true", help="only the plain sizes")
    args = parser.parse_args()
    started = time.time()
    jobs = [job for n in args.sizes for job in scenarios.jobs_for(n, seed=args.seed, read_copies=READ_COPIES[n])]
    if not args.no_variants:
        for label, (n, copies) in VARIANTS.items():
            jobs += scenarios.jobs_for(n, seed=args.seed, label=label, read_copies=copies, only=VARIANT_SCENARIOS)
    jobs.sort(key=lambda job: -job.cost)
    with mp.get_context("spawn").Pool(args.processes) as pool:
        done = pool.map(scenarios.timed_run, jobs, chunksize=1)
    by_label: dict[str, dict] = {}
    cpu: dict[str, float] = {}
    for job, result, seconds in done:
        by_label.setdefault(job.label, {})[(job.scenario, job.mode)] = result
        cpu[f"{job.label}/{job.scenario}/{job.mode}"] = seconds
    sizes = {str(n): summarize(n, by_label[str(n)], READ_COPIES[n]) for n in args.sizes}
    variants = {
        label: summarize(n, by_label[label], copies) for label, (n, copies) in VARIANTS.items() if label in by_label
    }
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
                "sick_transient": "the sick environment, and one call of another failing at "
                f"{scenarios.TRANSIENT.start}-{scenarios.TRANSIENT.end} s",
                "ramp": f"environments arrive over {scenarios.RAMP.ramp_s} s, order_service hangs "
                f"{scenarios.RAMP_OUTAGE.start}-{scenarios.RAMP_OUTAGE.end} s",
                "flapping": f"order_service 5xx for the first half of every {scenarios.FLAPPING.period_s} s, "
                f"{scenarios.FLAPPING.start}-{scenarios.FLAPPING.end} s",
                "slow_dependency": "order_service answers past its slow-call threshold "
                f"{scenarios.SLOW_DEPENDENCY.start}-{scenarios.SLOW_DEPENDENCY.end} s",
                "slow_store": f"store {scenarios.SLOW_STORE.slowdown:.0f} times slower "
                f"{scenarios.SLOW_STORE.start}-{scenarios.SLOW_STORE.end} s, order_service 5xx "
                f"{scenarios.SLOW_STORE_DEPENDENCY.start}-{scenarios.SLOW_STORE_DEPENDENCY.end} s",
                "down_store": f"store down {scenarios.DOWN_STORE.start}-{scenarios.DOWN_STORE.end} s, order_service "
                f"hangs {scenarios.DOWN_STORE_DEPENDENCY.start}-{scenarios.DOWN_STORE_DEPENDENCY.end} s",
                "partitions": "each partition key its own partition (DynamoDB splits hot partitions and isolates "
                "hot keys); *_one_partition: every key's units added up, as on a table not yet split",
            },
            "read_copies_per_size": READ_COPIES,
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
