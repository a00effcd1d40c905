"""What a game-day scenario needs from a running stack: traffic, faults, circuits, metrics, and its report row.

Everything goes through the stack's HTTP API (the chat routes and /_local), as an operator's tooling would.
"""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import requests

from bench.stack_process import StackProcess
from local.metric_sink import json_documents

EVENTS = Path(__file__).resolve().parents[2] / "events"
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


PACE_SEED = 36  # paced clients' jitter: seeded, so a game day repeats its traffic
# Powertools' log timestamp: "2026-11-27 03:47:38,146+0000".
LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S,%f%z"


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


@dataclass(frozen=True)
class AlarmNews:
    """What Slack and PagerDuty received about one alarm, each with the epoch second it arrived."""

    slack: dict[str, list[float]]  # "ALARM" / "OK" / "INSUFFICIENT_DATA" -> arrival times of its messages
    pagerduty: dict[str, list[float]]  # "trigger" / "resolve" -> arrival times of events keyed by the alarm's ARN

    def count(self, channel: str, what: str) -> int:
        return len(getattr(self, channel).get(what, []))

    def first(self, channel: str, what: str) -> float | None:
        times = getattr(self, channel).get(what, [])
        return min(times) if times else None


class Drill:
    """A handle on the running stack for the scenarios."""

    def __init__(self, stack: StackProcess, workers: int, time_scale: float, log_dir: Path | None = None):
        self.stack = stack
        self.workers = workers
        self.time_scale = time_scale
        self.log_dir = log_dir  # the stack's LOCAL_LOG_DIR: workers.log, what Lambda would ship to CloudWatch Logs
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
        """Calls that went through the breaker to ``service`` in [since, until): its latency, error and
        timeout metrics as the workers emitted them (chat and health ping alike).

        With ``until`` the closing write's ``updated_at``, the probe itself is in: the breaker emits its
        metric before it writes CLOSED, EMF truncates timestamps to the millisecond and the store rounds
        ``updated_at`` to it, hence the one millisecond. The first calls of a busy fleet after the close are
        not: they need that write's round trip to the store first."""
        names = ("DependencyLatency", f"{prefix}Error", f"{prefix}Timeout")
        summary = self.local("GET", "metrics", since=since, until=until + 0.001, names=",".join(names))
        key = f"service={service}"
        # A success slower than slow_call_ms would count twice (latency and timeout); healed services are fast.
        return sum(summary.get(name, {}).get(key, {}).get("count", 0) for name in names)

    def failures(self, *targets: str) -> int:
        stats = self.local("GET", "stats")
        return sum(stats[t]["failures"] for t in targets)

    def metric_points(self, names: Iterable[str], since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Each datapoint the workers emitted for ``names`` in [since, until), with its EMF timestamp."""
        params: dict[str, Any] = {"since": since, "names": ",".join(names), "raw": 1}
        if until is not None:
            params["until"] = until
        return self.local("GET", "metrics", **params)

    def log_events(self, message: str) -> list[dict[str, Any]]:
        """The workers' structured log lines whose message is ``message``, each with the worker that wrote it
        (what a CloudWatch Logs Insights query over the function's log group would return)."""
        if self.log_dir is None:
            raise RuntimeError("this drill's stack has no known log directory")
        events = []
        with (self.log_dir / "workers.log").open(encoding="utf-8", errors="replace") as log:
            for line in log:
                worker, _, text = line.rstrip("\n").partition(" ")
                if f'"{message}"' not in text:
                    continue
                # Threads that print at once can put two documents on one line.
                events.extend(
                    {**doc, "worker": worker}
                    for doc in json_documents(text)
                    if isinstance(doc, dict) and doc.get("message") == message
                )
        return events

    def transitions(self, service: str, since: float = 0.0) -> list[dict[str, Any]]:
        """The fleet's transitions of ``service`` the workers logged at or after ``since``, oldest first, each
        with ``at`` (epoch seconds of the log line, written right after the transition's conditional write).

        An environment's own circuit (scope "environment": it alone was failing) is not the fleet's and is left out.
        """
        found = []
        for event in self.log_events("circuit_transition"):
            if event.get("circuit") != service or event.get("scope") != "fleet":
                continue
            at = datetime.strptime(event["timestamp"], LOG_TIME_FORMAT).timestamp()
            if at >= since:
                found.append({**event, "at": at})
        return sorted(found, key=lambda e: e["at"])

    def alarm_arn(self, alarm: str) -> str:
        """The ARN CloudWatch gives alarm ``alarm`` in the stack (its notifications carry it as AlarmArn)."""
        from local.provision import local_refs
        from local.run import StackConfig
        from local.template_resources import alarm_definitions

        logical_id = alarm_definitions()[alarm][0]
        return local_refs(self.stack.env.get("STACK_NAME") or StackConfig.from_env().stack_name)[f"{logical_id}.Arn"]

    def alarm_news(self, alarm: str, arn: str) -> AlarmNews:
        """What the Slack and PagerDuty receivers got about ``alarm``. A Slack message names the alarm in its
        fallback text ("ALARM: <name> [P2] ..."); a PagerDuty event counts only under the alarm's ARN as
        dedup_key, which is how ALARM and its OK address one incident."""
        received = self.local("GET", "notifications", timed=1)
        slack: dict[str, list[float]] = {}
        for entry in received["slack"]:
            text = entry["body"].get("text", "") if isinstance(entry["body"], dict) else ""
            state, _, rest = text.partition(": ")
            if rest.startswith(f"{alarm} ["):
                slack.setdefault(state, []).append(entry["at"])
        pagerduty: dict[str, list[float]] = {}
        for entry in received["pagerduty"]:
            body = entry["body"] if isinstance(entry["body"], dict) else {}
            if body.get("dedup_key") == arn:
                pagerduty.setdefault(str(body.get("event_action")), []).append(entry["at"])
        return AlarmNews(slack, pagerduty)

    # ------------------------------------------------------------------ chat traffic

    def chat(self, message: str, customer: str | None = None, address: str | None = None, path: str = "/chat") -> Reply:
        """One request; ``address`` is the client's, which the front keys its rate rules and the chat its
        Bedrock budget on (it trusts X-Forwarded-For from this machine only)."""
        headers = {"Content-Type": "application/json"}
        if customer:
            headers["Authorization"] = f"Bearer {customer}"
        if address:
            headers["X-Forwarded-For"] = address
        started_at, started = time.time(), time.perf_counter()
        try:
            response = self.session().post(
                f"{self.stack.url}{path}", json={"message": message}, headers=headers, timeout=60
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
        pace_s: float = 0.0,
    ) -> list[Reply]:
        """Send ``messages`` round-robin from ``concurrency`` clients (default: one per worker, so nothing
        queues in front of the fleet) for ``seconds``, ``count`` requests or ``until`` holds.

        With ``pace_s`` each client is a customer who reads the answer before writing again: it starts a
        request every ``pace_s`` seconds on average, uniformly jittered by half of it (a seeded random per
        client, so runs repeat). Without the jitter the front's least-recently-used rotation hands each
        environment a request at a fixed phase, which locks the fleet's snapshot refreshes in step."""
        concurrency = concurrency or self.workers
        replies: list[Reply] = []
        lock = threading.Lock()
        sent = [0]
        deadline = time.monotonic() + seconds if seconds is not None else None
        stop = threading.Event()

        def client(number: int) -> None:
            jitter = random.Random(PACE_SEED + number)
            # Paced clients start spread over one pace, so arrivals are even instead of in lock-step bursts.
            if pace_s:
                stop.wait(number * pace_s / concurrency)
            while not stop.is_set():
                with lock:
                    if count is not None and sent[0] >= count:
                        return
                    index = sent[0]
                    sent[0] += 1
                if deadline is not None and time.monotonic() >= deadline:
                    return
                message, customer = messages[index % len(messages)]
                began = time.monotonic()
                reply = self.chat(message, customer, shopper_address(index))
                with lock:
                    replies.append(reply)
                if until is not None and until():
                    stop.set()
                if pace_s:
                    stop.wait(max(0.0, began + pace_s * jitter.uniform(0.5, 1.5) - time.monotonic()))

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sorted(replies, key=lambda r: r.started_at)


def shopper_address(index: int) -> str:
    """A load stands for a busy fleet's traffic, many people at once, not one person's pace: each request comes
    from its own address (198.18.0.0/15, the benchmarking range), so only a scenario that means to meet the
    edge's per-address rates does."""
    return f"198.{18 + (index // 62500) % 2}.{(index // 250) % 250}.{index % 250 + 1}"


def customers(n: int) -> list[str]:
    return [f"cust-{i:04d}" for i in range(1, n + 1)]


def summary_line(values: Iterable[float]) -> str:
    values = list(values)
    return ", ".join(f"{v:.2f}" for v in values) if values else "-"
