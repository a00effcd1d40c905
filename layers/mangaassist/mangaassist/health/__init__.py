"""Health pings of every dependency, the health summaries `/status` shows, and the maintenance banner."""

from mangaassist.downstream.models import PingResult
from mangaassist.health.banners import BannerInputError, Banners, OperatorBanner, operator_banner
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
    "BannerInputError",
    "Banners",
    "HealthStore",
    "HealthStoreError",
    "OperatorBanner",
    "PingResult",
    "ServiceHealth",
    "ServiceStatus",
    "health_status",
    "operator_banner",
]
