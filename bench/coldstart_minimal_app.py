"""The yardstick for `make bench-coldstart`: the smallest Powertools REST handler worth deploying.

Logger, an APIGatewayRestResolver with one route and, when tracing is on, a Tracer: what Powertools' own
examples put in every function. The chat's module must import and initialise in at most 1.5x this.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

logger = Logger()
app = APIGatewayRestResolver()
tracer = None
if os.getenv("POWERTOOLS_TRACE_DISABLED", "false").lower() not in ("1", "true", "yes"):
    from aws_lambda_powertools import Tracer

    tracer = Tracer()


@app.get("/health")
def health() -> dict[str, str]:
    return {"status": "healthy"}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)


if tracer is not None:
    lambda_handler = tracer.capture_lambda_handler(lambda_handler)
