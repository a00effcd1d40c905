"""`python -m local.simulators` from a shell: prints where everything listens, serves, stops on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from mangaassist.downstream.sigv4 import SigV4RequestAuth
from mangaassist.registry import REGISTRY, SERVICE_NAMES

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def start(*args: str) -> subprocess.Popen:
    # The repo root only, as a developer's shell has it: the package must find the layer by itself.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.Popen(
        [sys.executable, "-m", "local.simulators", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_cli_prints_urls_serves_and_exits_cleanly_on_sigterm():
    process = start()
    try:
        urls = json.loads(process.stdout.readline())
        assert set(urls) == set(SERVICE_NAMES)
        for service, url in urls.items():
            assert requests.get(url + REGISTRY[service].health_path, timeout=5, auth=SigV4RequestAuth()).json() == {
                "status": "ok"
            }
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr.read() == ""


def test_the_cli_prints_the_env_for_clients_and_stops_on_ctrl_c():
    process = start("--env")
    try:
        env = json.loads(process.stdout.readline())
        assert "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" in env
        assert {spec.url_env for spec in REGISTRY.values() if spec.kind == "http"} < set(env)
        orders = requests.get(
            env["ORDER_SERVICE_URL"] + "/customers/cust-0001/orders", timeout=5, auth=SigV4RequestAuth()
        )
        assert orders.json()["orders"]
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
