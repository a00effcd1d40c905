"""The shared Logger and Metrics, and a Tracer that exists only when tracing is on.

Creating a Powertools Tracer imports the X-Ray SDK (~300 ms of cold start), so it is built lazily and
only when POWERTOOLS_TRACE_DISABLED is not "true"; otherwise handlers get no-op decorators.

What reaches X-Ray is decided here (docs/security.md, "Trace hygiene"): AWS SDK calls, one subsegment per
downstream call named after the service, and nothing that carries a URL, a response or an error text.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
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


# Only botocore is patched. The X-Ray patches of requests and httplib record every URL with just the query
# removed: a Slack webhook's secret is its path, and a downstream path holds the customer's Cognito sub; a
# failed call adds the exception text, which repeats the URL. Leaving them unpatched is the one control that
# holds for every caller: the requests patch wraps Session.request on the class, so a separate session for the
# relay would still be traced, and httplib sits below every HTTP library. HTTP calls are traced by
# `remote_call` instead, with the service name and no URL.
PATCHED_MODULES = ("botocore",)


@functools.cache
def tracer() -> Any | None:
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(patch_modules=PATCHED_MODULES)


def capture_lambda_handler(handler: Callable) -> Callable:
    """Tracer.capture_lambda_handler when tracing is on; the handler unchanged otherwise.

    Neither the response (a chat answer: orders, titles, tracking links, the customer's name) nor the error
    (its text can quote inputs) goes into the trace; the template's POWERTOOLS_TRACER_CAPTURE_* say the same.
    """
    active = tracer()
    if not active:
        return handler
    return active.capture_lambda_handler(handler, capture_response=False, capture_error=False)


class RemoteCall:
    """What a traced HTTP call may record besides its service name: the method and the status code."""

    def __init__(self, subsegment: Any | None = None):
        self._subsegment = subsegment

    def answered(self, status: int) -> None:
        if self._subsegment is not None:
            self._subsegment.put_http_meta("status", status)


@contextlib.contextmanager
def remote_call(service: str, method: str) -> Iterator[RemoteCall]:
    """A subsegment for one HTTP call to `service` when tracing is on; a no-op otherwise."""
    active = tracer()
    if not active:
        yield RemoteCall()
        return
    with active.provider.in_subsegment(name=service, namespace="remote") as subsegment:
        if subsegment is not None:
            subsegment.put_http_meta("method", method)
        yield RemoteCall(subsegment)
