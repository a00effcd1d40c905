"""What the local stack does with a worker's stdout: EMF to the metric sink, every log document to workers.log,
even when two threads' prints share one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.run import LocalStack, StackConfig


@pytest.fixture
def stack(tmp_path: Path):
    local = LocalStack(StackConfig(log_dir=tmp_path, quiet=True))
    yield local
    local.stop()  # nothing was started: only the log file closes


def emf(name: str, service: str) -> dict:
    return {
        "_aws": {
            "Timestamp": 1795751258147,
            "CloudWatchMetrics": [
                {"Namespace": "MangaAssist/ServiceHealth", "Dimensions": [["service"]], "Metrics": [{"Name": name}]}
            ],
        },
        "service": service,
        name: 1.0,
    }


def logged(tmp_path: Path) -> list[str]:
    return (tmp_path / "workers.log").read_text(encoding="utf-8").splitlines()


def test_a_log_document_sharing_a_line_with_emf_is_kept(stack: LocalStack, tmp_path: Path) -> None:
    transition = {"level": "WARNING", "message": "circuit_transition", "circuit": "analytics", "to_state": "HALF_OPEN"}
    stack._on_output("health-ping-1", json.dumps(emf("DependencyLatency", "catalog")) + json.dumps(transition))
    stack._on_output("health-ping-1", "")  # the newline the second print wrote on its own

    assert [(p.name, dict(p.dimensions)) for p in stack.sink.points()] == [
        ("DependencyLatency", {"service": "catalog"})
    ]
    lines = logged(tmp_path)
    assert len(lines) == 1
    worker, _, text = lines[0].partition(" ")
    assert worker == "health-ping-1"
    assert json.loads(text) == transition


def test_plain_lines_go_to_the_log_and_emf_alone_does_not(stack: LocalStack, tmp_path: Path) -> None:
    stack._on_output("chat-1", json.dumps(emf("OrderServiceError", "order_service")))
    stack._on_output("chat-1", "Traceback (most recent call last):")
    assert logged(tmp_path) == ["chat-1 Traceback (most recent call last):"]
    assert len(stack.sink.points()) == 1
