"""One simulated dependency on its own 127.0.0.1 port: routing, fault injection and the /_sim control API."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import re
import select
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from local.simulators.faults import FaultSpecError, FaultState, parse_fault
from local.simulators.sigv4 import SignatureError, SigV4Verifier

logger = logging.getLogger("local.simulators")

CONTROL_PREFIX = "/_sim/"
MAX_HANG_S = 600.0  # a hung request is released after this even if the client never gives up
IDLE_KEEPALIVE_S = 30.0
MAX_BODY_BYTES = 1 << 20
REQUEST_LOG_SIZE = 200


class HttpError(Exception):
    """A handler's way to answer with an error status and the simulators' JSON error shape."""

    def __init__(self, status: int, code: str, message: str = ""):
        super().__init__(message or code)
        self.status = status
        self.code = code
        self.message = message or code


@dataclass
class SimRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError as err:
            raise HttpError(400, "malformed_json", "request body is not valid JSON") from err

    def int_arg(self, name: str, default: int, lo: int = 1, hi: int = 50) -> int:
        raw = self.query.get(name)
        if raw in (None, ""):
            return default
        try:
            value = int(raw)
        except ValueError as err:
            raise HttpError(400, "bad_parameter", f"{name} must be an integer") from err
        if not lo <= value <= hi:
            raise HttpError(400, "bad_parameter", f"{name} must be between {lo} and {hi}")
        return value


@dataclass
class SimResponse:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[SimRequest], SimResponse]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


def route(method: str, path: str, handler: Handler) -> Route:
    """``path`` may hold ``{name}`` placeholders that match one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(method, re.compile(f"^{regex}$"), handler)


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class SimService:
    """What one dependency answers. Subclasses list their routes; /health comes for free."""

    name = "service"

    def routes(self) -> list[Route]:
        return []

    def fault_response(self, mode: str) -> SimResponse:
        if mode == "throttle":
            response = self.error_response(429, "throttled", "too many requests")
            response.headers.setdefault("Retry-After", "1")
            return response
        return self.error_response(503, "service_unavailable", f"{self.name} is unavailable")

    def error_response(self, status: int, code: str, message: str) -> SimResponse:
        return SimResponse(status, error_body(code, message))

    def health(self, _req: SimRequest) -> SimResponse:
        return SimResponse(200, {"status": "ok"})

    def all_routes(self) -> list[Route]:
        return [route("GET", "/health", self.health), *self.routes()]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a hung or idle keep-alive connection must never hold up stop()
    request_queue_size = 128
    sim: SimulatorServer

    def process_request(self, request, client_address):
        self.sim.track(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        self.sim.untrack(request)
        super().shutdown_request(request)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like the real services behind a pooled session
    server_version = "MangaAssistSimulator/1.0"
    timeout = IDLE_KEEPALIVE_S
    # Headers and body leave in two writes; with Nagle on, delayed ACKs add ~40 ms to every answer.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_GET

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        path = url.path  # matched still encoded: a Bedrock model ARN holds an encoded "/"
        if path.startswith(CONTROL_PREFIX):
            self._send(sim.control(self.command, path, self._read_body() or b""))
            return
        mode = sim.faults.admit()
        if mode == "down":
            sim.faults.failed()
            self._reset()
            return
        if mode == "hang":
            sim.faults.failed()
            self._hang()
            return
        if mode == "slow" and sim.stopping.wait(sim.faults.latency_s()):
            self._reset()
            return
        body = self._read_body()
        if body is None:
            self._send(sim.service.error_response(413, "unreadable_body", "send a Content-Length of at most 1 MiB"))
            return
        request = SimRequest(
            method=self.command,
            path=path,
            query={k: v[0] for k, v in parse_qs(url.query, keep_blank_values=True).items()},
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        sim.log_request(request)
        # Authorisation comes first, as at API Gateway: an unsigned call is refused even while the backend fails.
        response = sim.refuse_unsigned(request, self.path)
        if response is None:
            response = sim.service.fault_response(mode) if mode in ("error", "throttle") else sim.handle(request)
        if response.status >= 500 or response.status == 429:
            sim.faults.failed()
        self._send(response)

    def _read_body(self) -> bytes | None:
        """The request body, or None (and the connection closed after the answer) when it cannot be read."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        # The project's clients (requests, botocore) always send a Content-Length; chunked bodies are refused.
        if self.headers.get("Transfer-Encoding") or not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, response: SimResponse) -> None:
        payload = b"" if response.body is None else json.dumps(response.body, ensure_ascii=False).encode()
        try:
            self.send_response(response.status)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up first; nothing left to tell it

    # ------------------------------------------------------------------ connection-level faults

    def _reset(self) -> None:
        """No HTTP answer at all: the connection is reset (RST), as a crashed or firewalled service does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def _hang(self) -> None:
        """Hold the connection without answering until the client gives up, the fault heals or we stop."""
        sim = self.server.sim
        sock = self.connection
        self.close_connection = True
        until = time.monotonic() + MAX_HANG_S
        while not sim.stopping.is_set() and time.monotonic() < until:
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(65536):
                    return  # the client closed its end: it stopped waiting
            except (OSError, ValueError):
                return
            if sim.faults.current().mode != "hang":
                break
        self._reset()


class SimulatorServer:
    """A SimService served by a threaded HTTP server on 127.0.0.1 with its own fault state."""

    def __init__(
        self, service: SimService, host: str = "127.0.0.1", port: int = 0, verifier: SigV4Verifier | None = None
    ):
        self.service = service
        self.verifier = verifier  # None: the service takes unsigned calls (Bedrock's simulator, test doubles)
        self.host = host
        self.port = port
        self.faults = FaultState()
        self.stopping = threading.Event()
        self._routes = service.all_routes()
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def name(self) -> str:
        return self.service.name

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SimulatorServer:
        httpd = _Server((self.host, self.port), _RequestHandler)
        httpd.sim = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self.stopping.clear()
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name=f"sim-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()
        httpd.shutdown()
        with self._lock:
            open_connections = list(self._connections)
        for sock in open_connections:
            # Wakes handler threads parked on idle keep-alive reads so nothing outlives the server.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def track(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._lock:
            self._connections.discard(sock)

    # ------------------------------------------------------------------ requests

    def handle(self, request: SimRequest) -> SimResponse:
        allowed = []
        for candidate in self._routes:
            match = candidate.pattern.match(request.path)
            if not match:
                continue
            if candidate.method != request.method:
                allowed.append(candidate.method)
                continue
            request.params = {k: unquote(v) for k, v in match.groupdict().items()}
            try:
                return candidate.handler(request)
            except HttpError as err:
                return self.service.error_response(err.status, err.code, err.message)
            except Exception:
                logger.exception("simulator %s failed on %s %s", self.name, request.method, request.path)
                return self.service.error_response(500, "internal_error", "the simulator failed")
        if allowed:
            return self.service.error_response(405, "method_not_allowed", f"use {', '.join(sorted(set(allowed)))}")
        return self.service.error_response(404, "not_found", f"no route for {request.path}")

    def refuse_unsigned(self, request: SimRequest, raw_path: str) -> SimResponse | None:
        """403 unless the request carries a valid SigV4 signature (when this server checks them)."""
        if self.verifier is None:
            return None
        try:
            self.verifier.verify(request.method, raw_path, request.headers, request.body)
        except SignatureError as err:
            return self.service.error_response(403, err.code, str(err))
        return None

    def log_request(self, request: SimRequest) -> None:
        try:
            body = json.loads(request.body) if request.body else None
        except ValueError:
            body = request.body.decode("utf-8", "replace")
        entry = {"method": request.method, "path": request.path, "query": request.query, "json": body}
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def reset_stats(self) -> None:
        self.faults.reset_stats()
        with self._lock:
            self._requests.clear()

    def set_fault(self, mode: str, **kwargs: Any) -> dict[str, Any]:
        self.faults.set(parse_fault(mode, **kwargs))
        return self.faults.describe()

    # ------------------------------------------------------------------ the /_sim control API

    def control(self, method: str, path: str, body: bytes) -> SimResponse:
        action = path[len(CONTROL_PREFIX) :]
        if action == "fault":
            if method == "GET":
                return SimResponse(200, {"fault": self.faults.describe()})
            if method == "DELETE":
                self.faults.clear()
                return SimResponse(200, {"fault": self.faults.describe()})
            if method == "POST":
                return self._post_fault(body)
        elif action == "stats":
            if method == "GET":
                return SimResponse(200, self.faults.stats())
            if method == "DELETE":
                self.reset_stats()
                return SimResponse(200, self.faults.stats())
        elif action == "requests":
            if method == "GET":
                return SimResponse(200, {"requests": self.requests()})
        else:
            return SimResponse(404, error_body("not_found", f"no control route {path}"))
        return SimResponse(405, error_body("method_not_allowed", f"{method} not allowed on {path}"))

    def _post_fault(self, body: bytes) -> SimResponse:
        try:
            spec = json.loads(body or b"{}")
        except ValueError:
            return SimResponse(400, error_body("malformed_json", "body must be a JSON object"))
        if not isinstance(spec, dict) or "mode" not in spec:
            return SimResponse(400, error_body("bad_fault", 'body must be {"mode": ...}'))
        known = {"mode", "latency_ms", "rate", "expires_in_s", "seed"}
        unknown = sorted(set(spec) - known)
        if unknown:
            return SimResponse(400, error_body("bad_fault", f"unknown fields: {', '.join(unknown)}"))
        try:
            return SimResponse(200, {"fault": self.set_fault(**spec)})
        except FaultSpecError as err:
            return SimResponse(400, error_body("bad_fault", str(err)))
