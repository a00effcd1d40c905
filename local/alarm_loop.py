"""CloudWatch's part of the alarm path, locally (moto evaluates no alarm): every few seconds evaluate the
template's alarms on the workers' EMF datapoints (local/alarms.py) and publish each OK <-> ALARM change, or a
state asked for through `/_local/alarms/<AlarmName>`, to the topic the alarm's actions name."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from local.alarms import UnsupportedExpressionError, alarm_properties, evaluable_alarms, evaluate, notification
from local.metric_sink import MetricSink

ACTIONS = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}


class AlarmLoop:
    def __init__(self, sink: MetricSink, refs: dict[str, Any], sns: Any):
        self.sink = sink
        self.refs = refs
        self.sns = sns
        self.evaluable = evaluable_alarms(refs)
        self.states: dict[str, str] = {}  # the state last published per alarm
        # Rounds the background loop has finished: what a test waits on to know "n more evaluations ran".
        self.rounds = 0
        self._lock = threading.Lock()

    def evaluate(self, name: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for alarm in [name] if name else self.evaluable:
            try:
                evaluation = dataclasses.asdict(evaluate(alarm, self.sink, self.refs))
            except (UnsupportedExpressionError, KeyError) as err:
                evaluation = {"alarm": alarm, "state": None, "reason": f"not evaluated locally: {err}"}
            out[alarm] = {**evaluation, "last_published": self.states.get(alarm), "evaluator_rounds": self.rounds}
        return out

    def publish(self, name: str, state: str, reason: str | None = None) -> dict[str, Any]:
        """Publish alarm ``name``'s change to ``state`` to the topic its actions name in template.yaml."""
        _, props = alarm_properties(name, self.refs)
        topics = sorted({topic for key in ACTIONS.values() for topic in props.get(key, [])})
        if not topics:
            raise UnsupportedExpressionError(f"{name} has no actions in template.yaml: CloudWatch notifies nobody")
        if reason is None:
            try:
                reason = evaluate(name, self.sink, self.refs).reason
            except (UnsupportedExpressionError, KeyError):
                reason = f"Set to {state} through the local control API."
        with self._lock:
            old = self.states.get(name) or ("OK" if state != "OK" else "INSUFFICIENT_DATA")
            subject, message = notification(name, state, old, reason, self.refs)
            ids = [self.sns.publish(TopicArn=t, Subject=subject, Message=message)["MessageId"] for t in topics]
            self.states[name] = state
        notes = []
        if not props.get(ACTIONS[state]):
            notes.append(f"template.yaml gives {name} no {ACTIONS[state]}: CloudWatch would not notify this change")
        return {"alarm": name, "state": state, "old_state": old, "message_ids": ids, "topics": topics, "notes": notes}

    def run(self, interval_s: float, stop: threading.Event) -> None:
        """Until ``stop``: evaluate every ``interval_s`` and notify on OK <-> ALARM changes."""
        while not stop.wait(interval_s):
            for name in self.evaluable:
                previous = self.states.get(name, "OK")
                try:
                    evaluation = evaluate(name, self.sink, self.refs)
                    if evaluation.state in ("OK", "ALARM") and evaluation.state != previous:
                        self.publish(name, evaluation.state, evaluation.reason)
                        print(f"[local] alarm {name}: {previous} -> {evaluation.state}", flush=True)
                except Exception as err:  # keep evaluating the others; moto may be busy or stopping
                    print(f"[local] could not evaluate or publish alarm {name}: {err}", flush=True)
            self.rounds += 1
