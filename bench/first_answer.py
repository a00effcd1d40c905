"""The first FAQ answer of a new environment, before and after the embedded encoder (`make bench-first-answer`).

Each sample is a fresh interpreter that does what a new Lambda execution environment does for its first
request: import the chat handler (INIT), then answer one FAQ question ("送料はいくらですか", events/chat_faq.json)
with Bedrock down (its circuit forced open), so the templates-only path answers, against moto in server mode
with the state table and the FAQ document (and, for "after", its vectors) in S3. The clock runs from the
first line of the import to the handler's response: import, init and the first request together.

"before" is the last commit before the encoder (the lexical matcher and the rules alone), checked out in a
temporary git worktree; "after" is this checkout. They alternate in random order so drifts of a shared machine
hit both alike. The goal (issue 9): after <= 1.5x before. Writes bench/results/first_answer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.coldstart import IMPORT_HANDLER
from local.moto_process import MotoServer
from local.provision import function_env, local_refs, provision

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "first_answer.json"
BEFORE_REV = "7fa52f0"  # main just before "Understanding with an embedded encoder" (4f53430)
GOAL_RATIO = 1.5

PROBE = (
    IMPORT_HANDLER
    + """
import json

class Context:
    function_name = "mangaassist-chat"
    memory_limit_in_mb = 1024
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:mangaassist-chat"
    aws_request_id = "bench"
    def get_remaining_time_in_millis(self):
        return 10_000

event = json.loads(open(sys.argv[2], encoding="utf-8").read())
response = module.lambda_handler(event, Context())
answered = time.perf_counter()
body = json.loads(response["body"])
print(json.dumps({"status": response["statusCode"], "intent": body.get("intent"), "degraded_reason":
    body.get("degraded_reason"), "init_ms": (ready - started) * 1000, "total_ms": (answered - started) * 1000}))
"""
)


def worktree(rev: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix="mangaassist-before-"))
    git = ["git", "-C", str(ROOT), "worktree"]
    subprocess.run([*git, "add", "--detach", str(path), rev], check=True, capture_output=True)
    return path


def remove_worktree(path: Path) -> None:
    git = ["git", "-C", str(ROOT), "worktree"]
    subprocess.run([*git, "remove", "--force", str(path)], check=False, capture_output=True)


def sample(tree: Path, env: dict[str, str]) -> dict:
    layer = tree / "layers" / "mangaassist"
    function = tree / "functions" / "chat"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(function / "app.py"), str(tree / "events" / "chat_faq.json")],
        env={**env, "PYTHONPATH": os.pathsep.join([str(function), str(layer)])},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    row = json.loads(result.stdout.strip().splitlines()[-1])
    if row["status"] != 200 or row["intent"] != "faq":
        raise SystemExit(f"{tree}: the first answer was not an FAQ answer: {row}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--before", default=BEFORE_REV)
    args = parser.parse_args()
    before = worktree(args.before)
    moto = MotoServer().start()
    try:
        refs = local_refs("bench")
        provision(moto.url, refs, {}, "http://127.0.0.1:9/")
        env = {
            "PATH": os.environ.get("PATH", ""),
            "LANG": "C.UTF-8",
            "AWS_REGION": "ap-northeast-1",
            "AWS_DEFAULT_REGION": "ap-northeast-1",
            **function_env("ChatFunction", refs, {}),
            **moto.env(),
            # Nothing here sends traces, and both candidates pay the X-Ray SDK alike; leave it out of the figure.
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
        override = (
            "from mangaassist.breaker_factory import breakers_from_env\n"
            "breakers_from_env().set_override('llm', 'forced_open')\n"
        )
        subprocess.run(
            [sys.executable, "-c", override],
            env={**env, "PYTHONPATH": str(ROOT / "layers" / "mangaassist")},
            check=True,
            stdout=subprocess.DEVNULL,
        )
        candidates = {"before": before, "after": ROOT}
        for tree in candidates.values():  # bytecode compiled and the OS cache warm for both
            sample(tree, env)
        rows: dict[str, list[dict]] = {name: [] for name in candidates}
        started = time.monotonic()
        for _ in range(args.samples):
            order = list(candidates)
            random.shuffle(order)
            for name in order:
                rows[name].append(sample(candidates[name], env))
        elapsed = time.monotonic() - started
    finally:
        moto.stop()
        remove_worktree(before)
    figures = {}
    for name, samples in rows.items():
        total = [r["total_ms"] for r in samples]
        init = [r["init_ms"] for r in samples]
        figures[name] = {
            "median_total_ms": round(statistics.median(total), 1),
            "min_total_ms": round(min(total), 1),
            "median_init_ms": round(statistics.median(init), 1),
            "degraded_reason": samples[0]["degraded_reason"],
            "samples_total_ms": [round(t, 1) for t in total],
        }
    ratio = figures["after"]["median_total_ms"] / figures["before"]["median_total_ms"]
    result = {
        "what": "import + init + first FAQ answer (Bedrock down) in a fresh interpreter, before vs after the encoder",
        "before_rev": args.before,
        "goal_ratio": GOAL_RATIO,
        "ratio_of_medians": round(ratio, 2),
        "ratio_of_minimums": round(figures["after"]["min_total_ms"] / figures["before"]["min_total_ms"], 2),
        "within_goal": ratio <= GOAL_RATIO,
        "samples": args.samples,
        "seconds": round(elapsed, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **figures,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in candidates:
        f = figures[name]
        print(
            f"{name:>6}: median {f['median_total_ms']} ms (init {f['median_init_ms']} ms), min {f['min_total_ms']} ms"
        )
    print(f"after / before: {result['ratio_of_medians']}x (goal <= {GOAL_RATIO}x) -> {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
