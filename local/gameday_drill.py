"""What a game-day scenario needs from a running stack: traffic, faults, circuits, metrics, and its report row.

Everything goes through the stack's HTTP API (the chat routes and /_local), as an operator's tooling would.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from local.stack_process import StackProcess

EVENTS = Path(__file__).resolve().parent.parent / "events"
# What a customer must never read: a stack trace, an exception name, an HTTP error verbatim.
RAW_ERROR_MARKERS = (
    "Traceback",
    "Exception",
    "errorMessage",
    "Internal server error",
    "Internal Server Error",
    "Service Unavailable",
    "Error 5",
    "HTTP 5",
)


def event_message(name: str) -> str:
    """The customer message of events/<name>.json, so game days speak like the handler's own fixtures."""
    event = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return json.loads(event["body"])["message"]


@dataclass(frozen=True)
class Reply:
    started_at: float  # epoch seconds
    latency_s: float
    status: int
    body: dict[str, Any] | None
    worker: str | None
    customer: str | None

    @property
    def raw_error(self) -> bool:
        """An answer a customer must never get: 5xx, no JSON, no message, or error text in the message."""
        if self.status >= 500 or not isinstance(self.body, dict):
            return True
        message = self.body.get("message")
        if not isinstance(message, str) or not message.strip():
            return True
        return any(marker in message for marker in RAW_ERROR_MARKERS)

    @property
    def degraded(self) -> bool:
        return bool(self.body and self.body.get("degraded"))


@dataclass
class Row:
    """One line of the game-day report, and the expectations behind its verdict."""

    scenario: str
    replies: list[Reply] = field(default_factory=list)
    reached: int | None = None
    open_s: float | None = None
    close_s: float | None = None
    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    allowed_failures: int = 0  # answers the scenario itself expects to fail (a killed worker's in-flight one)

    def expect(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append((name, bool(ok), detail))
        return bool(ok)

    @property
    def passed(self) -> bool:
        return all(ok for _, ok, _ in self.checks)

    @property
    def raw_errors(self) -> int:
        return sum(1 for r in self.replies if r.raw_error)

    @property
    def degraded_share(self) -> float | None:
        return sum(1 for r in self.replies if r.degraded) / len(self.replies) if self.replies else None

    def percentile_ms(self, q: float) -> float | None:
        latencies = sorted(r.latency_s * 1000 for r in self.replies)
        if not latencies:
            return None
        if len(latencies) == 1:
            return latencies[0]
        return statistics.quantiles(latencies, n=100, method="inclusive")[int(q) - 1]

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "requests": len(self.replies),
            "raw_errors": self.raw_errors,
            "degraded_share": self.degraded_share,
            "p50_ms": self.percentile_ms(50),
            "p99_ms": self.percentile_ms(99),
            "reached_broken_dependency": self.reached,
            "seconds_to_open": self.open_s,
            "seconds_to_close": self.close_s,
            "passed": self.passed,
            "checks": [{"check": n, "ok": ok, "detail": d} for n, ok, d in self.checks],
            "notes": self.notes,
            "duration_s": round(self.duration_s, 1),
        }


class Drill:
    """A handle on the running stack for the scenarios."""

    def __init__(self, stack: StackProcess, workers: int, time_scale: float):
        self.stack = stack
        self.workers = workers
        self.time_scale = time_scale
        self._local = threading.local()

    def session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
        return self._local.session

    def local(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        response = self.session().request(
            method, f"{self.stack.url}/_local/{path}", json=body, params=params, timeout=90
        )
        if response.status_code >= 400:
            raise RuntimeError(f"{method} /_local/{path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.headers.get("Content-Type", "").startswith("application/json") else None

    # ------------------------------------------------------------------ faults, stats, circuits

    def fault(self, target: str, mode: str, **kwargs: Any) -> None:
        self.local("POST", "faults", {"target": target, "mode": mode, **kwargs})

    def heal(self) -> float:
        self.local("DELETE", "faults")
        return time.time()

    def fresh_fleet(self) -> None:
        """Every fault healed, every circuit CLOSED, counters and received notifications cleared."""
        self.local("DELETE", "faults")
        self.local("DELETE", "circuits")
        self.local("DELETE", "stats")
        self.local("DELETE", "notifications")
        time.sleep(1.1)  # the environments' circuit snapshots are at most STATE_CACHE_TTL_S (1 s) old

    def calls(self, *targets: str) -> int:
        stats = self.local("GET", "stats")
        return sum(stats[t]["calls"] for t in targets)

    def circuits(self) -> dict[str, dict[str, Any]]:
        return self.local("GET", "circuits")

    def wait_until(self, predicate: Callable[[], Any], timeout_s: float, every_s: float = 0.2, tick=None) -> Any:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            if tick is not None:
                tick()
            time.sleep(every_s)
        return None

    def probe_calls(self, service: str, prefix: str, since: float, until: float) -> int:
        """Calls that went through the breaker to ``service`` in [since, until]: its latency, error and
        timeout metrics as the workers emitted them (chat and health ping alike)."""
        names = ("DependencyLatency", f"{prefix}Error", f"{prefix}Timeout")
        summary = self.local("GET", "metrics", since=since, until=until + 0.05, names=",".join(names))
        key = f"service={service}"
        # A success slower than slow_call_ms would count twice (latency and timeout); healed services are fast.
        return sum(summary.get(name, {}).get(key, {}).get("count", 0) for name in names)

    # ------------------------------------------------------------------ chat traffic

    def chat(self, message: str, customer: str | None = None) -> Reply:
        headers = {"Content-Type": "application/json"}
        if customer:
            headers["Authorization"] = f"Bearer {customer}"
        started_at, started = time.time(), time.perf_counter()
        try:
            response = self.session().post(
                f"{self.stack.url}/chat", json={"message": message}, headers=headers, timeout=60
            )
            status, worker = response.status_code, response.headers.get("X-Local-Worker")
            try:
                body = response.json()
            except ValueError:
                body = None
        except requests.RequestException:
            status, body, worker = 599, None, None
        return Reply(started_at, time.perf_counter() - started, status, body, worker, customer)

    def load(
        self,
        messages: Sequence[tuple[str, str | None]],
        *,
        seconds: float | None = None,
        count: int | None = None,
        until: Callable[[], bool] | None = None,
        concurrency: int | None = None,
    ) -> list[Reply]:
        """Send ``messages`` round-robin from ``concurrency`` clients (default: one per worker, so nothing
        queues in front of the fleet) for ``seconds``, ``count`` requests or ``until`` holds."""
        concurrency = concurrency or self.workers
        replies: list[Reply] = []
        lock = threading.Lock()
        sent = [0]
        deadline = time.monotonic() + seconds if seconds is not None else None
        stop = threading.Event()

        def client() -> None:
            while not stop.is_set():
                with lock:
                    if count is not None and sent[0] >= count:
                        return
                    index = sent[0]
                    sent[0] += 1
                if deadline is not None and time.monotonic() >= deadline:
                    return
                message, customer = messages[index % len(messages)]
                reply = self.chat(message, customer)
                with lock:
                    replies.append(reply)
                if until is not None and until():
                    stop.set()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(replies, key=lambda r: r.started_at)


def customers(n: int) -> list[str]:
    return [f"cust-{i:04d}" for i in range(1, n + 1)]


def summary_line(values: Iterable[float]) -> str:
    values = list(values)
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"
