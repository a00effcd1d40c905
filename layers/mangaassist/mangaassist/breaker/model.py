"""Circuit state as stored in the state table and as seen by one execution environment."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "CLOSED"
    OPEN = "OPEN"
    HALF_OPEN = "HALF_OPEN"

    def __str__(self) -> str:
        return self.value


class Override(StrEnum):
    """Fleet-wide manual override an operator sets per circuit."""

    NONE = "none"
    FORCED_OPEN = "forced_open"  # every call short-circuits to the fallback
    FORCED_CLOSED = "forced_closed"  # every call goes through; failures are counted but never open it
    DISABLED = "disabled"  # the breaker steps aside entirely

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class CircuitRecord:
    """One circuit's item in the state table (pk = "circuits", sk = service name)."""

    service: str
    state: CircuitState = CircuitState.CLOSED
    version: int = 0  # bumped by every transition; transitions are conditional on it
    failure_buckets: dict[int, int] = field(default_factory=dict)  # bucket start epoch -> failures
    opened_at: float = 0.0
    open_until: float = 0.0
    reopen_count: int = 0  # consecutive failed probes, for the capped backoff
    probe_owner: str = ""
    lease_until: float = 0.0
    probe_successes: int = 0
    override: Override = Override.NONE
    reason: str = ""  # why the last transition happened ("failures", "health_ping", "probe_failed", ...)
    updated_at: float = 0.0

    def failures_in_window(self, now: float, window_seconds: int, bucket_seconds: int) -> int:
        oldest = bucket_start(now, bucket_seconds) - window_seconds + bucket_seconds
        return sum(n for start, n in self.failure_buckets.items() if start >= oldest)

    def with_changes(self, **changes) -> CircuitRecord:
        return replace(self, **changes)

    @property
    def is_open(self) -> bool:
        """What the CircuitOpen metric reports: open or half-open, or forced open by an operator."""
        return self.state is not CircuitState.CLOSED or self.override is Override.FORCED_OPEN


@dataclass(frozen=True)
class CircuitInfo:
    """What a fallback or a transition hook is told about a circuit."""

    service: str
    state: CircuitState
    override: Override
    open_until: float
    reason: str

    @property
    def retry_after_seconds(self) -> float:
        return max(0.0, self.open_until - time.time())


@dataclass(frozen=True)
class Transition:
    service: str
    from_state: CircuitState
    to_state: CircuitState
    reason: str
    at: float
    failures: int = 0
    # "environment": a circuit open for this environment alone (every failure its own), not the fleet's.
    scope: str = "fleet"


def bucket_start(now: float, bucket_seconds: int) -> int:
    return int(now // bucket_seconds) * bucket_seconds
