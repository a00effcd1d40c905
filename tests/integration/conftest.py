"""The simulator fleet the integration modules share: one per module, every fault cleared around each test."""

from __future__ import annotations

import pytest

from local.simulators import SimulatorFleet
from mangaassist.registry import SERVICE_NAMES


@pytest.fixture(scope="module")
def simulated_services() -> tuple[str, ...]:
    """The services a module's fleet simulates; a module that needs fewer overrides this fixture."""
    return SERVICE_NAMES


@pytest.fixture(scope="module")
def fleet(simulated_services):
    with SimulatorFleet(simulated_services) as running:
        yield running


@pytest.fixture
def healthy_fleet(fleet):
    """No fault and no count left from another test; faults cleared again after this one."""
    fleet.clear_faults()
    fleet.reset_stats()
    yield fleet
    fleet.clear_faults()
