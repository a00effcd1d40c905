"""User-facing capabilities (what the chatbot can do right now) from circuits and health pings.

A capability is backed by the registry services whose ``capabilities`` name it. Its state is the worst
state of those services: ``unavailable`` while a circuit is open (the chat is on its fallback) or
the health pings say down, ``degraded`` while the pings say warn (slow or flaky, still used), and
``available`` otherwise. The FAQ is never unavailable (canned answers, bundled copy): it is
``degraded`` while the LLM cannot ground answers on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mangaassist.health.status import ServiceStatus
from mangaassist.registry import REGISTRY, ServiceSpec

AVAILABLE = "available"
DEGRADED = "degraded"
UNAVAILABLE = "unavailable"

_RANK = {AVAILABLE: 0, DEGRADED: 1, UNAVAILABLE: 2}
_FROM_SERVICE = {
    ServiceStatus.OK: AVAILABLE,
    ServiceStatus.UNKNOWN: AVAILABLE,
    ServiceStatus.WARN: DEGRADED,
    ServiceStatus.DOWN: UNAVAILABLE,
}

# Capabilities served by the chat itself, with the service whose loss degrades (never removes) them.
DERIVED: dict[str, str] = {"faq": "llm"}


def capability_services(registry: Mapping[str, ServiceSpec] = REGISTRY) -> dict[str, tuple[str, ...]]:
    """capability -> the services backing it, read from the registry's ``capabilities`` fields."""
    backing: dict[str, list[str]] = {}
    for spec in registry.values():
        for capability in spec.capabilities:
            backing.setdefault(capability, []).append(spec.name)
    return {capability: tuple(services) for capability, services in backing.items()}


def service_status(circuit_available: bool, health: Any | None) -> ServiceStatus:
    """ok | warn | down | unknown for one service: an open circuit is down whatever the pings say."""
    if not circuit_available:
        return ServiceStatus.DOWN
    reported = getattr(health, "status", None)
    if reported in (ServiceStatus.OK, ServiceStatus.WARN, ServiceStatus.DOWN):
        return ServiceStatus(reported)
    return ServiceStatus.UNKNOWN


def capability_states(
    circuits: Mapping[str, bool],
    health: Mapping[str, Any] | None = None,
    registry: Mapping[str, ServiceSpec] = REGISTRY,
) -> dict[str, str]:
    """capability -> available | degraded | unavailable.

    ``circuits`` is the breaker's capability map (service -> would a call go to the network);
    ``health`` maps service -> its health summary (anything with a ``status`` attribute), if known.
    """
    health = health or {}
    statuses = {name: service_status(circuits.get(name, True), health.get(name)) for name in registry}
    states: dict[str, str] = {}
    for capability, services in capability_services(registry).items():
        worst = max((_FROM_SERVICE[statuses[s]] for s in services), key=_RANK.__getitem__)
        states[capability] = worst
    for capability, service in DERIVED.items():
        states[capability] = AVAILABLE if _FROM_SERVICE[statuses[service]] == AVAILABLE else DEGRADED
    return states
