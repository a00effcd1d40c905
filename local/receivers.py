"""Local HTTP receivers standing in for Slack's incoming webhooks and PagerDuty's Events API v2.

Each receiver is a WSGI app served in-process on 127.0.0.1 (local/serving.py). It records every POST it gets
(thread-safe), and answers with a configurable response: one steady answer, or a sequence consumed one per
request before falling back to the steady one. Canned bodies match what the real services answer (Slack:
plain-text error codes; PagerDuty: JSON with status/message/dedup_key), so the relay's handling of each answer
is exercised as in production.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from local.serving import HttpServer

# What Slack's incoming webhooks answer (api.slack.com/messaging/webhooks#handling_errors).
SLACK_BODIES = {
    200: "ok",
    400: "invalid_payload",
    403: "action_prohibited",
    404: "channel_not_found",
    410: "channel_is_archived",
    429: "rate_limited",
    500: "rollup_error",
}
# What PagerDuty's Events API v2 answers (developer.pagerduty.com, "Send an Alert Event" responses).
PAGERDUTY_BODIES: dict[int, dict[str, Any]] = {
    400: {"status": "invalid event", "message": "Event object is invalid", "errors": ["'routing_key' is invalid"]},
    429: {"status": "throttle event", "message": "Requests for this service are arriving too quickly."},
    500: {"status": "error", "message": "Internal server error"},
}


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass(frozen=True)
class CannedResponse:
    status: int = 200
    body: bytes | str | Callable[[ReceivedRequest], bytes | str] = b""
    content_type: str = "text/plain"
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late (to exercise the caller's timeout)


def slack_response(status: int, delay_s: float = 0.0) -> CannedResponse:
    headers = {"Retry-After": "1"} if status == 429 else {}
    return CannedResponse(status, SLACK_BODIES.get(status, "error"), "text/plain", headers, delay_s)


def _pagerduty_accepted(request: ReceivedRequest) -> str:
    try:
        dedup_key = request.json().get("dedup_key", "")
    except (ValueError, AttributeError):
        dedup_key = ""
    return json.dumps({"status": "success", "message": "Event processed", "dedup_key": dedup_key})


def pagerduty_response(status: int, delay_s: float = 0.0) -> CannedResponse:
    if 200 <= status < 300:
        return CannedResponse(status, _pagerduty_accepted, "application/json", {}, delay_s)
    body = json.dumps(PAGERDUTY_BODIES.get(status, {"status": "error", "message": f"HTTP {status}"}))
    headers = {"Retry-After": "1"} if status == 429 else {}
    return CannedResponse(status, body, "application/json", headers, delay_s)


class Receiver:
    """One HTTP endpoint on 127.0.0.1 that records requests and answers as told."""

    def __init__(self, name: str, respond: Callable[[int, float], CannedResponse], steady_status: int):
        self.name = name
        self._respond = respond
        self._lock = threading.Condition()  # notified at every arrival
        self._requests: list[ReceivedRequest] = []
        self._steady = respond(steady_status, 0.0)
        self._queue: list[CannedResponse] = []
        self._server: HttpServer | None = None

    # -- configuration -------------------------------------------------------------------------------------
    def answer(self, status: int | CannedResponse, delay_s: float = 0.0) -> Receiver:
        """Answer every request this way from now on (and drop any queued sequence)."""
        with self._lock:
            self._steady = status if isinstance(status, CannedResponse) else self._respond(status, delay_s)
            self._queue = []
        return self

    def answer_sequence(self, *statuses: int | CannedResponse) -> Receiver:
        """Answer the next requests in this order, then fall back to the steady answer."""
        with self._lock:
            self._queue = [s if isinstance(s, CannedResponse) else self._respond(s, 0.0) for s in statuses]
        return self

    # -- what arrived ----------------------------------------------------------------------------------------
    @property
    def requests(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._requests)

    def bodies(self) -> list[Any]:
        return [r.json() for r in self.requests]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()

    def wait_for(self, count: int, timeout_s: float = 5.0) -> list[ReceivedRequest]:
        with self._lock:
            self._lock.wait_for(lambda: len(self._requests) >= count, timeout_s)
            return list(self._requests)

    # -- lifecycle -------------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"receiver {self.name} is not running")
        return self._server.url

    def start(self) -> Receiver:
        self._server = HttpServer(self._app, f"receiver-{self.name}").start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        http = Request(environ)
        if http.method != "POST":
            return Response("use POST", 405)(environ, start_response)
        request = ReceivedRequest(environ["RAW_URI"], dict(http.headers), http.get_data(), time.time())
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            canned = self._queue.pop(0) if self._queue else self._steady
        if canned.delay_s:
            time.sleep(canned.delay_s)
        body = canned.body(request) if callable(canned.body) else canned.body
        answer = Response(body, canned.status, canned.headers, content_type=canned.content_type)
        return answer(environ, start_response)

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def slack_receiver() -> Receiver:
    return Receiver("slack", slack_response, 200)


def pagerduty_receiver() -> Receiver:
    return Receiver("pagerduty", pagerduty_response, 202)


def main() -> None:
    """Run both receivers until Ctrl-C, printing where to point SLACK webhook secrets and PAGERDUTY_EVENTS_URL."""
    with slack_receiver() as slack, pagerduty_receiver() as pager:
        print(f"slack webhook base: {slack.url}/services/...", flush=True)
        print(f"PAGERDUTY_EVENTS_URL={pager.url}/v2/enqueue", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()
