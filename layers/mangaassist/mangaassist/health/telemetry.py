"""The health pinger's metrics: one EMF document per service per run (namespace from the registry).

Each document carries PingAvailability (1 answered / 0 not), PingLatency (only for a healthy answer: a
timeout's latency is the timeout, not the service) and CircuitOpen (1 open, half-open or forced open /
0 closed), with the canonical service name as the ``service`` dimension, so an alarm on a missing or
zero PingAvailability fires even when no chat traffic reaches the service.
"""

from __future__ import annotations

from mangaassist.downstream.models import PingResult
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    METRIC_NAMESPACE,
    PING_AVAILABILITY_METRIC,
    PING_LATENCY_METRIC,
    ServiceSpec,
)


class PingTelemetry:
    def publish(self, spec: ServiceSpec, result: PingResult, circuit_open: bool) -> None:
        # EphemeralMetrics keeps its own metric set, so these documents never mix with the handler's.
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE)
        metrics.add_dimension(name="service", value=spec.name)
        metrics.add_metric(name=PING_AVAILABILITY_METRIC, unit=MetricUnit.Count, value=1 if result.ok else 0)
        if result.ok and result.latency_ms is not None:
            metrics.add_metric(name=PING_LATENCY_METRIC, unit=MetricUnit.Milliseconds, value=result.latency_ms)
        metrics.add_metric(name=CIRCUIT_OPEN_METRIC, unit=MetricUnit.Count, value=1 if circuit_open else 0)
        metrics.flush_metrics()
