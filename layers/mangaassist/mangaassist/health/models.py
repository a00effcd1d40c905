"""What the health partition and the pinger's banner hold: one service's health summary and the maintenance banner."""

from __future__ import annotations

from dataclasses import dataclass, field

from mangaassist.downstream.models import PingResult
from mangaassist.health.status import ServiceStatus

STALE_AFTER_S = 180  # three missed pings: `/status` should say "unknown" rather than trust old news


class HealthStoreError(Exception):
    """The state table could not be read or written."""


@dataclass(frozen=True)
class ServiceHealth:
    """What `/status` shows for one service (the design's health dashboard row)."""

    service: str
    status: ServiceStatus
    latency_ms: float | None  # median of the last successful pings (None if none succeeded recently)
    error_rate: float  # failed share of the recent history, 0..1
    checked_at: float  # when the newest ping in the history started
    consecutive_failures: int
    history: tuple[PingResult, ...] = field(default_factory=tuple)  # oldest first, at most HISTORY_LENGTH
    failing_since: float | None = None  # start of the current failure streak, None while the last ping is ok
    version: int = 0  # bumped on every write; writes are conditional on it

    def is_stale(self, now: float, max_age_s: float = STALE_AFTER_S) -> bool:
        return now - self.checked_at > max_age_s


@dataclass(frozen=True)
class Banner:
    """The maintenance banner; the chat shows it while ``active`` is true."""

    active: bool
    message_en: str
    message_ja: str
    since: float  # when the outage it announces began
    reason: str = ""
