"""The breaker's state store in one process, with the DynamoDB store's semantics, for tests and the fleet lab."""

from __future__ import annotations

import threading
from dataclasses import replace

from mangaassist.breaker.model import CircuitRecord, CircuitState, Override
from mangaassist.breaker.store import CircuitStore, LostRaceError, NotClosedError


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
        return self.merge_failures(service, {bucket: 1}, stale_buckets, now)

    def merge_failures(
        self, service: str, added: dict[int, int], stale_buckets: list[int], now: float
    ) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(service) or CircuitRecord(service=service)
            if current.state is not CircuitState.CLOSED:
                raise NotClosedError(current)
            buckets = {b: n for b, n in current.failure_buckets.items() if b not in stale_buckets}
            for bucket, n in added.items():
                buckets[bucket] = buckets.get(bucket, 0) + n
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

    def withdraw_failures(self, service: str, expected_version: int, buckets: dict[int, int]) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(service)
            if (
                current is None
                or current.state is not CircuitState.CLOSED
                or current.version != expected_version
                or any(b not in current.failure_buckets for b in buckets)
            ):
                raise LostRaceError(current)
            counts = dict(current.failure_buckets)
            for b, n in buckets.items():
                counts[b] -= n
            updated = replace(current, failure_buckets=counts)
            self._items[service] = updated
            return updated

    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        with self._lock:
            self._enter()
            current = self._items.get(service) or CircuitRecord(service=service)
            written = replace(current, override=override, updated_at=now)
            self._items[service] = written
            return written
