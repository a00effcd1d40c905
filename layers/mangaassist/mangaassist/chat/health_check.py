"""GET /health: is this environment ready to serve? The state store answers fast and the FAQ store is reachable.

Each check reports only ok/fail and a latency: no table or bucket names, no endpoints, no error text,
because the route is open to the load balancer and the internet alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from mangaassist.observability import logger

# The hot-path client gives up after 0.5 s; a store slower than this already hurts every chat answer.
STATE_STORE_MAX_LATENCY_MS = 250.0


def timed(probe: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> tuple[bool, float]:
    started = clock()
    try:
        ok = probe() is not False
    except Exception as err:  # any failure is "fail"; the detail goes to the log only
        logger.warning(
            "health_check_failed", extra={"probe": getattr(probe, "__name__", "probe"), "error": repr(err)[:300]}
        )
        ok = False
    return ok, round((clock() - started) * 1000, 1)


def run_checks(
    state_store: Callable[[], Any],
    faq_store: Callable[[], bool],
    *,
    state_store_client: Callable[[], Any] | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> tuple[bool, dict[str, dict[str, Any]]]:
    """(healthy, one entry per check). ``state_store`` raises when unreachable; ``faq_store`` returns a bool.

    ``state_store_client`` (building the boto3 client, once per environment) runs before the state
    store's clock starts: a cold environment spends 150-200 ms importing botocore and loading the
    service model, which is this environment's start-up, not DynamoDB's latency. If it fails, the
    check fails with the time it took. ``clock`` (seconds) times every check; tests pass one they move by hand.
    """
    store_ok, store_ms = timed(state_store_client, clock) if state_store_client is not None else (True, 0.0)
    if store_ok:
        store_ok, store_ms = timed(state_store, clock)
        store_ok = store_ok and store_ms <= STATE_STORE_MAX_LATENCY_MS
    faq_ok, faq_ms = timed(faq_store, clock)
    checks: Mapping[str, dict[str, Any]] = {
        "state_store": {"status": "ok" if store_ok else "fail", "latency_ms": store_ms},
        "faq_store": {"status": "ok" if faq_ok else "fail", "latency_ms": faq_ms},
    }
    return store_ok and faq_ok, dict(checks)
