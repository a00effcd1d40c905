"""Health pings of every dependency, the health summaries `/status` shows, and the maintenance banner."""

from mangaassist.downstream.models import PingResult
from mangaassist.health.status import ServiceStatus
from mangaassist.health.store import (
    Banner,
    HealthStore,
    HealthStoreError,
    ServiceHealth,
    health_status,
)

__all__ = [
    "Banner",
    "HealthStore",
    "HealthStoreError",
    "PingResult",
    "ServiceHealth",
    "ServiceStatus",
    "health_status",
]
