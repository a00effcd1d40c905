"""The local alarm path with nobody pushing it: a broken dependency's metrics trip its alarm in the stack's
own evaluator, which publishes to moto SNS, which reaches the alarm relay, which posts to Slack and PagerDuty."""

from __future__ import annotations

import time

import pytest

from local.stack_process import StackProcess
from mangaassist.registry import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_open_circuit_pages_through_the_evaluated_alarm():
    spec = REGISTRY["order_service"]
    env = {"PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "1", "LOCAL_QUIET": "1"}
    with StackProcess(env=env) as stack:
        stack.post("/_local/faults", json={"target": spec.name, "mode": "down"})
        headers = {"Authorization": "Bearer cust-0001", "Content-Type": "application/json"}
        for _ in range(spec.breaker.failure_threshold + 1):
            assert stack.post("/chat", json={"message": "Where is my order?"}, headers=headers).status_code == 200
        deadline = time.monotonic() + 15
        notes = {"slack": [], "pagerduty": []}
        while time.monotonic() < deadline and not notes["pagerduty"]:
            time.sleep(0.3)
            notes = stack.get("/_local/notifications").json()
        time.sleep(2.5)  # two more evaluations: a steady ALARM must not be re-sent
        notes = stack.get("/_local/notifications").json()
        evaluation = stack.get("/_local/alarms", params={"name": spec.circuit_open_alarm}).json()
    assert evaluation[spec.circuit_open_alarm]["state"] == "ALARM"
    assert evaluation[spec.circuit_open_alarm]["last_published"] == "ALARM"
    slack_alarms = [n for n in notes["slack"] if spec.circuit_open_alarm in n["text"]]
    assert len(slack_alarms) == 1
    pages = [p for p in notes["pagerduty"] if p["dedup_key"].endswith(f":alarm:{spec.circuit_open_alarm}")]
    assert [p["event_action"] for p in pages] == ["trigger"]
