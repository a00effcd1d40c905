"""The simulators' fault state: validation, flaky determinism, expiry and counters (no network)."""

from __future__ import annotations

import pytest

from local.faults import MODES, FaultSpecError, FaultState, parse_fault


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "broken"},
        {"mode": "flaky", "rate": 1.5},
        {"mode": "flaky", "rate": -0.1},
        {"mode": "slow", "latency_ms": -1},
        {"mode": "slow", "latency_ms": "soon"},
        {"mode": "down", "expires_in_s": 0},
    ],
)
def test_invalid_faults_are_rejected(kwargs):
    with pytest.raises(FaultSpecError):
        parse_fault(**kwargs)


def test_every_mode_is_accepted_and_flaky_and_slow_get_defaults():
    for mode in MODES:
        assert parse_fault(mode).mode == mode
    assert parse_fault("flaky").rate == 0.5
    assert parse_fault("slow").latency_ms == 3000


def test_flaky_is_reproducible_for_a_seed_and_close_to_its_rate():
    def run(seed: int) -> list[str]:
        state = FaultState()
        state.set(parse_fault("flaky", rate=0.3, seed=seed))
        return [state.admit() for _ in range(1000)]

    first, again, other = run(7), run(7), run(8)
    assert first == again
    assert first != other
    assert set(first) == {"ok", "error"}
    assert 0.25 < first.count("error") / 1000 < 0.35


def test_a_fault_heals_by_itself_when_it_expires():
    clock = Clock()
    state = FaultState(clock=clock)
    state.set(parse_fault("down", expires_in_s=2, now=clock.now))
    assert state.admit() == "down"
    assert state.describe()["expires_in_s"] == 2.0
    clock.now += 1.99
    assert state.admit() == "down"
    clock.now += 0.02
    assert state.admit() == "ok"
    assert state.describe() == {"mode": "ok", "latency_ms": 0, "rate": 0.0, "expires_in_s": None}


def test_counters_count_admitted_calls_and_reported_failures():
    state = FaultState()
    for _ in range(3):
        state.admit()
    state.failed()
    assert state.stats() == {"calls": 3, "failures": 1}
    state.reset_stats()
    assert state.stats() == {"calls": 0, "failures": 0}
