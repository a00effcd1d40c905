"""User-facing capabilities from the registry's capability fields, the circuits and the health pings."""

from __future__ import annotations

from dataclasses import dataclass

from mangaassist.capability_map import (
    AVAILABLE,
    DEGRADED,
    UNAVAILABLE,
    capability_services,
    capability_states,
    service_status,
)
from mangaassist.registry import REGISTRY, SERVICE_NAMES


@dataclass
class Health:
    status: str


ALL_UP = dict.fromkeys(SERVICE_NAMES, True)


def test_capabilities_come_from_the_registry() -> None:
    backing = capability_services()
    for spec in REGISTRY.values():
        for capability in spec.capabilities:
            assert spec.name in backing[capability]
    assert sum(len(services) for services in backing.values()) == sum(len(s.capabilities) for s in REGISTRY.values())


def test_everything_available_when_circuits_are_closed_and_pings_ok() -> None:
    states = capability_states(ALL_UP, {name: Health("ok") for name in SERVICE_NAMES})
    assert set(states.values()) == {AVAILABLE}
    assert set(states) == set(capability_services()) | {"faq"}


def test_an_open_circuit_makes_its_capabilities_unavailable_whatever_the_pings_say() -> None:
    states = capability_states({**ALL_UP, "order_service": False}, {"order_service": Health("ok")})
    assert states["order_tracking"] == UNAVAILABLE
    assert states["product_info"] == AVAILABLE


def test_slow_or_flaky_pings_degrade_a_capability() -> None:
    # The seed's dashboard: Returns Service WARN -> "Return requests: degraded (slow)".
    states = capability_states(ALL_UP, {"returns_service": Health("warn")})
    assert states["return_requests"] == DEGRADED


def test_catalog_down_takes_both_of_its_capabilities() -> None:
    states = capability_states({**ALL_UP, "catalog": False})
    assert states["product_info"] == UNAVAILABLE
    assert states["popular_items"] == UNAVAILABLE


def test_faq_is_degraded_never_unavailable_when_the_llm_is_down() -> None:
    assert capability_states({**ALL_UP, "llm": False})["faq"] == DEGRADED
    assert capability_states(ALL_UP, {"llm": Health("warn")})["faq"] == DEGRADED
    assert capability_states(ALL_UP)["faq"] == AVAILABLE


def test_service_status_prefers_the_circuit() -> None:
    assert service_status(False, Health("ok")) == "down"
    assert service_status(True, Health("down")) == "down"
    assert service_status(True, Health("warn")) == "warn"
    assert service_status(True, None) == "unknown"
    assert service_status(True, Health("unknown")) == "unknown"
