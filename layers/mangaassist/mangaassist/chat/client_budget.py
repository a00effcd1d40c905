"""Each client's budget of Bedrock calls (client_limits.LLM_BUDGET): one client's flood costs its own answers.

A client is a signed-in customer's Cognito sub, or a guest's source address. Neither is ever stored or logged:
the counter is keyed by an HMAC-SHA256 of it under a key only the chat reads (an address space of 2^32 makes a
plain or publicly salted hash reversible in minutes). Windows are fixed (window_s long, aligned to the epoch);
the store counts with one conditional write per Bedrock call, a refused one included (nothing is remembered
per environment, so clearing the counters resets a client everywhere), and forgets a window through the TTL.

The budget protects the fleet, it must never become an outage itself: when the store or the key cannot be
read, the call is allowed and the failure logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Protocol

from mangaassist.client_limits import LLM_BUDGET, LlmBudget
from mangaassist.observability import logger

# A counter outlives its window by one more window, so a clock that runs a little behind on one environment
# still finds the count the others wrote.
TTL_GRACE_WINDOWS = 1
HASH_PREFIX_CHARS = 12  # enough to correlate log lines of one client, far too little to look anything up


class BudgetStoreError(Exception):
    """The store could not count (unreachable, throttled, misconfigured): the caller fails open."""


class BudgetStore(Protocol):
    def spend(self, client_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        """Count one call for the client in the window if fewer than ``limit`` are counted; False when none left."""
        ...


def client_hash(key: bytes, customer_id: str | None, source_ip: str | None) -> str | None:
    """The client's counter key: the sub when signed in, else the address; None when the request has neither."""
    if customer_id:
        client = f"sub:{customer_id}"
    elif source_ip:
        client = f"ip:{source_ip}"
    else:
        return None
    return hmac.new(key, client.encode("utf-8"), hashlib.sha256).hexdigest()


class ClientBudget:
    """``spend(customer_id, source_ip)``: True when the client may make one more Bedrock call now."""

    def __init__(
        self,
        store: BudgetStore,
        key: Callable[[], bytes | None],
        budget: LlmBudget = LLM_BUDGET,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.key = key  # the HMAC key; None while it cannot be read
        self.budget = budget
        self.clock = clock

    def spend(self, customer_id: str | None, source_ip: str | None) -> bool:
        try:
            return self._spend(customer_id, source_ip)
        except BudgetStoreError as err:
            logger.warning("llm_budget_not_enforced", extra={"why": "store_unavailable", "error": str(err)})
        except Exception:  # a bug here must cost the budget, never the answer
            logger.exception("llm_budget_not_enforced", extra={"why": "internal_error"})
        return True

    def _spend(self, customer_id: str | None, source_ip: str | None) -> bool:
        window_start = int(self.clock()) // self.budget.window_s * self.budget.window_s
        key = self.key()
        if key is None:
            logger.warning("llm_budget_not_enforced", extra={"why": "no_key"})
            return True
        hashed = client_hash(key, customer_id, source_ip)
        if hashed is None:  # API Gateway always sends the address; only a direct invoke has neither
            logger.warning("llm_budget_not_enforced", extra={"why": "no_client"})
            return True
        expires_at = window_start + self.budget.window_s * (1 + TTL_GRACE_WINDOWS)
        if self.store.spend(hashed, window_start, self.budget.calls, expires_at):
            return True
        logger.info(
            "llm_budget_exhausted",
            extra={
                "client_hash": hashed[:HASH_PREFIX_CHARS],
                "signed_in": customer_id is not None,
                "window_start": window_start,
            },
        )
        return False
