"""The words `/status`, the capability map and the dashboard use for a service's health."""

from __future__ import annotations

from enum import StrEnum


class ServiceStatus(StrEnum):
    OK = "ok"
    WARN = "warn"  # failing now but not yet down, flaky, or slower than its slow-call threshold
    DOWN = "down"  # its circuit is open, or its last pings all failed
    UNKNOWN = "unknown"  # never pinged, or the pings are too old to trust

    def __str__(self) -> str:
        return self.value
