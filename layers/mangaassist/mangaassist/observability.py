"""The shared Logger and Metrics, and a Tracer that exists only when tracing is on.

Creating a Powertools Tracer imports the X-Ray SDK (~300 ms of cold start), so it is built lazily and
only when POWERTOOLS_TRACE_DISABLED is not "true"; otherwise handlers get no-op decorators.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from mangaassist.registry import METRIC_NAMESPACE

logger = Logger()
# The domain modules log through standard loggers under "mangaassist" (they know nothing of Lambda);
# giving that parent the Powertools handler makes their lines structured JSON like the handlers' own.
logging.getLogger("mangaassist")
copy_config_to_registered_loggers(source_logger=logger, include={"mangaassist"})
metrics = Metrics(namespace=os.getenv("POWERTOOLS_METRICS_NAMESPACE", METRIC_NAMESPACE))


def tracing_enabled() -> bool:
    return os.getenv("POWERTOOLS_TRACE_DISABLED", "false").lower() not in ("1", "true", "yes")


@functools.cache
def tracer() -> Any | None:
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer()


def capture_lambda_handler(handler: Callable) -> Callable:
    """Tracer.capture_lambda_handler when tracing is on; the handler unchanged otherwise."""
    active = tracer()
    return active.capture_lambda_handler(handler) if active else handler
