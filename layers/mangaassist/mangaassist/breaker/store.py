"""The breaker's state-store port and its in-memory implementation (for unit tests and local counting).

Every write the breaker makes is one of three primitives, each atomic on its own:
- ``add_failure``: count one failure into a time bucket, only while the circuit is CLOSED;
- ``compare_and_set``: a transition, only if nobody else transitioned since ``expected_version``;
- ``set_override``: an operator's fleet-wide override.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import replace

from mangaassist.breaker.model import CircuitRecord, CircuitState, Override


class StateStoreError(Exception):
    """The state store could not be read or written (slow, throttled, unreachable)."""


class NotClosedError(Exception):
    """A failure was not counted because the circuit is no longer CLOSED; carries the current record."""

    def __init__(self, current: CircuitRecord):
        super().__init__(f"circuit {current.service} is {current.state}")
        self.current = current


class LostRaceError(Exception):
    """A conditional transition lost to another writer; carries the record that won."""

    def __init__(self, current: CircuitRecord | None):
        super().__init__("transition lost to a concurrent writer")
        self.current = current


class CircuitStore(ABC):
    @abstractmethod
    def load_all(self) -> dict[str, CircuitRecord]:
        """Every circuit in one read (missing circuits are simply absent)."""

    @abstractmethod
    def add_failure(self, service: str, bucket: int, stale_buckets: list[int], now: float) -> CircuitRecord:
        """Atomically add one failure to ``bucket``; raises NotClosedError unless CLOSED."""

    @abstractmethod
    def compare_and_set(self, expected_version: int, new: CircuitRecord) -> CircuitRecord:
        """Write ``new`` with version ``expected_version + 1`` if the stored version is still
        ``expected_version``; raises LostRaceError otherwise."""

    @abstractmethod
    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        """Set the operator override for one circuit."""


class InMemoryCircuitStore(CircuitStore):
    """Same semantics as the DynamoDB store, in one process; thread-safe."""

    def __init__(self) -> None:
        self._items: dict[str, CircuitRecord] = {}
        self._lock = threading.Lock()
        self.requests = 0
        self.fail_with: Exception | None = None  # set to make every call raise (store outage)

    def _enter(self) -> None:
        self.requests += 1
        if self.fail_with is not None:
            raise self.fail_with

    def load_all(self) -> dict[str, CircuitRecord]:
        with self._lock:
            self._enter()
            return dict(self._items)

    def add_failure(self, service: str, bucket: int, stale_buckets: list[int], now: float) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(service) or CircuitRecord(service=service)
            if current.state is not CircuitState.CLOSED:
                raise NotClosedError(current)
            buckets = {b: n for b, n in current.failure_buckets.items() if b not in stale_buckets}
            buckets[bucket] = buckets.get(bucket, 0) + 1
            updated = replace(current, failure_buckets=buckets)
            self._items[service] = updated
            return updated

    def compare_and_set(self, expected_version: int, new: CircuitRecord) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(new.service)
            stored_version = current.version if current else 0
            if stored_version != expected_version:
                raise LostRaceError(current)
            # Like the DynamoDB store: a transition keeps the override and starts a fresh failure window.
            written = replace(
                new,
                version=expected_version + 1,
                failure_buckets={},
                override=current.override if current else new.override,
            )
            self._items[new.service] = written
            return written

    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(service) or CircuitRecord(service=service)
            written = replace(current, override=override, updated_at=now)
            self._items[service] = written
            return written
