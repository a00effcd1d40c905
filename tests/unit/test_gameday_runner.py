"""The game-day runner's own logic, without a stack: deferred last steps, failures as expectations, the
report, and what the drill reads out of the receivers and the workers' log."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from bench.gameday import runner as gameday
from bench.gameday.drill import Drill, Reply, Row
from bench.gameday.scenarios import QUIET, UNDER_LOAD, Scenario, alarm_period_s
from mangaassist.ops.alarms import ORDER_SERVICE_AVAILABILITY


class FakeStacks:
    """Stands in for gameday.Stacks: hands out a marker per stack kind and records what started and stopped."""

    instances: ClassVar[list[FakeStacks]] = []

    def __init__(self, workers: int, fleet_workers: int, time_scale: float):
        self.sizes = {QUIET: workers, UNDER_LOAD: fleet_workers}
        self.asked: list[str] = []
        self.stopped = False
        FakeStacks.instances.append(self)

    def drill(self, kind: str) -> str:
        self.asked.append(kind)
        return f"{kind}:{self.sizes[kind]}"

    def stop(self) -> list:
        self.stopped = True
        return []


@pytest.fixture
def fake_stacks(monkeypatch):
    FakeStacks.instances.clear()
    monkeypatch.setattr(gameday, "Stacks", FakeStacks)
    return FakeStacks.instances


def ok_reply(degraded: bool = False) -> Reply:
    return Reply(0.0, 0.01, 200, {"message": "hello", "degraded": degraded}, "chat-1", None)


def test_a_deferred_step_runs_after_the_other_scenarios_and_counts(fake_stacks) -> None:
    order: list[str] = []

    def slow_alarm(drill, row: Row):
        order.append(f"slow on {drill}")
        row.replies.append(ok_reply(degraded=True))

        def finish() -> None:
            order.append("slow finish")
            row.expect("alarm resolved", False, "no OK")

        return finish

    def quick(drill, row: Row):
        order.append(f"quick on {drill}")
        row.replies.append(ok_reply())
        row.expect("quick check", True)

    scenarios = [Scenario("1 slow", slow_alarm, UNDER_LOAD), Scenario("2 quick", quick)]
    rows, _ = gameday.run(workers=2, time_scale=10, only=None, fleet_workers=16, scenarios=scenarios)

    assert order == ["slow on under load:16", "quick on quiet:2", "slow finish"]
    assert [r.scenario for r in rows] == ["1 slow", "2 quick"]
    slow, quick_row = rows
    assert not slow.passed
    assert [name for name, ok, _ in slow.checks if not ok] == ["alarm resolved"]
    assert slow.checks[-1][0] == "no raw error shown to a user"  # judged after the deferred step
    assert quick_row.passed
    assert fake_stacks[0].stopped


def test_a_crashing_scenario_or_step_is_a_failed_expectation_and_the_rest_still_runs(fake_stacks) -> None:
    def crashes(drill, row: Row):
        raise ConnectionError("stack went away")

    def crashes_later(drill, row: Row):
        def finish() -> None:
            raise TimeoutError("no OK")

        return finish

    ran: list[str] = []
    scenarios = [
        Scenario("1 crash", crashes),
        Scenario("2 crash later", crashes_later),
        Scenario("3 fine", lambda drill, row: ran.append(drill)),
    ]
    rows, _ = gameday.run(workers=3, time_scale=10, only=None, scenarios=scenarios)

    assert ran == ["quiet:3"]
    details = {r.scenario: [d for n, ok, d in r.checks if not ok] for r in rows}
    assert details["1 crash"] == ["ConnectionError: stack went away"]
    assert details["2 crash later"] == ["TimeoutError: no OK"]
    assert details["3 fine"] == []
    assert "FAILED scenario ran to the end: ConnectionError" in gameday.render(rows, 10)


def test_only_selected_scenarios_run_and_unused_stacks_never_start(fake_stacks) -> None:
    scenarios = [Scenario("1 busy", lambda d, r: None, UNDER_LOAD), Scenario("2 quiet", lambda d, r: None)]
    rows, _ = gameday.run(workers=2, time_scale=10, only={2}, scenarios=scenarios)
    assert [r.scenario for r in rows] == ["2 quiet"]
    assert fake_stacks[0].asked == [QUIET]


def test_schedule_and_alarm_period_come_from_the_template() -> None:
    assert gameday.ping_schedule_s() == 60.0  # HealthPingFunction: rate(1 minute)
    assert alarm_period_s(ORDER_SERVICE_AVAILABILITY) == 60.0


class ScriptedDrill(Drill):
    """A drill whose control API answers from a script instead of HTTP."""

    def __init__(self, answers: dict[str, object], log_dir: Path | None = None):
        super().__init__(stack=None, workers=2, time_scale=10, log_dir=log_dir)
        self.answers = answers

    def local(self, method, path, body=None, **params):
        return self.answers[path]


def test_alarm_news_tells_alarms_apart_and_counts_pages_only_under_the_arn() -> None:
    arn = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:OrderServiceAvailability"
    drill = ScriptedDrill(
        {
            "notifications": {
                "slack": [
                    {"at": 1.0, "body": {"text": "ALARM: OrderServiceAvailability [P2] OK → ALARM. ..."}},
                    {"at": 2.0, "body": {"text": "ALARM: OrderServiceAvailabilityCanary [P3] OK → ALARM. ..."}},
                    {"at": 3.0, "body": {"text": "ALARM: OrderServiceCircuitOpen [P2] OK → ALARM. ..."}},
                    {"at": 9.0, "body": {"text": "OK: OrderServiceAvailability [P2] ALARM → OK. ..."}},
                    {"at": 9.5, "body": "not json"},
                ],
                "pagerduty": [
                    {"at": 1.1, "body": {"event_action": "trigger", "dedup_key": arn}},
                    {"at": 1.2, "body": {"event_action": "trigger", "dedup_key": "alarm:OrderServiceAvailability"}},
                    {"at": 9.1, "body": {"event_action": "resolve", "dedup_key": arn}},
                ],
            }
        }
    )
    news = drill.alarm_news("OrderServiceAvailability", arn)
    assert news.slack == {"ALARM": [1.0], "OK": [9.0]}
    assert news.pagerduty == {"trigger": [1.1], "resolve": [9.1]}
    assert news.count("slack", "ALARM") == 1
    assert news.first("pagerduty", "resolve") == 9.1
    assert news.first("slack", "INSUFFICIENT_DATA") is None


def test_log_events_reads_the_workers_structured_lines(tmp_path: Path) -> None:
    opened = {"message": "circuit_transition", "circuit": "order_service", "to_state": "OPEN", "failures": 3}
    lines = [
        f"chat-4 {json.dumps(opened)}",
        'chat-2 {"message": "chat_answered", "note": "circuit_transition mentioned in text"}',
        "chat-1 Traceback (most recent call last): circuit_transition",
        f"health-ping-1 {json.dumps({**opened, 'to_state': 'HALF_OPEN'})}",
        # two threads' prints on one line
        f"health-ping-1 {json.dumps({'message': 'health_ping_run'})}{json.dumps({**opened, 'circuit': 'llm'})}",
    ]
    (tmp_path / "workers.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    events = ScriptedDrill({}, log_dir=tmp_path).log_events("circuit_transition")
    assert [(e["worker"], e["circuit"], e["to_state"]) for e in events] == [
        ("chat-4", "order_service", "OPEN"),
        ("health-ping-1", "order_service", "HALF_OPEN"),
        ("health-ping-1", "llm", "OPEN"),
    ]


def test_transitions_are_one_circuits_fleet_moves_since_a_moment_oldest_first(tmp_path: Path) -> None:
    def line(worker: str, at: str, circuit: str, to_state: str, scope: str = "fleet") -> str:
        doc = {"message": "circuit_transition", "timestamp": at, "circuit": circuit, "to_state": to_state}
        return f"{worker} {json.dumps({**doc, 'scope': scope})}"

    lines = [
        line("chat-1", "2026-11-27 03:47:30,000+0000", "catalog", "OPEN"),
        line("health-ping-1", "2026-11-27 03:47:38,190+0000", "catalog", "CLOSED"),
        line("health-ping-1", "2026-11-27 03:47:38,146+0000", "catalog", "HALF_OPEN"),
        line("health-ping-1", "2026-11-27 03:47:38,150+0000", "llm", "HALF_OPEN"),
        # one sick environment's own circuit is not the fleet's
        line("chat-2", "2026-11-27 03:47:38,170+0000", "catalog", "OPEN", scope="environment"),
    ]
    (tmp_path / "workers.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    since = datetime(2026, 11, 27, 3, 47, 38, tzinfo=UTC).timestamp()
    moves = ScriptedDrill({}, log_dir=tmp_path).transitions("catalog", since=since)
    assert [(m["worker"], m["to_state"]) for m in moves] == [
        ("health-ping-1", "HALF_OPEN"),
        ("health-ping-1", "CLOSED"),
    ]
    assert moves[0]["at"] == pytest.approx(since + 0.146)
