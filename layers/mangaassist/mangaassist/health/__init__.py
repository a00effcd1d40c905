"""Health pings of every dependency, the health summaries `/status` shows, and the maintenance banner."""

from mangaassist.downstream.models import PingResult
from mangaassist.health.banners import BannerInputError, Banners, OperatorBanner, operator_banner
from mangaassist.health.models import Banner, HealthStoreError, ServiceHealth
from mangaassist.health.status import ServiceStatus
from mangaassist.health.status_rules import health_status
from mangaassist.health.store import HealthStore

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
