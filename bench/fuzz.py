"""`make fuzz`: schemathesis against a running local stack, from openapi.json: no 5xx, no schema-breaking answer.

    python -m bench.fuzz [--url http://127.0.0.1:3000] [--max-examples 40] [--max-time 180]

Without --url it starts a fresh stack on a free port (as `make run` would) and stops it afterwards.
The checks: not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance. GET /health is fuzzed in a second pass without not_a_server_error: its 503 is
the documented "unhealthy" answer a load balancer acts on, so there it must only conform to the schema.
Runtime is bounded by --max-examples per operation and --max-time per pass; the seed is fixed so a
failure reproduces.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.stack_process import StackProcess

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "openapi.json"
CONFORMANCE = "status_code_conformance,content_type_conformance,response_schema_conformance"
PASSES = (
    # (what, extra arguments, checks)
    ("every route but /health", ["--exclude-path", "/health"], f"not_a_server_error,{CONFORMANCE}"),
    ("GET /health", ["--include-path", "/health"], CONFORMANCE),
)
SEED = 20260326


def schemathesis_command(
    url: str, selection: list[str], checks: str, max_examples: int, max_time: int, report_dir: Path
) -> list[str]:
    return [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        str(SCHEMA),
        "--url",
        url,
        *selection,
        "--checks",
        checks,
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(max_time),
        "--seed",
        str(SEED),
        "--workers",
        "2",
        "--request-timeout",
        "20",
        "--suppress-health-check",
        "too_slow",
        "--report",
        "junit",
        "--report-dir",
        str(report_dir),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.getenv("STACK_URL", ""), help="a running stack (default: start one)")
    parser.add_argument("--max-examples", type=int, default=int(os.getenv("FUZZ_MAX_EXAMPLES", "40")))
    parser.add_argument("--max-time", type=int, default=int(os.getenv("FUZZ_MAX_TIME_S", "90")))
    parser.add_argument("--report-dir", type=Path, default=Path(tempfile.gettempdir()) / "mangaassist-fuzz")
    args = parser.parse_args(argv)
    if not SCHEMA.exists():
        print(f"{SCHEMA.name} is missing: run `make openapi` first", file=sys.stderr)
        return 2
    stack = None
    url = args.url
    if not url:
        # The schedule and the alarm evaluator only add noise to a fuzz run.
        stack = StackProcess(env={"PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "0", "LOCAL_QUIET": "1"}).start()
        url = stack.url
        print(f"fresh stack ready in {stack.ready_s:.1f} s at {url} (log: {stack.log_path})", flush=True)
    try:
        failed = []
        for what, selection, checks in PASSES:
            print(f"== schemathesis: {what} ({checks})", flush=True)
            command = schemathesis_command(url, selection, checks, args.max_examples, args.max_time, args.report_dir)
            env = {**os.environ, "SCHEMATHESIS_HOOKS": "bench.fuzz_hooks", "PYTHONPATH": str(ROOT)}
            if subprocess.run(command, cwd=ROOT, env=env, check=False).returncode != 0:
                failed.append(what)
        print(f"== fuzz: {'failed on ' + ', '.join(failed) if failed else 'no failures'}", flush=True)
        return 1 if failed else 0
    finally:
        if stack is not None:
            stack.stop()


if __name__ == "__main__":
    sys.exit(main())
