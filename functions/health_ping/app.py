"""Health-ping Lambda: on the EventBridge schedule (or invoked by hand), pings every dependency once."""

from __future__ import annotations

import functools
from typing import Any

from mangaassist.health.factory import pinger_from_env
from mangaassist.health.pinger import HealthPinger
from mangaassist.observability import capture_lambda_handler, logger


@functools.cache
def pinger() -> HealthPinger:
    # Built on first use and kept for the environment's life: clients, HTTP pool and circuit snapshot.
    return pinger_from_env()


def _trigger(event: Any) -> str:
    """The schedule rule's ARN, or "manual" for a hand-made invocation (any payload is accepted)."""
    resources = event.get("resources") if isinstance(event, dict) else None
    return str(resources[0]) if isinstance(resources, list) and resources else "manual"


# Metrics: each run publishes one EMF document per service (mangaassist.health.telemetry); the shared
# Metrics object cannot carry a different `service` dimension per value, so it has nothing to flush here.
@logger.inject_lambda_context(clear_state=True)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.append_keys(trigger=_trigger(event))
    report = pinger().run().as_dict()
    logger.info(
        "health_ping_run",
        extra={key: report[key] for key in ("duration_ms", "opened", "probes", "banner", "state_store_ok")},
    )
    return report
