"""The health pinger's EMF documents: names, units, namespace and the service dimension."""

from __future__ import annotations

import json

from mangaassist.breaker import FailureKind
from mangaassist.health import PingResult
from mangaassist.health.telemetry import PingTelemetry
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    METRIC_NAMESPACE,
    PING_AVAILABILITY_METRIC,
    PING_LATENCY_METRIC,
    REGISTRY,
)


def emf_documents(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_one_document_per_service_with_availability_latency_and_circuit(capsys):
    telemetry = PingTelemetry()
    telemetry.publish(REGISTRY["order_service"], PingResult("order_service", True, 42.5, 200), circuit_open=False)
    telemetry.publish(REGISTRY["llm"], PingResult("llm", False, 6000.0, None, FailureKind.TIMEOUT), circuit_open=True)
    docs = emf_documents(capsys.readouterr().out)
    assert len(docs) == 2
    order, llm = docs
    for doc in docs:
        directive = doc["_aws"]["CloudWatchMetrics"][0]
        assert directive["Namespace"] == METRIC_NAMESPACE
        assert directive["Dimensions"] == [["service"]]
    assert order["service"] == "order_service"
    assert order[PING_AVAILABILITY_METRIC] == [1.0]
    assert order[PING_LATENCY_METRIC] == [42.5]
    assert order[CIRCUIT_OPEN_METRIC] == [0.0]
    units = {m["Name"]: m["Unit"] for m in order["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units == {
        PING_AVAILABILITY_METRIC: "Count",
        PING_LATENCY_METRIC: "Milliseconds",
        CIRCUIT_OPEN_METRIC: "Count",
    }
    assert llm["service"] == "llm"
    assert llm[PING_AVAILABILITY_METRIC] == [0.0]
    assert PING_LATENCY_METRIC not in llm  # a timeout's latency is the timeout, not the service's
    assert llm[CIRCUIT_OPEN_METRIC] == [1.0]
