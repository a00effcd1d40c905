"""A lab for fleet behaviour: N OS processes (one per Lambda execution environment) calling one dependency.

Used by the concurrency tests and by `make bench-breaker`. Each worker process builds its own breaker
(this project's, Powertools', or pybreaker) with its own boto3 client against one moto server, and
calls a local HTTP dependency whose failures can be switched on and off. The dependency counts what
actually reached it; each worker reports what it did and how many state-store requests it made.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from werkzeug.wrappers import Response

from local.serving import HttpServer

SERVICE = "order_service"


class CountingDependency:
    """A local HTTP dependency that answers 200 or 503 and timestamps every call that reached it."""

    def __init__(self) -> None:
        self.failing = False
        self.arrivals: list[tuple[float, bool]] = []  # (time, failed)
        self._lock = threading.Lock()
        self._http = HttpServer(self._app, "counting-dependency")

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self._lock:
            failed = self.failing
            self.arrivals.append((time.time(), failed))
        body = b'{"ok": false}' if failed else b'{"ok": true}'
        return Response(body, 503 if failed else 200, mimetype="application/json")(environ, start_response)

    @property
    def url(self) -> str:
        return self._http.url + "/"

    def start(self) -> CountingDependency:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def set_failing(self, failing: bool) -> float:
        with self._lock:
            self.failing = failing
            return time.time()

    def calls_between(self, start: float, end: float = float("inf"), failed: bool | None = None) -> int:
        with self._lock:
            return sum(1 for t, f in self.arrivals if start <= t < end and (failed is None or f == failed))

    def first_success_after(self, start: float) -> float | None:
        with self._lock:
            return next((t for t, f in self.arrivals if t >= start and not f), None)


@dataclass
class Plan:
    """What every worker does; times are offsets from a shared start time."""

    implementation: str  # "fleet" | "powertools" | "pybreaker"
    moto_url: str
    table: str
    dependency_url: str
    threshold: int = 3
    open_seconds: float = 60.0
    max_open_seconds: float = 60.0
    window_seconds: int = 60
    cache_ttl_s: float = 1.0
    interval_s: float = 0.1  # pause between one worker's calls
    stagger: bool = True  # spread the workers' first calls over one interval
    duration_s: float = 3.0
    counted_threshold: int | None = None  # override the threshold for the breaker (lost-count test)
    circuits: tuple[str, ...] = (SERVICE,)  # a worker's calls cycle through these circuits


@dataclass
class WorkerReport:
    index: int
    calls: int = 0  # calls the worker's code attempted
    ok: int = 0
    failed: int = 0  # the dependency answered with an error
    short_circuited: int = 0
    store_requests: int = 0
    transitions: list[tuple[str, str, float]] = field(default_factory=list)
    first_ok_after_heal: float | None = None
    error: str = ""


def _ddb_client(plan: Plan, counter: list[int]):
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "dynamodb",
        endpoint_url=plan.moto_url,
        region_name="ap-northeast-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1, read_timeout=2),
    )

    def count(**_):
        counter[0] += 1

    client.meta.events.register("before-send.dynamodb", count)
    return client


def _pybreaker_state(state) -> str:
    return str(state.name).upper().replace("-", "_")  # "half-open" -> "HALF_OPEN"


def _build_caller(plan: Plan, report: WorkerReport, counter: list[int]):
    """A function that makes one guarded call to circuit ``i`` and returns "ok" | "failed" | "short"."""
    import requests

    session = requests.Session()

    def hit():
        response = session.get(plan.dependency_url, timeout=2)
        response.raise_for_status()
        return "ok"

    if plan.implementation == "fleet":
        from mangaassist.breaker import CircuitBreakers, ServiceUnavailableError
        from mangaassist.breaker.dynamo_store import DynamoCircuitStore
        from mangaassist.breaker.failure import FailureKind
        from mangaassist.registry import REGISTRY
        from tests.fakes import RecordingTelemetry  # keeps the lab's EMF documents off stdout

        threshold = plan.counted_threshold or plan.threshold
        settings = {
            "failure_threshold": threshold,
            "open_seconds": plan.open_seconds,
            "max_open_seconds": plan.max_open_seconds,
            "window_seconds": plan.window_seconds,
        }
        registry = {
            name: replace(REGISTRY[name], slow_call_ms=10_000, breaker=replace(REGISTRY[name].breaker, **settings))
            for name in plan.circuits
        }
        breakers = CircuitBreakers(
            DynamoCircuitStore(plan.table, _ddb_client(plan, counter)),
            registry=registry,
            cache_ttl_s=plan.cache_ttl_s,
            telemetry=RecordingTelemetry(),
            on_transition=lambda t: report.transitions.append((t.from_state.value, t.to_state.value, t.at)),
        )

        def call(i: int) -> str:
            try:
                return breakers.call(plan.circuits[i], hit)
            except ServiceUnavailableError as err:
                return "short" if err.kind is FailureKind.CIRCUIT_OPEN else "failed"

        return call

    if plan.implementation == "powertools":
        import os

        os.environ.setdefault("AWS_LAMBDA_FUNCTION_NAME", "bench")
        from aws_lambda_powertools.utilities.circuit_breaker import (
            CircuitBreakerConfig,
            CircuitBreakerOpenError,
            circuit_breaker,
        )
        from aws_lambda_powertools.utilities.circuit_breaker.persistence import (
            CircuitBreakerDynamoDBPersistence,
        )

        persistence = CircuitBreakerDynamoDBPersistence(
            table_name=plan.table,
            key_attr="pk",
            sort_key_attr="sk",
            static_pk_value="powertools",
            boto3_client=_ddb_client(plan, counter),
        )
        config = CircuitBreakerConfig(
            failure_threshold=plan.threshold,
            recovery_timeout=int(plan.open_seconds),
            success_threshold=1,
            handled_exceptions=(requests.RequestException,),
        )

        def on_transition(t):
            report.transitions.append((str(t.from_state), str(t.to_state), time.time()))

        guarded = [
            circuit_breaker(name=name, persistence_store=persistence, config=config, on_transition=on_transition)(hit)
            for name in plan.circuits
        ]

        def call(i: int) -> str:
            try:
                return guarded[i]()
            except CircuitBreakerOpenError:
                return "short"
            except requests.RequestException:
                return "failed"

        return call

    if plan.implementation == "pybreaker":
        import pybreaker

        class Listener(pybreaker.CircuitBreakerListener):
            def state_change(self, cb, old_state, new_state):
                report.transitions.append((_pybreaker_state(old_state), _pybreaker_state(new_state), time.time()))

        breakers = [
            pybreaker.CircuitBreaker(fail_max=plan.threshold, reset_timeout=plan.open_seconds, listeners=[Listener()])
            for _ in plan.circuits
        ]

        def call(i: int) -> str:
            try:
                return breakers[i].call(hit)
            except pybreaker.CircuitBreakerError:
                return "short"
            except requests.RequestException:
                return "failed"

        return call

    raise ValueError(f"unknown implementation {plan.implementation!r}")


def _worker(index: int, workers: int, plan: Plan, ready, go, timing, results) -> None:
    report = WorkerReport(index=index)
    counter = [0]
    try:
        call = _build_caller(plan, report, counter)
        counter[0] = 0  # count only the requests the experiment causes, not set-up
        ready.wait(timeout=120)
        go.wait(timeout=120)
        start_at, heal_at = timing[0], timing[1] or None
        offset = (plan.interval_s * index / workers) if plan.stagger else 0.0
        next_at = start_at + offset
        end = start_at + plan.duration_s
        while True:
            now = time.time()
            if next_at > now:
                time.sleep(next_at - now)
            if time.time() >= end:
                break
            outcome = call(report.calls % len(plan.circuits))
            report.calls += 1
            if outcome == "ok":
                report.ok += 1
                if heal_at is not None and report.first_ok_after_heal is None and time.time() >= heal_at:
                    report.first_ok_after_heal = time.time() - heal_at
            elif outcome == "failed":
                report.failed += 1
            else:
                report.short_circuited += 1
            next_at += plan.interval_s
    except Exception as exc:  # reported to the parent, which fails loudly
        report.error = f"{type(exc).__name__}: {exc}"
    report.store_requests = counter[0]
    results.put(asdict(report))


def run_fleet(
    plan: Plan, workers: int, heal_after_s: float | None = None, dependency: CountingDependency | None = None
) -> tuple[list[WorkerReport], float]:
    """Run ``workers`` processes on ``plan``; returns their reports and the common start time.

    If ``heal_after_s`` is set, ``dependency`` stops failing that many seconds after the start.
    """
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(workers + 1)
    go = ctx.Barrier(workers + 1)
    timing = ctx.Array("d", [0.0, 0.0])
    results = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(i, workers, plan, ready, go, timing, results)) for i in range(workers)]
    for p in procs:
        p.start()
    ready.wait(timeout=120)  # every worker has imported and built its breaker
    start_at = time.time() + 0.3
    timing[0] = start_at
    timing[1] = start_at + heal_after_s if heal_after_s is not None else 0.0
    go.wait(timeout=120)
    if heal_after_s is not None and dependency is not None:
        time.sleep(max(0.0, timing[1] - time.time()))
        dependency.set_failing(False)
    reports = [WorkerReport(**results.get(timeout=plan.duration_s + 120)) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    errors = [r.error for r in reports if r.error]
    if errors:
        raise RuntimeError(f"worker errors: {errors}")
    return sorted(reports, key=lambda r: r.index), start_at


def summarize(reports: list[WorkerReport]) -> dict[str, Any]:
    return {
        "calls": sum(r.calls for r in reports),
        "ok": sum(r.ok for r in reports),
        "failed": sum(r.failed for r in reports),
        "short_circuited": sum(r.short_circuited for r in reports),
        "store_requests": sum(r.store_requests for r in reports),
        "transitions": sum(len(r.transitions) for r in reports),
    }
