"""The local alarm path with nobody pushing it: a broken dependency's metrics trip its alarm in the stack's
own evaluator, which publishes to moto SNS, which reaches the alarm relay, which posts to Slack and PagerDuty."""

from __future__ import annotations

import time

import pytest

from bench.stack_process import StackProcess
from mangaassist.registry import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def wait_for(predicate, timeout_s: float = 15.0):
    """Polls for a signal; the timeout only turns a signal that never comes into a failure."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def evaluation_of(stack: StackProcess, alarm: str) -> dict:
    return stack.get("/_local/alarms", params={"name": alarm}).json()[alarm]


def idle_alarm_relay(stack: StackProcess) -> dict | None:
    workers = stack.get("/_local/workers").json()["workers"]
    (relay,) = [w for w in workers if w["function"] == "AlarmRelayFunction"]
    return None if relay["busy"] else relay


def test_open_circuit_pages_through_the_evaluated_alarm():
    spec = REGISTRY["order_service"]
    env = {"PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "1", "LOCAL_QUIET": "1"}
    with StackProcess(env=env) as stack:
        stack.post("/_local/faults", json={"target": spec.name, "mode": "down"})
        headers = {"Authorization": "Bearer cust-0001", "Content-Type": "application/json"}
        for _ in range(spec.breaker.failure_threshold + 1):
            assert stack.post("/chat", json={"message": "Where is my order?"}, headers=headers).status_code == 200
        wait_for(lambda: stack.get("/_local/notifications").json()["pagerduty"])
        paged_at_round = evaluation_of(stack, spec.circuit_open_alarm)["evaluator_rounds"]
        # Two more finished evaluations, counted rather than slept for: a steady ALARM must not be re-sent.
        wait_for(lambda: evaluation_of(stack, spec.circuit_open_alarm)["evaluator_rounds"] >= paged_at_round + 2)
        # A re-send in those rounds was handed to the relay inside publish() (moto posts to the stack's SNS
        # subscription before it answers); once the relay is idle, whatever it was going to post is posted.
        # Other alarms (the availability ones) may fire meanwhile, hence the filter by name below.
        wait_for(lambda: idle_alarm_relay(stack))
        notes = stack.get("/_local/notifications").json()
        evaluation = {spec.circuit_open_alarm: evaluation_of(stack, spec.circuit_open_alarm)}
    assert evaluation[spec.circuit_open_alarm]["state"] == "ALARM"
    assert evaluation[spec.circuit_open_alarm]["last_published"] == "ALARM"
    slack_alarms = [n for n in notes["slack"] if spec.circuit_open_alarm in n["text"]]
    assert len(slack_alarms) == 1
    pages = [p for p in notes["pagerduty"] if p["dedup_key"].endswith(f":alarm:{spec.circuit_open_alarm}")]
    assert [p["event_action"] for p in pages] == ["trigger"]
