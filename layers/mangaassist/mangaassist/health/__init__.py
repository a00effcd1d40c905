"""Health pings of every dependency, the health summaries `/status` shows, and the maintenance banner."""

from mangaassist.health.store import (
    STATUS_DOWN,
    STATUS_OK,
    STATUS_UNKNOWN,
    STATUS_WARN,
    Banner,
    HealthStore,
    HealthStoreError,
    PingResult,
    ServiceHealth,
    health_status,
)

__all__ = [
    "STATUS_DOWN",
    "STATUS_OK",
    "STATUS_UNKNOWN",
    "STATUS_WARN",
    "Banner",
    "HealthStore",
    "HealthStoreError",
    "PingResult",
    "ServiceHealth",
    "health_status",
]
