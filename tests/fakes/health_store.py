"""The health store in one process, with HealthStore's semantics, for unit tests of the pinger and `/status`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import replace

from mangaassist.downstream.models import PingResult
from mangaassist.health.banners import BannerInputError, Banners, OperatorBanner
from mangaassist.health.models import Banner, ServiceHealth
from mangaassist.health.status_rules import merge_ping
from mangaassist.health.store import BANNER_TTL_S, HEALTH_TTL_S
from mangaassist.registry import REGISTRY, ServiceSpec


class InMemoryHealthStore:
    """Same semantics as :class:`HealthStore` in one process, for unit tests of the pinger and `/status`."""

    def __init__(self, *, registry: dict[str, ServiceSpec] = REGISTRY, clock: Callable[[], float] = time.time):
        self.registry = registry
        self.clock = clock
        self._health: dict[str, ServiceHealth] = {}
        self._banner: Banner | None = None
        self._banner_expires_at = 0.0
        self._operator: OperatorBanner | None = None
        self._lock = threading.Lock()
        self.fail_with: Exception | None = None  # set to make every call raise (state table outage)

    def _enter(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def load_all(self, consistent: bool = False) -> dict[str, ServiceHealth]:
        with self._lock:
            self._enter()
            return dict(self._health)

    def record(self, results: Iterable[PingResult], now: float | None = None) -> dict[str, ServiceHealth]:
        with self._lock:
            self._enter()
            written = {}
            for result in results:
                merged = merge_ping(self._health.get(result.service), result, self.registry[result.service])
                written[result.service] = self._health[result.service] = replace(merged, version=merged.version + 1)
            return written

    def get_banner(self) -> Banner | None:
        with self._lock:
            self._enter()
            if self._banner is not None and self._banner_expires_at <= self.clock():
                return None
            return self._banner

    def set_banner(self, banner: Banner) -> Banner:
        with self._lock:
            self._enter()
            now = self.clock()
            if self._banner is None or not self._banner.active or self._banner_expires_at <= now:
                self._banner = replace(banner, active=True)
            self._banner_expires_at = now + BANNER_TTL_S
            return self._banner

    def clear_banner(self) -> bool:
        with self._lock:
            self._enter()
            if self._banner is None or not self._banner.active:
                return False
            self._banner = replace(self._banner, active=False)
            self._banner_expires_at = self.clock() + HEALTH_TTL_S
            return True

    def load_banners(self) -> Banners:
        with self._lock:
            self._enter()
            now = self.clock()
            automatic = self._banner if self._banner is not None and self._banner_expires_at > now else None
            operator = self._operator if self._operator is not None and self._operator.expires_at > now else None
            return Banners(automatic=automatic, operator=operator)

    def get_operator_banner(self) -> OperatorBanner | None:
        return self.load_banners().operator

    def put_operator_banner(self, banner: OperatorBanner) -> OperatorBanner | None:
        with self._lock:
            self._enter()
            problems = banner.problems(self.clock())
            if problems:
                raise BannerInputError(problems)
            old = self._operator if self._operator is not None and self._operator.expires_at > self.clock() else None
            self._operator = banner
            return old

    def clear_operator_banner(self) -> OperatorBanner | None:
        with self._lock:
            self._enter()
            old = self._operator if self._operator is not None and self._operator.expires_at > self.clock() else None
            self._operator = None
            return old
