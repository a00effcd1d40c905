"""In-memory stand-ins for the layer's ports; they live here so they never ship in the Lambda layer."""

from tests.fakes.circuit_store import InMemoryCircuitStore
from tests.fakes.clock import ManualClock
from tests.fakes.health_store import InMemoryHealthStore
from tests.fakes.lambda_context import FakeLambdaContext
from tests.fakes.llm_budget_store import InMemoryBudgetStore
from tests.fakes.telemetry import RecordingTelemetry

__all__ = [
    "FakeLambdaContext",
    "InMemoryBudgetStore",
    "InMemoryCircuitStore",
    "InMemoryHealthStore",
    "ManualClock",
    "RecordingTelemetry",
]
