"""The real 8- and 16-process runs of `make bench-breaker`, repeated, so the simulator has a spread to meet.

Runs only this breaker's dead-call rows (spread n8 t3, n8 t5, n16 t3, burst t3) ``--repeats`` times against
one moto server and writes every count to bench/results/breaker_spread.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from bench.breaker_fleet import burst, spread
from local.moto_process import MotoServer

RESULTS = Path(__file__).resolve().parents[1] / "results" / "breaker_spread.json"
CASES = {
    "spread_calls_n8_t3": lambda moto: spread(moto, "fleet", 8, 3),
    "spread_calls_n8_t5": lambda moto: spread(moto, "fleet", 8, 5),
    "spread_calls_n16_t3": lambda moto: spread(moto, "fleet", 16, 3),
    "burst_calls_t3": lambda moto: burst(moto, "fleet", 8, 3),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    runs: dict[str, list[int]] = {case: [] for case in CASES}
    with MotoServer() as moto:
        for i in range(args.repeats):
            for case, run in CASES.items():
                runs[case].append(run(moto))
            print(f"repeat {i + 1}: " + ", ".join(f"{c}={v[-1]}" for c, v in runs.items()), flush=True)
    # The committed bench-breaker result is one more real run of the same rows.
    results = {
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        },
        "runs": runs,
        "spread": {case: [min(v), max(v)] for case, v in runs.items()},
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results["spread"]))


if __name__ == "__main__":
    main()
