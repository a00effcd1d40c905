"""A killed execution environment fails only its in-flight request, at once, with API Gateway's 502.

The stack used to close a dead worker's socket from its supervisor thread while the front's thread was
still waiting on it; closing a socket does not wake a thread blocked on it, so in about one kill in twelve
that request waited out the function's Timeout (12 s) instead. Each round here kills both busy workers.
"""

from __future__ import annotations

import threading
import time

import pytest

from bench.stack_process import StackProcess
from local.template_resources import function_properties

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]

ROUNDS = 10
ORDER_LATENCY_MS = 400  # every request spends a while inside its worker, waiting for order_service
FAIL_FAST_S = 2.0
HEADERS = {"Authorization": "Bearer cust-0001", "Content-Type": "application/json"}


def chat_workers(stack: StackProcess) -> list[dict]:
    return [w for w in stack.get("/_local/workers").json()["workers"] if w["function"] == "ChatFunction"]


def ask(stack: StackProcess, replies: list[tuple[int, float]]) -> None:
    started = time.perf_counter()
    response = stack.post("/chat", json={"message": "Where is my order?"}, headers=HEADERS, timeout=30)
    replies.append((response.status_code, time.perf_counter() - started))


def test_each_killed_workers_request_fails_at_once_and_the_fleet_recovers():
    assert float(function_properties("ChatFunction")["Timeout"]) > FAIL_FAST_S
    env = {"PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "0", "LOCAL_QUIET": "1"}
    with StackProcess(workers=2, env=env) as stack:
        stack.post("/_local/faults", json={"target": "order_service", "mode": "slow", "latency_ms": ORDER_LATENCY_MS})
        outcomes: list[tuple[int, float]] = []
        for _ in range(ROUNDS):
            replies: list[tuple[int, float]] = []
            askers = [threading.Thread(target=ask, args=(stack, replies)) for _ in range(2)]
            for asker in askers:
                asker.start()
            time.sleep(0.15)
            for worker in chat_workers(stack):
                if worker["busy"]:
                    stack.delete(f"/_local/workers/{worker['name']}")
            for asker in askers:
                asker.join()
            outcomes += replies
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and not (
                len(ws := chat_workers(stack)) == 2 and all(w["alive"] and not w["busy"] for w in ws)
            ):
                time.sleep(0.05)
        log = stack.log()
    killed = [seconds for status, seconds in outcomes if status != 200]
    assert len(killed) >= ROUNDS, outcomes  # most rounds killed both busy workers
    assert all(status in (200, 502) for status, _ in outcomes), outcomes
    assert max(killed) < FAIL_FAST_S, sorted(killed)[-3:]
    assert "Sandbox.Timedout" not in log
