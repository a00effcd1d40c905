"""The state table as a DynamoDB capacity model behind the breaker's CircuitStore port.

What it models, and the numbers it takes from DynamoDB's documentation:
- every circuit item lives in the "circuits" partition key: 3,000 RCU and 1,000 WCU per second per partition,
  and one item cannot take more than that either (a hot key never splits below one item);
- read copies ("circuits#0".."circuits#N-1") are other partition keys. Assumed: each partition key under
  load has a partition of its own (DynamoDB splits a hot partition and its adaptive capacity isolates hot
  keys; a new table may start with several keys on one partition, which the "one partition" figures show:
  every key's units added up);
- a transaction (a transition or an override with read copies) costs 2 WCU per KB on every item it writes;
- a Query costs its items' summed size rounded up to 4 KB: 1 RCU per 4 KB strongly consistent, half that
  eventually consistent; a write costs 1 WCU per KB of the item, and a write whose condition fails is
  charged like one that lands;
- capacity is counted per whole second; a request that would go over is throttled: the real store sees
  ProvisionedThroughputExceededException as a botocore ClientError and raises StateStoreError from it,
  so that is what the breaker gets here;
- latency is log-normal with a tail; the hot-path client's timeouts (connect 0.25 s, read 0.5 s, one
  attempt) apply: a slower answer is a StateStoreError, although the write may have landed;
- eventually consistent reads may miss writes of the last few tens of milliseconds;
- outage windows: throttled (capacity cut to a fraction), down (nothing answers), slow (latency times k).

The semantics of the three write primitives are the in-memory fake's, which the property and DynamoDB
integration tests hold to the real store's.
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from botocore.exceptions import ClientError, ConnectTimeoutError

from bench.fleet_sim.engine import Simulation
from mangaassist.breaker.dynamo_store import DEFAULT_CONSISTENT_READ, copy_pk
from mangaassist.breaker.model import CircuitRecord, Override
from mangaassist.breaker.store import CircuitStore, StateStoreError, with_known_counts
from mangaassist.registry import SERVICE_NAMES, STATE_CIRCUITS_PK
from tests.fakes import InMemoryCircuitStore

PARTITION_RCU = 3000.0
PARTITION_WCU = 1000.0
CONNECT_TIMEOUT_S = 0.25
READ_TIMEOUT_S = 0.5


@dataclass(frozen=True)
class StoreFault:
    """A window of elapsed seconds in which the store misbehaves."""

    kind: str  # "throttled" | "down" | "slow"
    start: float
    end: float
    capacity_factor: float = 0.05  # throttled: share of the partition's capacity left
    slowdown: float = 40.0  # slow: latency multiplier

    def active(self, elapsed: float) -> bool:
        return self.start <= elapsed < self.end


@dataclass
class Latency:
    """Log-normal round trip with a rare long tail (a retried TCP segment, a GC pause on the far side)."""

    median_s: float = 0.004
    sigma: float = 0.5
    tail_p: float = 0.002
    tail_s: tuple[float, float] = (0.05, 0.4)

    def draw(self, rng: random.Random) -> float:
        if rng.random() < self.tail_p:
            return rng.uniform(*self.tail_s)
        return self.median_s * math.exp(rng.gauss(0.0, self.sigma))


def item_bytes(rec: CircuitRecord) -> int:
    """DynamoDB's item size: attribute names plus values (numbers about 1 byte per 2 digits)."""
    size = len("pk") + len("circuits") + len("sk") + len(rec.service)
    size += len("state") + len(rec.state.value) + len("version") + 3
    size += len("fb") + 3 + sum(10 + 3 for _ in rec.failure_buckets)
    size += sum(len(n) + 8 for n in ("opened_at", "open_until", "lease_until", "updated_at"))
    size += len("reopen_count") + 2 + len("probe_successes") + 2
    size += len("probe_owner") + len(rec.probe_owner) + len("reason") + len(rec.reason)
    size += len("override") + len(rec.override.value)
    return size


def _throttled(operation: str) -> StateStoreError:
    err = ClientError(
        {
            "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "Rate of requests exceeds"},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )
    store_error = StateStoreError(str(err))
    store_error.__cause__ = err
    return store_error


def _per_second() -> defaultdict[int, float]:
    return defaultdict(float)


@dataclass
class CapacityLedger:
    """Per-second consumption of each partition key, and what was refused (the plain dicts add all keys up)."""

    read_units: dict[int, float] = field(default_factory=_per_second)
    write_units: dict[int, float] = field(default_factory=_per_second)
    read_demand: dict[int, float] = field(default_factory=_per_second)
    write_demand: dict[int, float] = field(default_factory=_per_second)
    by_key: dict[tuple[str, str], dict[int, float]] = field(default_factory=lambda: defaultdict(_per_second))
    requests: int = 0
    reads: int = 0
    writes: int = 0
    throttled: int = 0
    throttled_reads: int = 0
    throttled_writes: int = 0
    timed_out: int = 0

    def peak_pct(self, kind: str, since: float = 0.0, until: float = float("inf"), one_partition=False) -> float:
        """The busiest partition's busiest second; ``one_partition``: as if every key shared one."""
        limit = PARTITION_RCU if kind == "read" else PARTITION_WCU
        if one_partition:
            series = [self.read_units if kind == "read" else self.write_units]
        else:
            series = [units for (k, _), units in self.by_key.items() if k == f"{kind}_units"]
        window = [v for units in series for s, v in units.items() if since <= s < until]
        return round(100.0 * max(window, default=0.0) / limit, 1)

    def peak_demand_pct(self, kind: str) -> float:
        limit = PARTITION_RCU if kind == "read" else PARTITION_WCU
        series = [units for (k, _), units in self.by_key.items() if k == f"{kind}_demand"]
        return round(100.0 * max((v for units in series for v in units.values()), default=0.0) / limit, 1)


class StateTable:
    """One state table shared by a simulated fleet: its items, capacity and faults."""

    def __init__(
        self,
        sim: Simulation,
        rng: random.Random,
        *,
        latency: Latency | None = None,
        faults: tuple[StoreFault, ...] = (),
        replication_lag_s: float = 0.02,
        single_server: Latency | None = None,
        circuits: tuple[str, ...] = SERVICE_NAMES,
        read_copies: int = 1,
    ):
        self.read_copies = read_copies
        self.sim = sim
        self.rng = rng
        self.latency = latency or Latency()
        self.faults = faults
        self.replication_lag_s = replication_lag_s
        # moto in server mode (the real lab's store) works on one request at a time: a queue forms.
        self.single_server = single_server
        self._server_free_at = sim.now
        self.ledger = CapacityLedger()
        self.state = InMemoryCircuitStore()
        # Every circuit has its item once anything failed in the table's life: the Query reads all of them.
        for name in circuits:
            self.state.compare_and_set(0, CircuitRecord(service=name))
        self.state.requests = 0
        self._history_at: list[float] = [sim.now]
        self._history: list[dict[str, CircuitRecord]] = [self.state.load_all()]
        self._copy_views: dict[int, dict[str, CircuitRecord]] = {}
        self._units_at: tuple[tuple[int, bool], int] = ((-1, False), 0)
        self.write_log: list[tuple[float, str, CircuitRecord]] = []  # (elapsed, primitive, record written)

    # ---------------------------------------------------------------- the model

    def _fault(self, kind: str) -> StoreFault | None:
        elapsed = self.sim.elapsed
        return next((f for f in self.faults if f.kind == kind and f.active(elapsed)), None)

    def round_trip(self, operation: str, units: float | dict[str, float], kind: str, apply):
        """Send, wait, charge capacity on arrival, apply, wait for the answer; the client gives up on time.

        ``units`` is per partition key (a transaction writes several); a number is the "circuits" key's.
        """
        charges = units if isinstance(units, dict) else {STATE_CIRCUITS_PK: units}
        ledger = self.ledger
        ledger.requests += 1
        if kind == "read":
            ledger.reads += 1
        else:
            ledger.writes += 1
        if self._fault("down") is not None:
            self.sim.sleep(CONNECT_TIMEOUT_S)
            ledger.timed_out += 1
            raise StateStoreError(str(ConnectTimeoutError(endpoint_url="dynamodb")))
        latency = self.latency.draw(self.rng)
        slow = self._fault("slow")
        if slow is not None:
            latency *= slow.slowdown
        there = latency / 2
        answer_at = min(latency, READ_TIMEOUT_S)  # the client stops waiting at its read timeout
        if there >= answer_at:
            self.sim.sleep(answer_at)
            ledger.timed_out += 1
            raise StateStoreError(
                f"Read timeout on endpoint URL: dynamodb ({operation})", may_have_landed=kind == "write"
            )
        self.sim.sleep(there)
        if self.single_server is not None:
            start = max(self.sim.now, self._server_free_at)
            self._server_free_at = start + self.single_server.draw(self.rng)
            self.sim.sleep(self._server_free_at - self.sim.now)
        second = int(self.sim.elapsed)
        limit = PARTITION_RCU if kind == "read" else PARTITION_WCU
        throttle = self._fault("throttled")
        if throttle is not None:
            limit *= throttle.capacity_factor
        used = ledger.read_units if kind == "read" else ledger.write_units
        demand = ledger.read_demand if kind == "read" else ledger.write_demand
        demand[second] += sum(charges.values())
        for pk, n in charges.items():
            ledger.by_key[(f"{kind}_demand", pk)][second] += n
        if any(ledger.by_key[(f"{kind}_units", pk)][second] + n > limit for pk, n in charges.items()):
            ledger.throttled += 1
            if kind == "read":
                ledger.throttled_reads += 1
            else:
                ledger.throttled_writes += 1
            self.sim.sleep(answer_at - there)
            raise _throttled(operation)
        used[second] += sum(charges.values())
        for pk, n in charges.items():
            ledger.by_key[(f"{kind}_units", pk)][second] += n
        try:
            result = apply()
        finally:
            # The write happened server-side whatever the client makes of the answer.
            self.sim.sleep(answer_at - there)
        if latency >= READ_TIMEOUT_S:
            ledger.timed_out += 1
            raise StateStoreError(
                f"Read timeout on endpoint URL: dynamodb ({operation})", may_have_landed=kind == "write"
            )
        return result

    def _read_units(self, consistent: bool, copy: bool) -> float:
        key = (len(self._history), copy)
        if self._units_at[0] != key:
            size = sum(item_bytes(r) for r in self._view(len(self._history) - 1, copy).values())
            self._units_at = (key, math.ceil(size / 4096))
        units = self._units_at[1]
        return units if consistent else units / 2

    def _view(self, i: int, copy: bool) -> dict[str, CircuitRecord]:
        """The items as of the i-th write; on a copy, without the failure count (computed once per write)."""
        if not copy:
            return self._history[i]
        view = self._copy_views.get(i)
        if view is None:
            view = {n: r.with_changes(failure_buckets={}) for n, r in self._history[i].items()}
            self._copy_views[i] = view
        return view

    @staticmethod
    def write_units(rec: CircuitRecord | None) -> float:
        return float(max(1, math.ceil(item_bytes(rec) / 1024))) if rec is not None else 1.0

    def written(self, primitive: str, rec: CircuitRecord) -> CircuitRecord:
        self._history_at.append(self.sim.now)
        self._history.append(self.state.load_all())
        self.write_log.append((self.sim.elapsed, primitive, rec))
        return rec

    def current(self, service: str) -> CircuitRecord | None:
        """The authoritative item, without a request: for the simulation's bookkeeping only."""
        return self._history[-1].get(service)

    def query(self, consistent: bool, pk: str = STATE_CIRCUITS_PK) -> dict[str, CircuitRecord]:
        copy = pk != STATE_CIRCUITS_PK

        def read():
            i = len(self._history) - 1
            if not consistent:
                # A replica that has not yet applied the last few milliseconds of writes.
                lag = self.rng.expovariate(1.0 / self.replication_lag_s) if self.replication_lag_s else 0.0
                i = max(0, bisect_right(self._history_at, self.sim.now - lag) - 1)
            # A copy moves with every transition in the same transaction, and carries no failure count.
            return dict(self._view(i, copy))

        return self.round_trip("Query", {pk: self._read_units(consistent, copy)}, "read", read)

    def transaction_units(self, service: str) -> dict[str, float]:
        """A transition or an override written to "circuits" and every copy: 2 WCU per KB on each."""
        rec = self.current(service)
        units = {STATE_CIRCUITS_PK: 2 * self.write_units(rec)}
        bare = rec.with_changes(failure_buckets={}) if rec is not None else None
        for i in range(self.read_copies):
            units[copy_pk(i)] = 2 * self.write_units(bare)
        return units


class DynamoCapacityStore(CircuitStore):
    """One environment's adapter to the table, as DynamoCircuitStore behaves: its read consistency, and the
    conditional PutItem that creates a circuit's item before its first write unless a Query showed the item
    (charged a WCU even when the item exists)."""

    def __init__(
        self,
        table: StateTable,
        consistent_read: bool = DEFAULT_CONSISTENT_READ,
        known_from_query=True,
        copy: int = 0,
    ):
        self.table = table
        self.consistent_read = consistent_read
        self.known_from_query = known_from_query
        self.copy = copy % table.read_copies
        self._known: set[str] = set()
        self._counts: dict[str, CircuitRecord] = {}

    def _counted(self, rec: CircuitRecord) -> CircuitRecord:
        self._counts[rec.service] = rec
        return rec

    def _transition_units(self, service: str) -> float | dict[str, float]:
        table = self.table
        if table.read_copies > 1:
            return table.transaction_units(service)
        return table.write_units(table.current(service))

    def _ensure_item(self, service: str) -> None:
        if service in self._known:
            return
        self.table.round_trip("PutItem", self.table.write_units(self.table.current(service)), "write", lambda: None)
        self._known.add(service)

    def load_all(self) -> dict[str, CircuitRecord]:
        if self.table.read_copies > 1:
            records = with_known_counts(self.table.query(self.consistent_read, copy_pk(self.copy)), self._counts)
        else:
            records = self.table.query(self.consistent_read)
        if self.known_from_query:
            self._known.update(records)
        return records

    def add_failure(self, service: str, bucket: int, stale_buckets: list[int], now: float) -> CircuitRecord:
        return self.merge_failures(service, {bucket: 1}, stale_buckets, now)

    def merge_failures(
        self, service: str, buckets: dict[int, int], stale_buckets: list[int], now: float
    ) -> CircuitRecord:
        self._ensure_item(service)
        return self._count_write(
            service, "add_failure", lambda state: state.merge_failures(service, buckets, stale_buckets, now)
        )

    def _count_write(self, service: str, operation: str, apply) -> CircuitRecord:
        """One UpdateItem on the counted item, charged by its size, whose answer this environment keeps."""
        table = self.table
        return self._counted(
            table.round_trip(
                "UpdateItem",
                table.write_units(table.current(service)),
                "write",
                lambda: table.written(operation, apply(table.state)),
            )
        )

    def compare_and_set(self, expected_version: int, new: CircuitRecord) -> CircuitRecord:
        table = self.table
        written = table.round_trip(
            "TransactWriteItems" if table.read_copies > 1 else "UpdateItem",
            self._transition_units(new.service),
            "write",
            lambda: table.written("compare_and_set", table.state.compare_and_set(expected_version, new)),
        )
        self._known.add(new.service)
        return written

    def withdraw_failures(self, service: str, expected_version: int, buckets: dict[int, int]) -> CircuitRecord:
        return self._count_write(
            service, "withdraw_failures", lambda state: state.withdraw_failures(service, expected_version, buckets)
        )

    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        self._ensure_item(service)
        table = self.table
        return table.round_trip(
            "TransactWriteItems" if table.read_copies > 1 else "UpdateItem",
            self._transition_units(service),
            "write",
            lambda: table.written("set_override", table.state.set_override(service, override, now)),
        )
