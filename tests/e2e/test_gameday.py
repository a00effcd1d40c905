"""`make gameday` and `make status` end to end: the game-day tool against its own fresh stack, the status
table against a running one.

The full game day runs in `make gameday` (about 2.5 minutes: scenario 1 alone needs a 16-environment fleet
and a whole alarm period, 60 s, before its alarm can resolve). Here two of its scenarios keep the suite
short while still exercising the tool's whole path on a real stack: faults, traffic, circuits read from
the state table, metrics from the workers, the report and the stack's clean stop. The runner's own logic
(deferred steps, crashes as failed expectations) is covered without a stack in tests/unit/test_gameday_runner.py.
"""

from __future__ import annotations

import pytest

from bench.gameday import runner as gameday
from bench.stack_process import StackProcess
from local import status_cli
from mangaassist.registry import REGISTRY, SERVICE_NAMES

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.slow]


def test_gameday_scenarios_pass_and_report():
    # 6: a worker killed mid-load and replaced; 7: every circuit opened by pings, closed through one probe each.
    rows, stacks = gameday.run(workers=2, time_scale=gameday.DEFAULT_TIME_SCALE, only={6, 7})
    failures = {row.scenario: [c for c in row.checks if not c[1]] for row in rows}
    assert [row.scenario for row in rows] == ["6 kill a worker mid-load", "7 heal everything"]
    assert all(row.passed for row in rows), failures
    killed, healed = rows
    assert killed.raw_errors <= 1
    assert killed.close_s is not None  # the replacement worker started
    assert healed.raw_errors == 0
    assert healed.open_s is not None
    assert healed.close_s is not None
    one_probe = [c for c in healed.checks if c[0] == "each circuit closed through exactly one probe"]
    assert one_probe == [("each circuit closed through exactly one probe", True, "{}")]
    assert healed.reached >= len(SERVICE_NAMES)  # every dependency was pinged while down
    report = gameday.render(rows, gameday.DEFAULT_TIME_SCALE)
    assert "7 heal everything" in report
    assert "FAIL" not in report
    assert len(stacks) == 1  # scenario 1's busy fleet is not started when it is not selected
    assert stacks[0].process.returncode == 0  # the game day's stack stopped cleanly


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
