"""The status rule and the history merge behind `/status` (pure logic, no network)."""

from __future__ import annotations

import pytest

from mangaassist.breaker import FailureKind
from mangaassist.health import PingResult
from mangaassist.health.status import ServiceStatus
from mangaassist.health.status_rules import HISTORY_LENGTH, health_status, merge_ping, typical_latency_ms
from mangaassist.registry import REGISTRY

CATALOG = REGISTRY["catalog"]


def ok(at: float, latency: float = 40.0, service: str = "catalog") -> PingResult:
    return PingResult(service, True, latency, 200, None, at)


def failed(at: float, service: str = "catalog") -> PingResult:
    return PingResult(service, False, None, 503, FailureKind.ERROR, at)


def merged(*results: PingResult):
    health = None
    for result in results:
        health = merge_ping(health, result, REGISTRY[result.service])
    return health


def test_no_history_is_unknown():
    assert health_status(CATALOG, [], 0) == ServiceStatus.UNKNOWN


def test_all_fast_successes_are_ok():
    health = merged(*(ok(60.0 * i) for i in range(HISTORY_LENGTH)))
    assert health.status == ServiceStatus.OK
    assert health.error_rate == 0.0
    assert health.latency_ms == 40.0


def test_down_exactly_at_the_registry_count_of_consecutive_failures():
    needed = CATALOG.ping_failures_to_open
    pings = [ok(0.0)] + [failed(60.0 * (i + 1)) for i in range(needed)]
    assert merged(*pings[:-1]).status == ServiceStatus.WARN
    health = merged(*pings)
    assert health.status == ServiceStatus.DOWN
    assert health.consecutive_failures == needed
    assert health.failing_since == 60.0


def test_one_failure_in_the_window_is_flaky_until_it_ages_out():
    pings = [failed(0.0)] + [ok(60.0 * i) for i in range(1, HISTORY_LENGTH)]
    assert merged(*pings).status == ServiceStatus.WARN
    assert merged(*pings).error_rate == pytest.approx(1 / HISTORY_LENGTH)
    aged_out = merged(*pings, ok(60.0 * HISTORY_LENGTH))
    assert len(aged_out.history) == HISTORY_LENGTH
    assert aged_out.error_rate == 0.0
    assert aged_out.status == ServiceStatus.OK


def test_slow_means_typical_latency_above_the_registry_slow_call_threshold():
    slow = CATALOG.slow_call_ms + 1
    assert merged(ok(0.0, slow), ok(60.0, slow), ok(120.0, 40.0)).status == ServiceStatus.WARN
    # One slow blip among fast pings does not flip the status: the median of the last three decides.
    assert merged(ok(0.0, 40.0), ok(60.0, slow), ok(120.0, 40.0)).status == ServiceStatus.OK
    assert merged(ok(0.0, CATALOG.slow_call_ms)).status == ServiceStatus.OK


def test_typical_latency_ignores_failures_and_old_pings():
    history = [ok(0.0, 900.0), ok(60.0, 10.0), failed(120.0), ok(180.0, 30.0), ok(240.0, 20.0)]
    assert typical_latency_ms(history) == 20.0
    assert typical_latency_ms([failed(0.0)]) is None


def test_recovery_resets_the_streak():
    health = merged(failed(0.0), failed(60.0), failed(120.0), ok(180.0))
    assert health.consecutive_failures == 0
    assert health.failing_since is None
    assert health.status == ServiceStatus.WARN  # recovered, but 3 of 4 recent pings failed


def test_a_late_older_ping_joins_history_in_order_without_moving_the_streak():
    health = merged(ok(0.0), failed(120.0))
    late = merge_ping(health, ok(60.0), CATALOG)
    assert [r.at for r in late.history] == [0.0, 60.0, 120.0]
    assert late.consecutive_failures == 1
    assert late.failing_since == 120.0
    assert late.checked_at == 120.0


def test_streak_is_counted_beyond_the_history_length():
    health = merged(*(failed(60.0 * i) for i in range(HISTORY_LENGTH + 5)))
    assert len(health.history) == HISTORY_LENGTH
    assert health.consecutive_failures == HISTORY_LENGTH + 5
    assert health.failing_since == 0.0


def test_a_late_success_between_failures_breaks_the_streak_where_it_belongs():
    health = merged(failed(0.0), failed(120.0))
    assert health.consecutive_failures == 2
    late = merge_ping(health, ok(60.0), CATALOG)
    assert late.consecutive_failures == 1
    assert late.failing_since == 120.0
