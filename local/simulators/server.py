"""One simulated dependency on its own 127.0.0.1 port: routing, the shared fault middleware, the /_sim control API."""

from __future__ import annotations

import collections
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from local.faults import FaultMiddleware, FaultSpecError, fault_request
from local.serving import HttpServer
from local.simulators.sigv4 import SignatureError, SigV4Verifier

logger = logging.getLogger("local.simulators")

CONTROL_PREFIX = "/_sim/"
MAX_BODY_BYTES = 1 << 20
REQUEST_LOG_SIZE = 200


class HttpError(Exception):
    """A handler's way to answer with an error status and the simulators' JSON error shape."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class SimRequest(Request):
    """Werkzeug's request, plus the target as sent (``raw_uri``, ``raw_path``: still percent-encoded, as the
    SigV4 signature covers it and a Bedrock model ARN holds an encoded "/") and the route's decoded ``params``."""

    params: dict[str, str]

    @property
    def raw_uri(self) -> str:
        return self.environ.get("RAW_URI") or self.environ["PATH_INFO"]

    @property
    def raw_path(self) -> str:
        return urlsplit(self.raw_uri).path

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        raise HttpError(400, "malformed_json", "request body is not valid JSON") from e

    def int_arg(self, name: str, default: int, lo: int = 1, hi: int = 50) -> int:
        raw = self.args.get(name)
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
Route = Rule  # what a service's routes() lists: its endpoint is the handler


def route(method: str, path: str, handler: Handler) -> Route:
    """``path`` may hold ``{name}`` placeholders that match one path segment, still percent-encoded."""
    return Rule(re.sub(r"\{(\w+)\}", r"<\1>", path), methods=[method], endpoint=handler)


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


class SimulatorServer:
    """A SimService behind the fault middleware, served on 127.0.0.1 with its own fault state and /_sim API."""

    def __init__(self, service: SimService, port: int = 0, verifier: SigV4Verifier | None = None):
        self.service = service
        self.verifier = verifier  # None: the service takes unsigned calls (Bedrock's simulator, test doubles)
        self.faulty = FaultMiddleware(self._serve, lambda mode: _http(service.fault_response(mode)), self._refuse)
        self.faults = self.faulty.faults
        routes = [
            route("GET", "/health", lambda _req: SimResponse(200, {"status": "ok"})),
            *service.routes(),
            # The /_sim control API: its calls pass no fault, signature check or request log (see _app).
            Rule("/_sim/fault", endpoint=self._sim_fault, methods=["GET", "POST", "DELETE"]),
            Rule("/_sim/stats", endpoint=self._sim_stats, methods=["GET", "DELETE"]),
            route("GET", "/_sim/requests", lambda _req: SimResponse(200, {"requests": self.requests()})),
        ]
        self._routes = Map(routes, strict_slashes=False, merge_slashes=False).bind(service.name)
        self._requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=REQUEST_LOG_SIZE)
        self._lock = threading.Lock()
        self._http = HttpServer(self._app, f"sim-{service.name}", port=port)  # bound now: a busy port raises here
        self.url = self._http.url

    def start(self) -> SimulatorServer:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    # ------------------------------------------------------------------ WSGI

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"].startswith(CONTROL_PREFIX):
            return _http(self.handle(SimRequest(environ)))(environ, start_response)
        return self.faulty(environ, start_response)

    def _arrived(self, request: SimRequest) -> SimResponse | None:
        """Logs the request; answers the refusal it gets before any answer (or None): 413 past 1 MiB, 403 unless
        signed with the stack's key when this server checks signatures."""
        if len(request.get_data()) > MAX_BODY_BYTES:
            return self.service.error_response(413, "unreadable_body", "send at most 1 MiB")
        self.log_request(request)
        if self.verifier is not None:
            try:
                self.verifier.verify(request.method, request.raw_uri, request.headers, request.get_data())
            except SignatureError as err:
                return self.service.error_response(403, err.code, str(err))
        return None

    def _refuse(self, environ: dict[str, Any]) -> Response | None:
        refusal = self._arrived(SimRequest(environ))
        return None if refusal is None else _http(refusal)

    def _serve(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = SimRequest(environ)
        return _http(self._arrived(request) or self.handle(request))(environ, start_response)

    # ------------------------------------------------------------------ requests

    def handle(self, request: SimRequest) -> SimResponse:
        try:
            handler, params = self._routes.match(request.raw_path, request.method)
            request.params = {k: unquote(v) for k, v in params.items()}
            return handler(request)
        except MethodNotAllowed as err:
            allowed = ", ".join(sorted(set(err.valid_methods or ()) - {"HEAD"}))
            return self.service.error_response(405, "method_not_allowed", f"use {allowed}")
        except NotFound:
            return self.service.error_response(404, "not_found", f"no route for {request.raw_path}")
        except HttpError as err:
            return self.service.error_response(err.status, err.code, err.message)
        except Exception:
            logger.exception("simulator %s failed on %s %s", self.service.name, request.method, request.raw_path)
            return self.service.error_response(500, "internal_error", "the simulator failed")

    def log_request(self, request: SimRequest) -> None:
        try:
            body = json.loads(request.get_data()) if request.get_data() else None
        except ValueError:
            body = request.get_data(as_text=True)
        entry = {"method": request.method, "path": request.raw_path, "query": request.args.to_dict(), "json": body}
        with self._lock:
            self._requests.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._requests)

    def reset_stats(self) -> None:
        self.faults.reset_stats()
        with self._lock:
            self._requests.clear()

    # ------------------------------------------------------------------ the /_sim control API

    def _sim_fault(self, request: SimRequest) -> SimResponse:
        if request.method == "POST":
            try:
                self.faults.configure(**fault_request(request.get_data()))
            except FaultSpecError as err:
                raise HttpError(400, "bad_fault", str(err)) from err
        elif request.method == "DELETE":
            self.faults.clear()
        return SimResponse(200, {"fault": self.faults.describe()})

    def _sim_stats(self, request: SimRequest) -> SimResponse:
        if request.method == "DELETE":
            self.reset_stats()
        return SimResponse(200, self.faults.stats())


def _http(response: SimResponse) -> Response:
    payload = None if response.body is None else json.dumps(response.body, ensure_ascii=False)
    mimetype = None if payload is None else "application/json"
    return Response(payload, response.status, response.headers, mimetype=mimetype)
