"""Breaker telemetry that keeps what it would have emitted, for tests and the fleet lab."""

from __future__ import annotations

from dataclasses import dataclass, field

from mangaassist.breaker.model import Transition
from mangaassist.breaker.telemetry import BreakerTelemetry
from mangaassist.registry import ServiceSpec


@dataclass
class RecordingTelemetry(BreakerTelemetry):
    """Keeps what would have been emitted, for tests and benchmarks."""

    events: list[tuple[str, str, float]] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)

    def emit(self, spec: ServiceSpec, name: str, value: float, unit: str) -> None:
        self.events.append((spec.name, name, value))

    def transition(self, spec: ServiceSpec, transition: Transition) -> None:
        self.transitions.append(transition)
        super().transition(spec, transition)

    def count(self, name: str) -> float:
        return sum(v for _, n, v in self.events if n == name)
