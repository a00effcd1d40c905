"""`make gameday`: the seed's game days against fresh local stacks, one report row per scenario.

    python -m bench.gameday [--workers 2] [--fleet-workers 16] [--time-scale 10] [--only 1,4] [--json report.json]

Two stacks, each started the first time a scenario needs it: a quiet one ($WORKERS environments, health
pings and alarm evaluations only when a scenario asks, so counts are exact) and a busy one for scenario 1
(one environment per concurrent customer, health pings on the template's schedule, every alarm evaluated
on the emitted metrics). Both run with LOCAL_TIME_SCALE (default 10): the breakers' open periods and the
5-minute banner delay are divided by it in every process; thresholds, windows, alarm periods, timeouts and
request budgets stay the registry's and the template's. The report's "open s" and "close s" are seconds of
that compressed clock. A scenario's last step that must wait for an alarm period runs after the others.
Exit code 1 when any expectation failed (each failure is listed under the table).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench.gameday.drill import Drill, Row
from bench.gameday.scenarios import QUIET, SCENARIOS, UNDER_LOAD, Scenario, warm_fleet
from bench.stack_process import StackProcess
from local.template_resources import function_properties

DEFAULT_TIME_SCALE = 10.0
# Lambda runs one request per execution environment: 16 concurrent customers are 16 environments.
DEFAULT_FLEET_WORKERS = 16
# CloudWatch evaluates once a minute; the busy stack looks more often so notifications arrive sooner. The
# alarms' periods and thresholds are the template's.
BUSY_ALARM_EVAL_S = 2.0
RATE = re.compile(r"rate\((\d+) (minute|hour|day)s?\)")
RATE_UNITS_S = {"minute": 60, "hour": 3600, "day": 86400}


def ping_schedule_s() -> float:
    """The health ping's schedule in template.yaml (``rate(1 minute)``), in seconds."""
    for event in function_properties("HealthPingFunction").get("Events", {}).values():
        match = RATE.fullmatch(str(event.get("Properties", {}).get("Schedule", "")).strip())
        if match:
            return float(int(match[1]) * RATE_UNITS_S[match[2]])
    raise ValueError("HealthPingFunction has no rate(...) schedule in template.yaml")


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(rows: list[Row], time_scale: float) -> str:
    width = max([31, *(len(row.scenario) + 1 for row in rows)])
    header = (
        f"{'scenario':<{width}}{'requests':>9}{'raw err':>8}{'degraded':>9}{'p50 ms':>8}{'p99 ms':>8}"
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
            f"{row.scenario:<{width}}{len(row.replies):>9}{row.raw_errors:>8}"
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


class Stacks:
    """The game day's stacks by kind, each started fresh the first time a scenario needs it."""

    def __init__(self, workers: int, fleet_workers: int, time_scale: float):
        self.sizes = {QUIET: workers, UNDER_LOAD: fleet_workers}
        self.time_scale = time_scale
        self.started: dict[str, tuple[StackProcess, Drill]] = {}

    def env(self, kind: str, log_dir: Path) -> dict[str, str]:
        common = {"LOCAL_TIME_SCALE": str(self.time_scale), "LOCAL_QUIET": "1", "LOCAL_LOG_DIR": str(log_dir)}
        if kind == UNDER_LOAD:
            return {**common, "PING_INTERVAL_S": str(ping_schedule_s()), "LOCAL_ALARM_EVAL_S": str(BUSY_ALARM_EVAL_S)}
        # Every ping is one a scenario asks for and alarms are evaluated only on request: exact counts.
        return {**common, "PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "0"}

    def drill(self, kind: str) -> Drill:
        if kind not in self.started:
            log_dir = Path(tempfile.mkdtemp(prefix=f"mangaassist-gameday-{kind.replace(' ', '-')}-"))
            stack = StackProcess(workers=self.sizes[kind], env=self.env(kind, log_dir)).start()
            print(
                f"fresh {kind} stack ({self.sizes[kind]} chat environments) ready in {stack.ready_s:.1f} s "
                f"at {stack.url} (logs: {stack.log_path}, {log_dir / 'workers.log'})",
                flush=True,
            )
            drill = Drill(stack, self.sizes[kind], self.time_scale, log_dir)
            warm_fleet(drill)
            self.started[kind] = (stack, drill)
        return self.started[kind][1]

    def stop(self) -> list[StackProcess]:
        stacks = [stack for stack, _ in self.started.values()]
        for stack in stacks:
            code = stack.stop()
            if code != 0:
                print(f"a stack exited with {code}; its log: {stack.log_path}", flush=True)
        return stacks


def _attempt(row: Row, step: Callable[[], object]) -> object:
    try:
        return step()
    except Exception as err:  # a scenario that cannot finish is a failed expectation, not a crash
        row.expect("scenario ran to the end", False, f"{type(err).__name__}: {err}")
        traceback.print_exc()
        return None


def run(
    workers: int,
    time_scale: float,
    only: set[int] | None,
    fleet_workers: int = DEFAULT_FLEET_WORKERS,
    scenarios: list[Scenario] = SCENARIOS,
) -> tuple[list[Row], list[StackProcess]]:
    """Each selected scenario's row, and the stacks they ran on (stopped)."""
    stacks = Stacks(workers, fleet_workers, time_scale)
    rows: list[Row] = []
    pending: list[tuple[Row, Callable[[], None], float]] = []
    try:
        for index, scenario in enumerate(scenarios, start=1):
            if only and index not in only:
                continue
            row = Row(scenario.name)
            rows.append(row)
            started = time.perf_counter()
            drill = _attempt(row, lambda s=scenario: stacks.drill(s.stack))
            finish = _attempt(row, lambda s=scenario, d=drill, r=row: s.run(d, r)) if drill else None
            row.duration_s = time.perf_counter() - started
            if callable(finish):
                pending.append((row, finish, row.duration_s))
                print(f"  {scenario.name}: its last step waits for time to pass; it runs after the others", flush=True)
            else:
                _close(row)
        for row, finish, spent in pending:
            started = time.perf_counter()
            _attempt(row, finish)
            row.duration_s = spent + time.perf_counter() - started
            _close(row)
    finally:
        stopped = stacks.stop()
    return rows, stopped


def _close(row: Row) -> None:
    row.expect("no raw error shown to a user", row.raw_errors <= row.allowed_failures, f"{row.raw_errors} raw errors")
    print(f"  {row.scenario}: {'PASS' if row.passed else 'FAIL'} in {row.duration_s:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gameday", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="chat environments of the quiet stack")
    parser.add_argument(
        "--fleet-workers",
        type=int,
        default=DEFAULT_FLEET_WORKERS,
        help="chat environments (and concurrent customers) of the busy stack scenario 1 runs on",
    )
    parser.add_argument("--time-scale", type=float, default=DEFAULT_TIME_SCALE)
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 1,4")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    args = parser.parse_args(argv)
    only = {int(n) for n in args.only.split(",") if n.strip()} or None
    started = time.perf_counter()
    rows, _ = run(args.workers, max(1.0, args.time_scale), only, fleet_workers=max(1, args.fleet_workers))
    print()
    print(render(rows, args.time_scale))
    print(f"\ntotal {time.perf_counter() - started:.0f} s; {sum(r.passed for r in rows)}/{len(rows)} scenarios passed")
    if args.json:
        args.json.write_text(json.dumps([r.as_dict() for r in rows], indent=2, ensure_ascii=False))
    return 0 if rows and all(r.passed for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
