"""An HTTP proxy in front of moto that can slow, break or cut one AWS store (state_store, faq_store) on demand.

The handlers' AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 point at one proxy each, so a fault here is what
DynamoDB or S3 going bad looks like to boto3: the downstream simulators' modes (down, error, slow, hang, flaky,
throttle) from the same fault middleware (local/faults.py), answered in each service's own error shape so
botocore raises what AWS would make it raise.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.middleware.http_proxy import ProxyMiddleware
from werkzeug.wrappers import Response

from local.faults import FaultMiddleware
from local.serving import HttpServer

DYNAMODB_ERRORS = {
    # mode -> (status, __type, message) as DynamoDB's JSON protocol answers them.
    "error": (503, "com.amazonaws.dynamodb.v20120810#ServiceUnavailable", "Service unavailable"),
    "throttle": (
        400,
        "com.amazonaws.dynamodb.v20120810#ThrottlingException",
        "Rate of requests exceeds the allowed throughput.",
    ),
}
S3_ERRORS = {
    "error": (503, "ServiceUnavailable", "Service is unable to handle request."),
    "throttle": (503, "SlowDown", "Please reduce your request rate."),
}


def dynamodb_error(mode: str) -> Response:
    status, error_type, message = DYNAMODB_ERRORS[mode]
    body = json.dumps({"__type": error_type, "message": message})
    headers = {"x-amzn-ErrorType": error_type}
    return Response(body, status, headers, content_type="application/x-amz-json-1.0")


def s3_error(mode: str) -> Response:
    status, code, message = S3_ERRORS[mode]
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>LOCALFAULT</RequestId></Error>"
    )
    return Response(body, status, content_type="application/xml")


ERROR_SHAPES = {"dynamodb": dynamodb_error, "s3": s3_error}


class FaultProxy:
    """Forwards every request to ``upstream`` (Werkzeug's proxy, the Host header kept) unless a fault says otherwise."""

    def __init__(self, name: str, upstream: str, error_shape: str):
        self._target = {"target": upstream, "host": None, "remove_prefix": False, "headers": {}, "ssl_context": None}
        self._proxy = ProxyMiddleware(None, {}, timeout=60)
        self.faulty = FaultMiddleware(self._forward, ERROR_SHAPES[error_shape])
        self.faults = self.faulty.faults
        self._http = HttpServer(self.faulty, f"proxy-{name}")
        self.url = self._http.url

    def start(self) -> FaultProxy:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def _forward(self, environ: dict[str, Any], start_response: Any) -> Any:
        # An unreachable moto answers 502, as a load balancer in front of a dead service would.
        return self._proxy.proxy_to(self._target, environ["PATH_INFO"], "")(environ, start_response)
