"""`make gameday` and `make status` end to end: the game-day tool against its own fresh stack, the status
table against a running one. The full game day runs in `make gameday`; here two of its scenarios keep the
suite short while still exercising the tool's whole path (stack, faults, alarms, report, exit code)."""

from __future__ import annotations

import pytest

from local import gameday, status_cli
from local.stack_process import StackProcess
from mangaassist.registry import REGISTRY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_gameday_scenarios_pass_and_report(capsys):
    # 1: the alarm path and one probe closing the circuit; 6: a worker killed mid-load and replaced.
    rows, stack = gameday.run(workers=2, time_scale=gameday.DEFAULT_TIME_SCALE, only={1, 6})
    failures = {row.scenario: [c for c in row.checks if not c[1]] for row in rows}
    assert [row.scenario for row in rows] == ["1 block order_service", "6 kill a worker mid-load"]
    assert all(row.passed for row in rows), failures
    blocked, killed = rows
    assert blocked.raw_errors == 0
    assert blocked.degraded_share == 1.0
    assert blocked.open_s is not None
    assert blocked.close_s is not None
    assert killed.raw_errors <= 1
    report = gameday.render(rows, gameday.DEFAULT_TIME_SCALE)
    assert "1 block order_service" in report
    assert "PASS" in report
    assert stack.process.returncode == 0  # the game day's stack stopped cleanly


def test_status_table_of_a_running_stack(capsys):
    with StackProcess(env={"PING_INTERVAL_S": "0", "LOCAL_ALARM_EVAL_S": "0", "LOCAL_QUIET": "1"}) as stack:
        assert stack.post("/_local/ping").status_code == 200
        assert status_cli.main(["--url", stack.url]) == 0
        table = capsys.readouterr().out
        url = stack.url
    for spec in REGISTRY.values():
        assert spec.display_name in table
    assert "Capability Map:" in table
    assert status_cli.main(["--url", url]) == 1  # nothing listens there any more
    assert "make run" in capsys.readouterr().out
