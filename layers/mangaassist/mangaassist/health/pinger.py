"""Pings every registry service at once and turns the answers into health, circuit flags, banner and metrics.

One run (the health-ping Lambda, once a minute):
1. every service is pinged concurrently, each within its registry timeout. A service whose circuit is
   OPEN or HALF_OPEN is pinged *through* ``breakers.probe``: when the circuit is due for its probe,
   the ping is the fleet's single probe (same lease, same conditional transitions as a chat request),
   so a successful ping closes the circuit and a failed one reopens it with backoff; when no probe is
   due, or another caller holds the lease, the ping runs on its own and changes nothing;
2. the results join each service's history in the state table (see ``store``);
3. a CLOSED circuit whose last ``ping_failures_to_open`` pings failed is opened fleet-wide with reason
   ``health_ping`` (a compare-and-set: an overlapping run or a chat environment that got there first
   simply wins);
4. the maintenance banner is set once the LLM has been unavailable for more than ``banner_after_s``
   and cleared when it is back;
5. PingAvailability, PingLatency and CircuitOpen are published per service.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ALL_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitRecord,
    CircuitState,
    FailureKind,
    Override,
    classify,
)
from mangaassist.breaker.failure import dependency_error
from mangaassist.downstream.models import PingResult
from mangaassist.health.models import Banner, HealthStoreError, ServiceHealth
from mangaassist.health.store import HealthStorage
from mangaassist.health.telemetry import PingTelemetry
from mangaassist.registry import REGISTRY, ServiceSpec

logger = logging.getLogger("mangaassist.health")

HEALTH_PING_REASON = "health_ping"
BANNER_SERVICE = "llm"
BANNER_AFTER_S = 300.0  # design Q36: "If LLM is down >5 minutes: proactively show maintenance banner"
JOIN_GRACE_S = 1.0  # a prober that ignores its own timeout is abandoned this long after it
BANNER_EN = (
    "MangaAssist is running in limited mode: AI-written answers are temporarily unavailable. "
    "I can still answer common questions, and a support agent is one click away."
)
BANNER_JA = (
    "現在、MangaAssistは機能を一部制限して運用しています。AIによる回答は一時的にご利用いただけませんが、"
    "よくあるご質問にはお答えでき、サポート担当者にもすぐにおつなぎできます。"
)


class Prober(Protocol):
    """Pings one service once within ``timeout_s``.

    Returns a PingResult, or raises; an exception is recorded as a failed ping, never propagated.
    """

    def __call__(self, timeout_s: float) -> PingResult: ...


@dataclass(frozen=True)
class PingReport:
    """What one run saw and changed; the handler returns it as a dict."""

    started_at: float
    results: dict[str, PingResult]
    health: dict[str, ServiceHealth]
    probes: dict[str, bool]  # services whose ping was the fleet's probe -> whether it succeeded
    opened: list[str]  # circuits this run opened
    circuits: dict[str, str]  # circuit state per service after the run
    banner: str  # "set", "cleared", "unchanged"
    state_store_ok: bool
    duration_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "started_at": self.started_at,
            "duration_ms": round(self.duration_ms, 1),
            "state_store_ok": self.state_store_ok,
            "services": {
                name: {
                    "ok": result.ok,
                    "latency_ms": result.latency_ms,
                    "status_code": result.status_code,
                    "failure": result.failure.value if result.failure else None,
                    "error_class": result.detail or None,
                    "status": self.health[name].status.value if name in self.health else None,
                    "circuit": self.circuits.get(name),
                }
                for name, result in self.results.items()
            },
            "probes": self.probes,
            "opened": self.opened,
            "banner": self.banner,
        }


def _failed(service: str, started_at: float, exc: BaseException) -> PingResult:
    kind = classify(exc)
    return PingResult(
        service=service,
        ok=False,
        latency_ms=None,
        status_code=getattr(exc, "status_code", None),
        failure=kind,
        at=started_at,
        detail=kind.value if kind is not None else type(exc).__name__,
    )


def outage_since(
    health: ServiceHealth | None, latest: PingResult | None, circuit: CircuitRecord, now: float
) -> float | None:
    """When the current outage of a service began, or None if it is available.

    Available means: its circuit lets calls through and its last ping answered. Otherwise the outage
    began at the earliest of the first failed ping of the current streak (kept in the health item, so
    it survives invocations) and the moment its circuit opened (or an operator forced it open).
    """
    circuit_down = circuit.is_open and circuit.override not in (Override.DISABLED, Override.FORCED_CLOSED)
    ping_down = latest is not None and not latest.ok
    if health is not None and health.consecutive_failures > 0:
        ping_down = True
    if not circuit_down and not ping_down:
        return None
    starts = []
    if ping_down:
        if health is not None and health.failing_since is not None:
            starts.append(health.failing_since)
        elif latest is not None:
            starts.append(latest.at)
    if circuit_down:
        if circuit.state is not CircuitState.CLOSED and circuit.opened_at > 0:
            starts.append(circuit.opened_at)
        elif circuit.updated_at > 0:
            starts.append(circuit.updated_at)
    return min(starts) if starts else now


@dataclass
class HealthPinger:
    """One health-ping run per :meth:`run`; build once per execution environment."""

    store: HealthStorage
    breakers: CircuitBreakers
    probers: Mapping[str, Prober]
    registry: Mapping[str, ServiceSpec] = field(default_factory=lambda: REGISTRY)
    clock: Callable[[], float] = time.time
    telemetry: PingTelemetry = field(default_factory=PingTelemetry)
    banner_after_s: float = BANNER_AFTER_S
    join_grace_s: float = JOIN_GRACE_S
    # concurrent.futures.wait's signature; tests pass one that records how long the run would wait.
    wait_for_pings: Callable[..., Any] = wait

    def run(self) -> PingReport:
        started = time.perf_counter()
        now = self.clock()
        circuits = self.breakers.snapshot()
        results, probes = self._ping_all(circuits)

        state_store_ok = True
        try:
            health = self.store.record(results.values(), now)
        except HealthStoreError as err:
            # The pings still happened: metrics go out; flags wait for a run that can count failures.
            state_store_ok = False
            health = {}
            logger.error("health_store_unavailable", extra={"error": str(err)[:300]})

        opened = [name for name, h in health.items() if self._should_open(h, circuits[name]) and self._open(name)]
        circuits = self.breakers.snapshot()
        banner = self._update_banner(health.get(BANNER_SERVICE), results.get(BANNER_SERVICE), circuits, now)
        if self.breakers.state_store_degraded:
            state_store_ok = False

        for name, result in results.items():
            self.telemetry.publish(self.registry[name], result, circuits[name].is_open)
            if not result.ok:
                logger.warning(
                    "health_ping_failed",
                    extra={
                        "service": name,
                        "failure": result.failure.value if result.failure else None,
                        "error_class": result.detail,
                        "status_code": result.status_code,
                        "consecutive_failures": health[name].consecutive_failures if name in health else None,
                    },
                )
        return PingReport(
            started_at=now,
            results=results,
            health=health,
            probes=probes,
            opened=opened,
            circuits={name: rec.state.value for name, rec in circuits.items()},
            banner=banner,
            state_store_ok=state_store_ok,
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    # ------------------------------------------------------------ pinging

    def _ping(self, spec: ServiceSpec) -> PingResult:
        started_at = self.clock()
        prober = self.probers.get(spec.name)
        if prober is None:
            return PingResult(spec.name, False, None, at=started_at, detail="not_configured")
        try:
            return replace(prober(spec.timeout_ms / 1000), service=spec.name, at=started_at)
        except Exception as exc:  # any failure of the dependency or its adapter is a failed ping
            return _failed(spec.name, started_at, exc)

    def _ping_or_probe(self, spec: ServiceSpec, circuit: CircuitRecord) -> tuple[PingResult, bool | None]:
        if circuit.state is CircuitState.CLOSED or circuit.override is not Override.NONE:
            return self._ping(spec), None
        seen: list[PingResult] = []

        def ping_as_probe() -> PingResult:
            result = self._ping(spec)
            seen.append(result)
            if not result.ok:
                # The ping's own failure kind, so the probe counts it as a chat request's would be.
                detail = f"health ping failed ({result.detail})"
                raise dependency_error(result.failure, spec.name, detail, result.status_code)
            return result

        outcome = self.breakers.probe(spec.name, ping_as_probe)
        if seen:
            return seen[0], outcome
        return self._ping(spec), None

    def _ping_all(self, circuits: Mapping[str, CircuitRecord]) -> tuple[dict[str, PingResult], dict[str, bool]]:
        specs = [self.registry[name] for name in self.registry]
        started_at = self.clock()
        pool = ThreadPoolExecutor(max_workers=len(specs), thread_name_prefix="ping")
        futures = {spec.name: pool.submit(self._ping_or_probe, spec, circuits[spec.name]) for spec in specs}
        # Each prober enforces its own timeout; this only bounds a prober that does not.
        limit = max(spec.timeout_ms for spec in specs) / 1000 + self.join_grace_s
        self.wait_for_pings(futures.values(), timeout=limit, return_when=ALL_COMPLETED)
        pool.shutdown(wait=False, cancel_futures=True)
        results: dict[str, PingResult] = {}
        probes: dict[str, bool] = {}
        for name, future in futures.items():
            if not future.done():
                abandoned = PingResult(name, False, None, failure=FailureKind.TIMEOUT, at=started_at, detail="timeout")
                results[name] = abandoned
                continue
            result, outcome = future.result()
            results[name] = result
            if outcome is not None:
                probes[name] = outcome
        return results, probes

    # ------------------------------------------------------------ flags

    def _should_open(self, health: ServiceHealth, circuit: CircuitRecord) -> bool:
        spec = self.registry[health.service]
        # An operator's override is the last word on a circuit; the pinger only flips unattended ones.
        return (
            circuit.state is CircuitState.CLOSED
            and circuit.override is Override.NONE
            and health.consecutive_failures >= spec.ping_failures_to_open
        )

    def _open(self, service: str) -> bool:
        opened = self.breakers.force_open(service, reason=HEALTH_PING_REASON)
        if opened:
            logger.warning("circuit_opened_by_health_ping", extra={"service": service})
        return opened

    def _update_banner(
        self,
        health: ServiceHealth | None,
        latest: PingResult | None,
        circuits: Mapping[str, CircuitRecord],
        now: float,
    ) -> str:
        if BANNER_SERVICE not in circuits:
            return "unchanged"
        since = outage_since(health, latest, circuits[BANNER_SERVICE], now)
        try:
            if since is None:
                # A read first: a conditional write that finds nothing to clear would still cost a write unit.
                current = self.store.get_banner()
                if current is not None and current.active and self.store.clear_banner():
                    return "cleared"
                return "unchanged"
            if now - since > self.banner_after_s:
                self.store.set_banner(Banner(True, BANNER_EN, BANNER_JA, since, f"{BANNER_SERVICE}_unavailable"))
                return "set"
        except HealthStoreError as err:
            logger.error("banner_update_failed", extra={"error": str(err)[:300]})
        return "unchanged"
