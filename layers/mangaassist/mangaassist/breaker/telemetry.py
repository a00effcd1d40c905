"""Metrics and log lines the breaker emits (CloudWatch EMF, namespace MangaAssist/ServiceHealth)."""

from __future__ import annotations

import logging

from mangaassist.breaker.failure import FailureKind
from mangaassist.breaker.model import CircuitState, Transition
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    CIRCUIT_TRANSITION_METRIC,
    DEPENDENCY_LATENCY_METRIC,
    METRIC_NAMESPACE,
    SHORT_CIRCUITED_METRIC,
    ServiceSpec,
)

logger = logging.getLogger("mangaassist.breaker")


class BreakerTelemetry:
    """Emits one EMF document per event, with the canonical service name as the `service` dimension.

    The seed's alarm reads `<Service>Error` and `<Service>Timeout` (e.g. OrderServiceError), so a
    timeout or a slow call lands in `<Service>Timeout` and every other outage in `<Service>Error`.
    """

    def emit(self, spec: ServiceSpec, name: str, value: float, unit: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(
            name=name,
            unit=MetricUnit(unit),
            value=value,
            namespace=METRIC_NAMESPACE,
            default_dimensions={"service": spec.name},
        ):
            pass

    def failure(self, spec: ServiceSpec, kind: FailureKind) -> None:
        name = spec.timeout_metric if kind in (FailureKind.TIMEOUT, FailureKind.SLOW) else spec.error_metric
        self.emit(spec, name, 1, "Count")

    def refused(self, spec: ServiceSpec) -> None:
        """The dependency refused our credentials (401/403): not counted, but every answer it serves degrades."""
        self.emit(spec, spec.forbidden_metric, 1, "Count")

    def latency(self, spec: ServiceSpec, millis: float) -> None:
        self.emit(spec, DEPENDENCY_LATENCY_METRIC, millis, "Milliseconds")

    def short_circuited(self, spec: ServiceSpec) -> None:
        self.emit(spec, SHORT_CIRCUITED_METRIC, 1, "Count")

    def transition(self, spec: ServiceSpec, transition: Transition) -> None:
        logger.warning(
            "circuit_transition",
            extra={
                "circuit": transition.service,
                "from_state": transition.from_state.value,
                "to_state": transition.to_state.value,
                "reason": transition.reason,
                "failures": transition.failures,
                "tier": int(spec.tier),
                "scope": transition.scope,
            },
        )
        self.emit(spec, CIRCUIT_TRANSITION_METRIC, 1, "Count")
        # CircuitOpen pages as "open fleet-wide": one sick environment's own circuit is in the log, not there.
        if transition.scope == "fleet":
            self.emit(spec, CIRCUIT_OPEN_METRIC, 0 if transition.to_state is CircuitState.CLOSED else 1, "Count")
