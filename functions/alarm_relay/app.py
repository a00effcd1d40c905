"""Alarm relay Lambda: CloudWatch alarm notifications from SNS to Slack and PagerDuty, each exactly once."""

from __future__ import annotations

from typing import Any

from mangaassist.alerting.relay import AlarmRelay, relay_from_env
from mangaassist.observability import capture_lambda_handler, logger, metrics

_relay: AlarmRelay | None = None


def bootstrap(**wiring: Any) -> AlarmRelay:
    """This environment's relay, kept for its life (settings, AWS clients, HTTP session, secret cache). Lambda
    builds it on the first event; a caller that needs a new execution environment, or other wiring (another
    HTTP session), builds it again before the next one."""
    global _relay
    _relay = relay_from_env(**wiring)
    return _relay


def relay() -> AlarmRelay:
    return _relay or bootstrap()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return relay().handle(event, context)
