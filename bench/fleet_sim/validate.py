"""The simulator against reality: `make bench-breaker`'s 8- and 16-environment dead-call rows, simulated.

The lab's store is moto in server mode, so the simulated store is configured as moto measured on this
machine, not as DynamoDB: one request at a time, 5 ms each (a 7 ms idle round trip, 1.8 ms of it the client's
CPU). The workers' own CPU (boto3, requests, the breaker) is shared by all worker processes on the core moto
leaves, so it stretches with their number: 1.8 ms per request and 1.5 ms per call at four workers per core's
worth, doubled at eight. The dependency answers 503 in 2 ms. The workers' loop is bench/fleet_lab.py's and the
breaker is the real one.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path

from bench.fleet_sim.dynamo_model import Latency
from bench.fleet_sim.fleet import FLEET, REGISTRY, SERVICE, DependencyFault, Fleet, LabWorkload, Traffic, lab_registry

RESULTS = Path(__file__).resolve().parents[1] / "results"
MOTO_SERVICE = Latency(median_s=0.005, sigma=0.4, tail_p=0.0)
CLIENT_CPU_S, NETWORK_S, CALL_CPU_S = 0.0018, 0.0004, 0.0015


def contention(workers: int) -> float:
    """Eight workers on the one core moto leaves run each at a quarter speed... of two: time doubles."""
    return workers / 4


DEPENDENCY_503 = Latency(median_s=0.002, sigma=0.3, tail_p=0.0)

# bench/breaker_fleet.py's spread() and burst(): (workers, threshold, stagger, interval_s, duration_s)
CASES = {
    "spread_calls_n8_t3": (8, 3, True, 0.1, 3.0),
    "spread_calls_n8_t5": (8, 5, True, 0.1, 3.0),
    "spread_calls_n16_t3": (16, 3, True, 0.1, 3.0),
    "burst_calls_t3": (8, 3, False, 0.3, 2.0),
}


def simulate(case: str, seed: int, breaker_options: dict | None = None) -> int:
    workers, threshold, stagger, interval_s, duration_s = CASES[case]
    fleet = Fleet(
        workers,
        FLEET,
        seed,
        spec=lab_registry(REGISTRY[SERVICE], failure_threshold=threshold, open_seconds=60, max_open_seconds=60),
        dependency_faults=(DependencyFault("error", 0.0, float("inf")),),
        traffic=Traffic("together"),
        workload=LabWorkload(
            interval_s=interval_s,
            stagger=stagger,
            duration_s=duration_s,
            overhead=Latency(median_s=CALL_CPU_S * contention(workers), sigma=0.5, tail_p=0.0),
        ),
        store_latency=Latency(median_s=CLIENT_CPU_S * contention(workers) + NETWORK_S, sigma=0.4, tail_p=0.0),
        store_single_server=MOTO_SERVICE,
        dependency_latency=DEPENDENCY_503,
        breaker_options=breaker_options or {},
    )
    return fleet.run(duration_s + 1.0).dead_calls


def real_runs() -> dict[str, list[int]]:
    """The repeated real runs of bench/fleet_sim/real_spread.py (same code, same machine)."""
    runs = json.loads((RESULTS / "breaker_spread.json").read_text(encoding="utf-8"))["runs"]
    return {case: runs[case] for case in CASES}


def compare(seeds: int = 20, breaker_options: dict | None = None) -> dict[str, dict]:
    real = real_runs()
    rows = {}
    for case in CASES:
        sim = sorted(simulate(case, seed, breaker_options) for seed in range(seeds))
        rows[case] = {
            "real": sorted(real[case]),
            "real_spread": [min(real[case]), max(real[case])],
            "simulated": sim,
            "simulated_median": statistics.median(sim),
            "simulated_spread": [sim[0], sim[-1]],
        }
    return rows


def print_rows(rows: dict[str, dict]) -> None:
    print(f"{'dead calls':24} {'real runs':>22} {'real spread':>12} {'sim median':>11} {'sim spread':>11}")
    for case, row in rows.items():
        print(
            f"{case:24} {','.join(map(str, row['real'])):>22} {row['real_spread']!s:>12} "
            f"{row['simulated_median']:>11} {row['simulated_spread']!s:>11}"
        )


def main() -> None:
    print_rows(compare())


if __name__ == "__main__":
    main()
