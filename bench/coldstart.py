"""Cold start of the chat Lambda's module against a minimal Powertools REST handler (`make bench-coldstart`).

Each sample is a fresh interpreter that imports one handler module the way the Lambda runtime's INIT phase
does (sys.path: function directory first, then the layer) and reports the time from the first line of the
import to the handler being ready. The two candidates alternate in random order, so drifts of a shared,
noisy machine hit both alike. The goal (issue 6): chat <= 1.5x minimal.

Scenarios (the first is what `make build` deploys):
- as built: the template's environment (tracing on) and a layer with bytecode. /opt is read-only in Lambda,
  so only bytecode shipped in the layer is ever used; layers/mangaassist/Makefile precompiles it.
- without layer bytecode: what a pip --no-compile layer costs. Lambda then compiles the layer's sources on
  every cold start; the probe reproduces that with a bytecode cache that holds only what the runtime ships
  precompiled (the standard library, boto3 and botocore) and that nothing can write to.
- tracing off: POWERTOOLS_TRACE_DISABLED=true, without the X-Ray SDK import both pay when tracing is on;
  this shows the chat's own import cost most plainly.
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
import sysconfig
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.template_resources import ROOT, resource, template

RESULTS = ROOT / "bench" / "results" / "coldstart.json"
LAYER = ROOT / "layers" / "mangaassist"
MINIMAL_APP = ROOT / "bench" / "coldstart_minimal_app.py"
GOAL_RATIO = 1.5
# What the python3.13 runtime brings along, compiled, outside the layer.
RUNTIME_PACKAGES = ("boto3", "botocore", "s3transfer", "dateutil", "six")

# The Lambda runtime's INIT as a probe's first lines: import the handler module at sys.argv[1] as "app", timed
# from `started` to `ready`. bench/first_answer.py starts its probe the same way.
IMPORT_HANDLER = """
import importlib.util, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["app"] = module
spec.loader.exec_module(module)
ready = time.perf_counter()
"""

PROBE = (
    IMPORT_HANDLER
    + """if not callable(getattr(module, sys.argv[2], None)):
    raise SystemExit(f"{sys.argv[1]} has no handler {sys.argv[2]}")
print((ready - started) * 1000)
"""
)


@dataclass(frozen=True)
class Candidate:
    name: str
    path: Path
    handler: str
    environment: dict[str, str]


@dataclass(frozen=True)
class Scenario:
    name: str
    tracing: bool
    layer_bytecode: bool


SCENARIOS = (
    Scenario("as built: tracing on, layer with bytecode", tracing=True, layer_bytecode=True),
    Scenario("tracing on, layer without bytecode", tracing=True, layer_bytecode=False),
    Scenario("tracing off, layer with bytecode", tracing=False, layer_bytecode=True),
    Scenario("tracing off, layer without bytecode", tracing=False, layer_bytecode=False),
)


def _placeholder(key: str, value: Any) -> str:
    # Intrinsics (!Ref, !Sub) become readable stand-ins; nothing is contacted during INIT.
    return value if isinstance(value, str) else f"bench-{key.lower().replace('_', '-')}"


def chat_candidate() -> Candidate:
    props = resource("ChatFunction")["Properties"]
    module, handler = props["Handler"].split(".")
    variables = {
        **template()["Globals"]["Function"]["Environment"]["Variables"],
        **props["Environment"]["Variables"],
    }
    env = {key: _placeholder(key, value) for key, value in variables.items()}
    return Candidate("chat", ROOT / props["CodeUri"] / f"{module}.py", handler, env)


def minimal_candidate(chat: Candidate) -> Candidate:
    shared = {
        k: v for k, v in chat.environment.items() if k.startswith("POWERTOOLS_") and k != "POWERTOOLS_SERVICE_NAME"
    }
    return Candidate("minimal", MINIMAL_APP, "lambda_handler", {**shared, "POWERTOOLS_SERVICE_NAME": "minimal"})


def runtime_bytecode_cache(python: str) -> Path:
    """A pycache prefix holding compiled stdlib and the runtime's boto3, built once per interpreter."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.implementation.cache_tag)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    prefix = Path(tempfile.gettempdir()) / f"mangaassist-coldstart-pycache-{version}"
    marker = prefix / ".complete"
    if marker.exists():
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    script = (
        "import compileall, importlib.util, sys\n"
        "compileall.compile_dir(sys.argv[1], quiet=2, workers=0)\n"
        "for name in sys.argv[2:]:\n"
        "    spec = importlib.util.find_spec(name)\n"
        "    if spec and spec.submodule_search_locations:\n"
        "        compileall.compile_dir(list(spec.submodule_search_locations)[0], quiet=2, workers=0)\n"
        "    elif spec and spec.origin:\n"
        "        compileall.compile_file(spec.origin, quiet=2)\n"
    )
    print(f"compiling the standard library and boto3 into {prefix} (once) ...", flush=True)
    subprocess.run(
        [python, "-c", script, sysconfig.get_paths()["stdlib"], *RUNTIME_PACKAGES],
        env={**os.environ, "PYTHONPYCACHEPREFIX": str(prefix)},
        check=True,
    )
    marker.touch()
    return prefix


def sample(python: str, candidate: Candidate, scenario: Scenario, pycache_prefix: Path) -> float:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "PYTHONPATH": os.pathsep.join([str(candidate.path.parent), str(LAYER)]),
        "AWS_REGION": "ap-northeast-1",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",  # placeholders: INIT contacts nothing
        "AWS_LAMBDA_FUNCTION_NAME": f"bench-{candidate.name}",
        **candidate.environment,
        "POWERTOOLS_TRACE_DISABLED": "false" if scenario.tracing else "true",
    }
    if not scenario.layer_bytecode:
        # Bytecode only from the runtime's precompiled cache; the layer's sources compile on every start.
        env["PYTHONPYCACHEPREFIX"] = str(pycache_prefix)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    done = subprocess.run(
        [python, "-c", PROBE, str(candidate.path), candidate.handler],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=tempfile.gettempdir(),
    )
    if done.returncode != 0:
        raise RuntimeError(f"{candidate.name} failed to import:\n{done.stderr[-2000:]}")
    return float(done.stdout.strip().splitlines()[-1])


def summary(samples: list[float]) -> dict[str, Any]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 1),
        "mean_ms": round(statistics.fmean(ordered), 1),
        "p90_ms": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "min_ms": round(ordered[0], 1),
        "samples_ms": [round(s, 1) for s in samples],
    }


def warm_layer_bytecode(python: str, candidates: list[Candidate]) -> None:
    # One plain import of each writes the layer's own .pyc next to its sources, for the "with bytecode" runs.
    for candidate in candidates:
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(candidate.path.parent), str(LAYER)])}
        env.update(candidate.environment)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.pop("PYTHONPYCACHEPREFIX", None)
        for tracing in ("false", "true"):
            env["POWERTOOLS_TRACE_DISABLED"] = tracing
            subprocess.run(
                [python, "-c", PROBE, str(candidate.path), candidate.handler], env=env, capture_output=True, check=True
            )


def run(repetitions: int, scenarios: tuple[Scenario, ...], python: str, seed: int) -> dict[str, Any]:
    chat = chat_candidate()
    candidates = [chat, minimal_candidate(chat)]
    prefix = runtime_bytecode_cache(python)
    warm_layer_bytecode(python, candidates)
    rng = random.Random(seed)
    results = []
    for scenario in scenarios:
        samples: dict[str, list[float]] = {c.name: [] for c in candidates}
        started = time.perf_counter()
        for _ in range(repetitions):
            for candidate in rng.sample(candidates, k=len(candidates)):
                samples[candidate.name].append(sample(python, candidate, scenario, prefix))
        stats = {name: summary(values) for name, values in samples.items()}
        ratio = stats["chat"]["median_ms"] / stats["minimal"]["median_ms"]
        # The fastest sample is the one least disturbed by whatever else the machine is doing.
        ratio_of_minimums = stats["chat"]["min_ms"] / stats["minimal"]["min_ms"]
        results.append(
            {
                "scenario": scenario.name,
                "tracing": scenario.tracing,
                "layer_bytecode": scenario.layer_bytecode,
                "chat": stats["chat"],
                "minimal": stats["minimal"],
                "ratio_of_medians": round(ratio, 2),
                "ratio_of_minimums": round(ratio_of_minimums, 2),
                "within_goal": ratio <= GOAL_RATIO,
                "seconds": round(time.perf_counter() - started, 1),
            }
        )
        print(_line(results[-1]), flush=True)
    return {
        "what": "import + init of the handler module in a fresh interpreter (Lambda INIT), chat vs minimal",
        "goal_ratio": GOAL_RATIO,
        "repetitions": repetitions,
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "scenarios": results,
    }


def _line(result: dict[str, Any]) -> str:
    chat, minimal = result["chat"], result["minimal"]
    verdict = "within" if result["within_goal"] else "OVER"
    return (
        f"{result['scenario']:<50} chat {chat['median_ms']:>7.1f} ms (p90 {chat['p90_ms']:.0f})  "
        f"minimal {minimal['median_ms']:>7.1f} ms (p90 {minimal['p90_ms']:.0f})  "
        f"ratio {result['ratio_of_medians']:.2f}x (of minimums {result['ratio_of_minimums']:.2f}x)  "
        f"{verdict} the {GOAL_RATIO}x goal"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repetitions", type=int, default=20, help="samples per candidate and scenario")
    parser.add_argument("--python", default=sys.executable, help="interpreter to measure (3.13 = the runtime)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="only the as-deployed scenario")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    scenarios = SCENARIOS[:1] if args.quick else SCENARIOS
    print(f"{args.repetitions} fresh interpreters per candidate and scenario, interleaved ({args.python})")
    report = run(args.repetitions, scenarios, args.python, args.seed)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
