"""Alarm relay Lambda: CloudWatch alarm notifications from SNS to Slack and PagerDuty, each exactly once."""

from __future__ import annotations

import functools
from typing import Any

from mangaassist.alerting.relay import AlarmRelay, relay_from_env
from mangaassist.observability import capture_lambda_handler, logger, metrics


@functools.cache
def relay() -> AlarmRelay:
    # Built on first use, not at import: settings, clients and the secret cache live as long as the environment.
    return relay_from_env()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return relay().handle(event, context)
