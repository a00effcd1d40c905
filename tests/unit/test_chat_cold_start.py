"""Cold start of the chat Lambda: import and init load only what every request needs.

boto3 (~100 ms), requests, the adapters, the orchestrator and the FAQ index are built by the first
request that needs them (mangaassist.chat.runtime), so /health and rejected input never pay for them.
What that saves, against a minimal Powertools handler (goal <= 1.5x), is `make bench-coldstart`'s to measure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "functions" / "chat" / "app.py"

LOAD = (
    "import importlib.util, json, sys\n"
    "spec = importlib.util.spec_from_file_location('handler', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "print(json.dumps({'modules': sorted(sys.modules)}))\n"
)


def load_in_fresh_interpreter(path: Path) -> dict:
    env = {
        **os.environ,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers" / "mangaassist"), str(ROOT)]),
    }
    env.pop("STATE_TABLE", None)
    done = subprocess.run([sys.executable, "-c", LOAD, str(path)], capture_output=True, text=True, env=env, check=True)
    return json.loads(done.stdout)


def test_import_builds_no_client_adapter_or_orchestrator() -> None:
    modules = set(load_in_fresh_interpreter(CHAT)["modules"])
    deferred = {
        "boto3",
        "botocore.session",
        "requests",
        "mangaassist.aws_clients",
        "mangaassist.breaker_factory",
        "mangaassist.downstream.http_services",
        "mangaassist.downstream.bedrock",
        "mangaassist.chat.orchestrator",
        "mangaassist.chat.flows",
        "mangaassist.faq.matcher",
        "aws_xray_sdk",
    }
    assert not deferred & modules, sorted(deferred & modules)
