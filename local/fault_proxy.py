"""An HTTP proxy in front of moto that can slow, break or cut one AWS store (state_store, faq_store) on demand.

The handlers' AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3 point at one proxy each, so a fault here is what
DynamoDB or S3 going bad looks like to boto3: the same modes as the downstream simulators (down, error, slow,
hang, flaky, throttle), answered in each service's own error shape so botocore raises what AWS would make it
raise.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from local.simulators.faults import FaultState, parse_fault

MAX_HANG_S = 600.0
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade", "trailer"}

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


def dynamodb_error(mode: str) -> tuple[int, dict[str, str], bytes]:
    status, error_type, message = DYNAMODB_ERRORS[mode]
    body = json.dumps({"__type": error_type, "message": message}).encode()
    return status, {"Content-Type": "application/x-amz-json-1.0", "x-amzn-ErrorType": error_type}, body


def s3_error(mode: str) -> tuple[int, dict[str, str], bytes]:
    status, code, message = S3_ERRORS[mode]
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>LOCALFAULT</RequestId></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml"}, body


ERROR_SHAPES = {"dynamodb": dynamodb_error, "s3": s3_error}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128
    proxy: FaultProxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.proxy.handle(self)

    do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET


class FaultProxy:
    """Forwards every request to ``upstream`` unless a fault says otherwise; counts calls and failures."""

    def __init__(self, name: str, upstream: str, error_shape: str, host: str = "127.0.0.1", port: int = 0):
        self.name = name
        self.upstream = urlsplit(upstream)
        self.error_shape = ERROR_SHAPES[error_shape]
        self.faults = FaultState()
        self.stopping = threading.Event()
        self._httpd = _Server((host, port), _Handler)
        self._httpd.proxy = self
        self._thread: threading.Thread | None = None
        self._local = threading.local()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"proxy-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:  # shutdown() waits for a serve_forever() that never ran otherwise
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_fault(self, mode: str, **kwargs: Any) -> dict[str, Any]:
        self.faults.set(parse_fault(mode, **kwargs))
        return self.faults.describe()

    # ------------------------------------------------------------------ one request

    def handle(self, req: _Handler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        mode = self.faults.admit()
        if mode == "down":
            self.faults.failed()
            _reset(req)
            return
        if mode == "hang":
            self.faults.failed()
            self._hang(req)
            return
        if mode == "slow" and self.stopping.wait(self.faults.latency_s()):
            _reset(req)
            return
        if mode in ("error", "throttle"):
            self.faults.failed()
            _send(req, *self.error_shape(mode))
            return
        try:
            status, headers, payload = self._forward(req.command, req.path, dict(req.headers.items()), body)
        except OSError:
            self.faults.failed()
            _reset(req)  # moto itself is gone: the client sees what a dead endpoint looks like
            return
        if status >= 500:
            self.faults.failed()
        _send(req, status, headers, payload)

    def _forward(self, method: str, path: str, headers: dict[str, str], body: bytes):
        headers = {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}
        for attempt in (1, 2):
            conn = getattr(self._local, "conn", None)
            if conn is None:
                conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=60)
                self._local.conn = conn
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
                out = {k: v for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP | {"content-length"}}
                return resp.status, out, payload
            except (http.client.HTTPException, OSError):
                # A pooled connection moto closed while idle: one retry on a fresh connection.
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise
        raise OSError("unreachable")

    def _hang(self, req: _Handler) -> None:
        sock = req.connection
        req.close_connection = True
        until = time.monotonic() + MAX_HANG_S
        while not self.stopping.is_set() and time.monotonic() < until:
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(65536):
                    return
            except (OSError, ValueError):
                return
            if self.faults.current().mode != "hang":
                break
        _reset(req)


def _send(req: _Handler, status: int, headers: dict[str, str], payload: bytes) -> None:
    try:
        req.send_response(status)
        for key, value in headers.items():
            req.send_header(key, value)
        req.send_header("Content-Length", str(len(payload)))
        req.end_headers()
        if req.command != "HEAD":
            req.wfile.write(payload)
    except OSError:
        req.close_connection = True


def _reset(req: _Handler) -> None:
    """No HTTP answer at all: reset the connection (RST), as an unreachable endpoint does."""
    req.close_connection = True
    with contextlib.suppress(OSError):
        req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        req.connection.close()
