"""The banners as the chat sees them, the pinger's and the operator's: read from the state table every few seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mangaassist.health import HealthStoreError
from mangaassist.observability import logger

BANNER_CACHE_S = 5.0


class BannerBoard:
    """Caches ``load_banners()`` per execution environment; keeps the last known banners while the store is down."""

    def __init__(self, read: Callable[[], Any | None], ttl_s: float = BANNER_CACHE_S, clock=time.monotonic):
        self._read = read
        self.ttl_s = ttl_s
        self.clock = clock
        self._banner: Any | None = None
        self._read_at = float("-inf")
        self.reads = 0

    def current(self) -> Any | None:
        now = self.clock()
        if now - self._read_at < self.ttl_s:
            return self._banner
        self._read_at = now  # also after a failure: retry after the TTL, not on every message
        self.reads += 1
        try:
            self._banner = self._read()
        except HealthStoreError as err:
            logger.warning("banner_read_failed", extra={"error": str(err)[:200]})
        return self._banner
