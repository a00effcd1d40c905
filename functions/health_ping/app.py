"""Health-ping Lambda: on the EventBridge schedule (or invoked by hand), pings every dependency once."""

from __future__ import annotations

from typing import Any

from mangaassist.health.factory import pinger_from_env
from mangaassist.health.pinger import HealthPinger
from mangaassist.observability import capture_lambda_handler, logger

_pinger: HealthPinger | None = None


def bootstrap(**wiring: Any) -> HealthPinger:
    """This environment's pinger, kept for its life (clients, HTTP pool, circuit snapshot). Lambda builds it
    on the first event; the local stack's game days build it first with a scaled registry and banner wait."""
    global _pinger
    _pinger = pinger_from_env(**wiring)
    return _pinger


def pinger() -> HealthPinger:
    return _pinger or bootstrap()


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
