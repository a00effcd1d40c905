"""Cold start of the chat Lambda: import and init load only what every request needs, and stay cheap.

boto3 (~100 ms), requests, the adapters, the orchestrator and the FAQ index are built by the first
request that needs them (mangaassist.chat.runtime), so /health and rejected input never pay for them.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHAT = ROOT / "functions" / "chat" / "app.py"

# What Powertools' own examples deploy, with the request validation the chat is required to have.
MINIMAL_VALIDATING_HANDLER = """
from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

logger = Logger()
app = APIGatewayRestResolver(enable_validation=True)


@app.get("/health")
def health() -> dict:
    return {"status": "healthy"}


@logger.inject_lambda_context
def lambda_handler(event, context):
    return app.resolve(event, context)
"""

LOAD = (
    "import importlib.util, json, sys, time\n"
    "started = time.perf_counter()\n"
    "spec = importlib.util.spec_from_file_location('handler', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "spec.loader.exec_module(module)\n"
    "elapsed = (time.perf_counter() - started) * 1000\n"
    "print(json.dumps({'ms': elapsed, 'modules': sorted(sys.modules)}))\n"
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


@pytest.mark.slow
def test_import_and_init_within_1_5x_of_a_minimal_validating_handler(tmp_path: Path) -> None:
    minimal = tmp_path / "minimal_app.py"
    minimal.write_text(MINIMAL_VALIDATING_HANDLER, encoding="utf-8")
    chat_ms, minimal_ms = [], []
    for _ in range(5):  # alternate, so load on the machine hits both alike
        minimal_ms.append(load_in_fresh_interpreter(minimal)["ms"])
        chat_ms.append(load_in_fresh_interpreter(CHAT)["ms"])
    ratio = statistics.median(chat_ms) / statistics.median(minimal_ms)
    assert ratio <= 1.5, f"chat {statistics.median(chat_ms):.0f} ms vs minimal {statistics.median(minimal_ms):.0f} ms"
