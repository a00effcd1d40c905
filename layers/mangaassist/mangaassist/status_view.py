"""The `/status` body: the design's health dashboard and capability map (Q34) as data.

Circuits come from the breaker's snapshot (the state table's "circuits" partition), latency and error
rate from the health pings ("health" partition), the banners (the pinger's and the operator's) from the "flags"
partition. A part that
cannot be read is reported as such rather than guessed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from mangaassist.breaker import CircuitBreakers
from mangaassist.capability_map import capability_states, service_status
from mangaassist.health import Banners, HealthStoreError
from mangaassist.registry import REGISTRY, ServiceSpec


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _banner_body(banners: Banners | None, now: float) -> dict[str, Any] | None:
    """What customers see (one message per language) and, for on-call, whose banner it is and until when."""
    sources = banners.sources(now) if banners is not None else []
    if not sources:
        return None
    operator = banners.live_operator(now)
    return {
        "active": True,
        "message_en": banners.message("en", now),
        "message_ja": banners.message("ja", now),
        "sources": sources,
        "operator": None if operator is None else operator.as_dict(),
    }


def service_rows(
    breakers: CircuitBreakers,
    health: Mapping[str, Any],
    registry: Mapping[str, ServiceSpec] = REGISTRY,
) -> list[dict[str, Any]]:
    snapshot = breakers.snapshot()
    rows = []
    for name, spec in registry.items():
        record = snapshot[name]
        summary = health.get(name)
        latency = getattr(summary, "latency_ms", None)
        error_rate = getattr(summary, "error_rate", None)
        checked_at = getattr(summary, "checked_at", None)
        row: dict[str, Any] = {
            "name": name,
            "display_name": spec.display_name,
            "tier": int(spec.tier),
            "status": service_status(breakers.is_available(name), summary).value,
            "latency_ms": round(latency) if latency is not None else None,
            "error_rate": round(error_rate, 4) if error_rate is not None else None,
            "circuit": record.state.value,
            "override": record.override.value,
            "checked_at": _iso(checked_at) if checked_at else None,
        }
        rows.append(row)
    return rows


def status_body(
    breakers: CircuitBreakers,
    load_health: Callable[[], Mapping[str, Any]],
    banners: Banners | None,
    clock: Callable[[], float] = time.time,
) -> dict[str, Any]:
    """Everything `/status` shows. ``load_health`` may raise: the pings are then reported unreadable."""
    try:
        health = dict(load_health())
        health_readable = True
    except HealthStoreError:  # the circuits alone still tell the on-call a lot
        health, health_readable = {}, False
    services = service_rows(breakers, health)
    circuits = {name: breakers.is_available(name) for name in REGISTRY}
    return {
        "services": services,
        "capabilities": capability_states(circuits, health),
        "banner": _banner_body(banners, clock()),
        "state_store": "degraded" if breakers.state_store_degraded else "ok",
        "health_pings": "ok" if health_readable else "unreadable",
        "updated_at": _iso(clock()),
    }
