"""The one rule from a service's recent pings to its status, and how one more ping changes its summary."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from mangaassist.downstream.models import PingResult
from mangaassist.health.models import ServiceHealth
from mangaassist.health.status import ServiceStatus
from mangaassist.registry import ServiceSpec

HISTORY_LENGTH = 10  # one ping a minute: the error rate covers the last ten minutes
LATENCY_WINDOW = 3  # median of the last three successful pings: one slow blip does not flip to warn
WARN_ERROR_RATE = 0.05  # the design's dashboard shows a service at 5 % errors as WARN


def error_rate(history: Sequence[PingResult]) -> float:
    if not history:
        return 0.0
    return sum(1 for r in history if not r.ok) / len(history)


def typical_latency_ms(history: Sequence[PingResult]) -> float | None:
    answered = [r.latency_ms for r in history if r.ok and r.latency_ms is not None]
    if not answered:
        return None
    return float(statistics.median(answered[-LATENCY_WINDOW:]))


def health_status(spec: ServiceSpec, history: Sequence[PingResult], consecutive_failures: int) -> ServiceStatus:
    """The one status rule, applied in this order:

    - ``unknown``: no ping recorded yet;
    - ``down``: the last ``spec.ping_failures_to_open`` pings all failed (the same count that opens the
      circuit fleet-wide, so "down" on /status and an open circuit mean the same thing);
    - ``warn``: failing right now but not yet down, or flaky (error rate over the history at or above
      ``WARN_ERROR_RATE``), or slow (typical latency above ``spec.slow_call_ms``, the threshold at which
      the breaker counts a successful call as a failure);
    - ``ok`` otherwise.
    """
    if not history:
        return ServiceStatus.UNKNOWN
    if consecutive_failures >= spec.ping_failures_to_open:
        return ServiceStatus.DOWN
    if consecutive_failures > 0 or error_rate(history) >= WARN_ERROR_RATE:
        return ServiceStatus.WARN
    latency = typical_latency_ms(history)
    if latency is not None and latency > spec.slow_call_ms:
        return ServiceStatus.WARN
    return ServiceStatus.OK


def merge_ping(previous: ServiceHealth | None, result: PingResult, spec: ServiceSpec) -> ServiceHealth:
    """``previous`` with one more ping: history kept in time order and trimmed, summary recomputed.

    The failure streak is read off the time-ordered history, so a ping from an overlapping invocation
    that lands late still counts in its place. Only when every ping in the (bounded) history failed
    does the streak carry on from the stored count, which is how it can outgrow the history.
    """
    history = sorted([*(previous.history if previous else ()), result], key=lambda r: r.at)[-HISTORY_LENGTH:]
    trailing = 0
    for ping in reversed(history):
        if ping.ok:
            break
        trailing += 1
    if trailing < len(history):
        consecutive = trailing
        failing_since = history[-trailing].at if trailing else None
    else:
        carried = previous.consecutive_failures if previous else 0
        consecutive = max(trailing, carried + (0 if result.ok else 1))
        earlier = previous.failing_since if previous and previous.failing_since is not None else history[0].at
        failing_since = min(earlier, history[0].at)
    return ServiceHealth(
        service=result.service,
        status=health_status(spec, history, consecutive),
        latency_ms=typical_latency_ms(history),
        error_rate=round(error_rate(history), 4),
        checked_at=history[-1].at,
        consecutive_failures=consecutive,
        history=tuple(history),
        failing_since=failing_since,
        version=previous.version if previous else 0,
    )
