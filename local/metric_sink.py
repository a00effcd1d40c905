"""What CloudWatch would receive from the local stack: the EMF documents the workers print, as datapoints.

Lambda turns every Embedded Metric Format line a function prints into CloudWatch metrics; locally the
stack reads the workers' stdout and keeps the datapoints here, so game days and the local alarm
evaluator (local/alarms.py) see the same numbers the deployed alarms would.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_DATAPOINTS = 200_000


@dataclass(frozen=True)
class Datapoint:
    at: float  # epoch seconds
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]  # sorted (name, value) pairs
    value: float


def json_documents(line: str) -> list[Any]:
    """Every JSON document on one output line. Threads that print at once can put two documents on one
    line (each print() writes its text and its newline separately), so a line is not always one document."""
    decoder = json.JSONDecoder()
    docs, index, text = [], 0, line.strip()
    while index < len(text):
        try:
            doc, end = decoder.raw_decode(text, index)
        except ValueError:
            break
        docs.append(doc)
        index = end
        while index < len(text) and text[index].isspace():
            index += 1
    return docs


def parse_emf(line: str) -> list[Datapoint]:
    """The datapoints of the EMF documents on one line; [] for any other log line."""
    if '"_aws"' not in line:
        return []
    points = []
    for doc in json_documents(line):
        try:
            meta = doc["_aws"]
            at = float(meta.get("Timestamp", time.time() * 1000)) / 1000
            for directive in meta["CloudWatchMetrics"]:
                dimension_sets = directive.get("Dimensions") or [[]]
                for metric in directive["Metrics"]:
                    raw = doc.get(metric["Name"])
                    values = raw if isinstance(raw, list) else [raw]
                    for dims in dimension_sets:
                        key = tuple(sorted((d, str(doc.get(d, ""))) for d in dims))
                        points.extend(
                            Datapoint(at, directive["Namespace"], metric["Name"], key, float(v))
                            for v in values
                            if isinstance(v, int | float)
                        )
        except (KeyError, TypeError, AttributeError):
            continue
    return points


STATISTICS = {
    "Sum": sum,
    "Maximum": max,
    "Minimum": min,
    "SampleCount": len,
    "Average": lambda values: sum(values) / len(values),
}


class MetricSink:
    def __init__(self) -> None:
        self._points: collections.deque[Datapoint] = collections.deque(maxlen=MAX_DATAPOINTS)
        self._lock = threading.Lock()

    def add_line(self, line: str) -> bool:
        points = parse_emf(line)
        if points:
            with self._lock:
                self._points.extend(points)
        return bool(points)

    def points(self, since: float = 0.0, until: float | None = None, names: Iterable[str] = ()) -> list[Datapoint]:
        """Datapoints with since <= at < until, of the metrics ``names`` (every metric when empty)."""
        end, wanted = float("inf") if until is None else until, set(names)
        with self._lock:
            points = list(self._points)  # filtered outside the lock: the workers' output threads add meanwhile
        return [p for p in points if since <= p.at < end and (not wanted or p.name in wanted)]

    def statistic(
        self, stat: str, namespace: str, name: str, dimensions: dict[str, str], start: float, end: float
    ) -> float | None:
        """``stat`` over one metric's datapoints (exact dimension set, as CloudWatch matches them) in [start, end)."""
        key = tuple(sorted(dimensions.items()))
        values = [p.value for p in self.points(start, end, [name]) if p.namespace == namespace and p.dimensions == key]
        if not values or stat not in STATISTICS:
            return None
        return float(STATISTICS[stat](values))

    def summary(self, since: float = 0.0, until: float | None = None, names: Iterable[str] = ()) -> dict[str, Any]:
        """{metric: {"service=x": {"count", "sum", "max"}}} for datapoints in [since, until)."""
        out: dict[str, dict[str, dict[str, float]]] = {}
        for p in self.points(since, until, names):
            dims = ",".join(f"{k}={v}" for k, v in p.dimensions) or "-"
            entry = out.setdefault(p.name, {}).setdefault(dims, {"count": 0, "sum": 0.0, "max": p.value})
            entry["count"] += 1
            entry["sum"] += p.value
            entry["max"] = max(entry["max"], p.value)
        return out

    def clear(self) -> None:
        with self._lock:
            self._points.clear()
