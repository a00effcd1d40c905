"""What the WAF in front of the API does, locally: the same body limit and per-address rate rules.

The numbers are mangaassist.client_limits', from which template.yaml's web ACL is generated. A rate rule counts
every request of one address over the last ``window_s`` (WAF's sliding window) and blocks past ``limit``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

from mangaassist.client_limits import MAX_BODY_BYTES, RATE_RULES, RateRule

# Only a proxy on this machine may say whom it forwards: tests and game days speak for many clients through it.
TRUSTED_PROXIES = frozenset({"127.0.0.1", "::1"})


def client_address(peer: str, forwarded_for: str | None) -> str:
    """The caller's address as the WAF keys it: the peer, or the hop a trusted local proxy appended."""
    if peer in TRUSTED_PROXIES and forwarded_for:
        hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return peer


def body_too_large(length: int) -> bool:
    return length > MAX_BODY_BYTES


class RateLimiter:
    """Per-address sliding windows for each rule; ``admit`` says which rule blocks a request, if any."""

    def __init__(self, rules: Sequence[RateRule] = RATE_RULES, clock: Callable[[], float] = time.monotonic):
        self.rules = tuple(rules)
        self.clock = clock
        self._seen: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, address: str, path: str) -> RateRule | None:
        now = self.clock()
        blocked = None
        with self._lock:
            for rule in self.rules:
                if not rule.applies_to(path):
                    continue
                seen = self._seen.setdefault((rule.name, address), deque())
                while seen and seen[0] <= now - rule.window_s:
                    seen.popleft()
                seen.append(now)  # WAF counts blocked requests too: a flood that keeps going stays blocked
                if len(seen) > rule.limit and blocked is None:
                    blocked = rule
        return blocked
