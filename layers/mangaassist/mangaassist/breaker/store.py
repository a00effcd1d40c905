"""The breaker's state-store port (the DynamoDB adapter is dynamo_store; the in-memory fake is in tests/fakes).

Every write the breaker makes is one of three primitives, each atomic on its own:
- ``add_failure``: count one failure into a time bucket, only while the circuit is CLOSED;
- ``merge_failures``: the same for the failures one environment counted while the store was unreachable;
- ``compare_and_set``: a transition, only if nobody else transitioned since ``expected_version``;
- ``set_override``: an operator's fleet-wide override;
- ``withdraw_failures``: take back failures one environment counted, only while nothing transitioned since.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

from mangaassist.breaker.model import CircuitRecord, Override


class StateStoreError(Exception):
    """The state store could not be read or written (slow, throttled, unreachable).

    ``may_have_landed``: a write whose answer never came (a read timeout) may have been applied anyway.
    """

    def __init__(self, message: str = "", *, may_have_landed: bool = False):
        super().__init__(message)
        self.may_have_landed = may_have_landed


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
    def merge_failures(
        self, service: str, buckets: dict[int, int], stale_buckets: list[int], now: float
    ) -> CircuitRecord:
        """Atomically add failures counted while the store could not be reached (bucket start -> n);
        raises NotClosedError unless CLOSED."""

    @abstractmethod
    def compare_and_set(self, expected_version: int, new: CircuitRecord) -> CircuitRecord:
        """Write ``new`` with version ``expected_version + 1`` if the stored version is still
        ``expected_version``; raises LostRaceError otherwise."""

    @abstractmethod
    def withdraw_failures(self, service: str, expected_version: int, buckets: dict[int, int]) -> CircuitRecord:
        """Subtract ``buckets`` (bucket start -> failures) from the count if the circuit is still CLOSED at
        ``expected_version`` and every bucket is still there; raises LostRaceError otherwise."""

    @abstractmethod
    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        """Set the operator override for one circuit."""


def with_known_counts(
    copies: dict[str, CircuitRecord], counted: Mapping[str, CircuitRecord]
) -> dict[str, CircuitRecord]:
    """Records read from a copy, which carries no failure count, with the count this environment last saw
    written to the same version of the circuit: what it needs to prune stale buckets at its next count."""
    merged = {}
    for name, rec in copies.items():
        known = counted.get(name)
        merged[name] = (
            rec.with_changes(failure_buckets=dict(known.failure_buckets))
            if known is not None and known.version == rec.version
            else rec
        )
    return merged
