"""`make gameday`: the seed's game days against a fresh local stack, one report row per scenario.

    python -m local.gameday [--workers 2] [--time-scale 10] [--only 1,4] [--json report.json]

The stack runs with LOCAL_TIME_SCALE (default 10): the breakers' open periods and the 5-minute banner delay
are divided by it in every process, so a run takes a few minutes; thresholds, windows, timeouts and request
budgets stay the registry's. The report's "open s" and "close s" are seconds of that compressed clock.
Exit code 1 when any expectation failed (each failure is listed under the table).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
import traceback
from pathlib import Path

# `python -m local.<this>` from the repository root: the layer's package is not installed, put it on the path.
LAYER = Path(__file__).resolve().parent.parent / "layers" / "mangaassist"
if importlib.util.find_spec("mangaassist") is None:
    sys.path.insert(0, str(LAYER))

from local.gameday_drill import Drill, Row  # noqa: E402
from local.gameday_scenarios import SCENARIOS  # noqa: E402
from local.stack_process import StackProcess  # noqa: E402

DEFAULT_TIME_SCALE = 10.0


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[Row], time_scale: float) -> str:
    header = (
        f"{'scenario':<31}{'requests':>9}{'raw err':>8}{'degraded':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'reached':>8}{'open s':>8}{'close s':>8}  result"
    )
    lines = [
        f"MangaAssist game day (open periods and banner delay compressed {time_scale:g}x)",
        header,
        "-" * len(header),
    ]
    for row in rows:
        share = row.degraded_share
        lines.append(
            f"{row.scenario:<31}{len(row.replies):>9}{row.raw_errors:>8}"
            f"{_fmt(None if share is None else share * 100, '.0f') + '%' if share is not None else '-':>9}"
            f"{_fmt(row.percentile_ms(50), '.0f'):>8}{_fmt(row.percentile_ms(99), '.0f'):>8}"
            f"{_fmt(row.reached, 'd'):>8}{_fmt(row.open_s, '.1f'):>8}{_fmt(row.close_s, '.1f'):>8}  "
            f"{'PASS' if row.passed else 'FAIL'}"
        )
    lines.append("-" * len(header))
    for row in rows:
        failed = [(n, d) for n, ok, d in row.checks if not ok]
        if failed or row.notes:
            lines.append(f"{row.scenario}:")
        for name, detail in failed:
            lines.append(f"  FAILED {name}: {detail}")
        for note in row.notes:
            lines.append(f"  note: {note}")
    return "\n".join(lines)


def run(workers: int, time_scale: float, only: set[int] | None) -> tuple[list[Row], StackProcess]:
    stack = StackProcess(
        workers=workers,
        env={
            "LOCAL_TIME_SCALE": str(time_scale),
            "PING_INTERVAL_S": "0",  # every ping is one a scenario asks for, so call counts stay exact
            "LOCAL_ALARM_EVAL_S": "0",  # alarms are evaluated and published by the scenarios themselves
            "LOCAL_QUIET": "1",
        },
    ).start()
    print(f"fresh stack ready in {stack.ready_s:.1f} s at {stack.url} (log: {stack.log_path})", flush=True)
    drill = Drill(stack, workers, time_scale)
    rows = []
    try:
        for index, (name, scenario) in enumerate(SCENARIOS, start=1):
            if only and index not in only:
                continue
            row = Row(name)
            started = time.perf_counter()
            try:
                scenario(drill, row)
            except Exception as err:  # a scenario that cannot finish is a failed expectation, not a crash
                row.expect("scenario ran to the end", False, f"{type(err).__name__}: {err}")
                traceback.print_exc()
            row.expect(
                "no raw error shown to a user",
                row.raw_errors <= row.allowed_failures,
                f"{row.raw_errors} raw errors",
            )
            row.duration_s = time.perf_counter() - started
            rows.append(row)
            print(f"  {name}: {'PASS' if row.passed else 'FAIL'} in {row.duration_s:.1f} s", flush=True)
    finally:
        code = stack.stop()
        if code != 0:
            print(f"the stack exited with {code}; its log: {stack.log_path}", flush=True)
    return rows, stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.gameday", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE)
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 1,4")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    only = {int(n) for n in args.only.split(",") if n.strip()} or None
    started = time.perf_counter()
    rows, _ = run(args.workers, max(1.0, args.time_scale), only)
    print()
    print(render(rows, args.time_scale))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {sum(r.passed for r in rows)}/{len(rows)} scenarios passed")
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    return 0 if rows and all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
