"""The fleet-wide circuit breaker: one execution environment's view of circuits shared through the state store.

Per environment: an in-memory snapshot of every circuit, refreshed by one Query at most every
``cache_ttl_s``. Healthy calls read the snapshot and write nothing. Failures are counted fleet-wide
with an atomic ADD that only lands while the circuit is CLOSED; every transition is a compare-and-set
on the circuit's version, so exactly one environment wins each one. After the open period exactly one
caller in the fleet wins the probe lease.

The fleet's circuit opens on evidence from at least two environments. An environment whose own failures
are every failure in the window when the threshold is reached opens the circuit for itself alone, exactly
as a single breaker would (a broken connection pool must not cut the whole fleet off a healthy
dependency), takes back all but one of its failures from the shared count, and probes on its own.

If the store itself is slow or gone, the breaker keeps working on its last snapshot plus local counting
and reports ``state_store`` as degraded.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mangaassist.breaker.failure import (
    DependencyClientError,
    FailureKind,
    ServiceUnavailableError,
    classify,
)
from mangaassist.breaker.model import (
    CircuitInfo,
    CircuitRecord,
    CircuitState,
    Override,
    Transition,
    bucket_start,
)
from mangaassist.breaker.store import (
    CircuitStore,
    LostRaceError,
    NotClosedError,
    StateStoreError,
)
from mangaassist.breaker.telemetry import BreakerTelemetry
from mangaassist.registry import REGISTRY, ServiceSpec

logger = logging.getLogger("mangaassist.breaker")

T = TypeVar("T")
BUCKETS_PER_WINDOW = 6


def _default_owner() -> str:
    # Lambda names each execution environment's log stream uniquely; add randomness for local workers.
    stream = os.getenv("AWS_LAMBDA_LOG_STREAM_NAME", "local")
    return f"{stream[-12:]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CircuitBreakers:
    """All circuits of one execution environment. Create once per environment (module scope)."""

    def __init__(
        self,
        store: CircuitStore,
        *,
        registry: Mapping[str, ServiceSpec] = REGISTRY,
        clock: Callable[[], float] = time.time,
        cache_ttl_s: float = 1.0,
        store_retry_after_s: float = 5.0,
        recheck_before_count_s: float = 0.25,
        owner_id: str | None = None,
        telemetry: BreakerTelemetry | None = None,
        on_transition: Callable[[Transition], None] | None = None,
    ):
        self.store = store
        self.registry = registry
        self.clock = clock
        # Latency wants a monotonic timer; an injected clock is the timer too, so a test's clock decides what is slow.
        self.timer = time.perf_counter if clock is time.time else clock
        self.cache_ttl_s = cache_ttl_s
        self.store_retry_after_s = store_retry_after_s
        self.recheck_before_count_s = recheck_before_count_s
        self.owner_id = owner_id or _default_owner()
        self.telemetry = telemetry or BreakerTelemetry()
        self.on_transition = on_transition
        self._snapshot: dict[str, CircuitRecord] = {}
        self._loaded_at = float("-inf")
        self._store_down_until = float("-inf")
        self._store_error: str | None = None
        self._local_failures: dict[str, deque[float]] = {}
        # Failures counted locally that certainly never reached the store (bucket start -> n): added to the
        # shared count, once, when the store answers again.
        self._unmerged: dict[str, dict[int, int]] = {}
        self._local_opens: set[str] = set()  # circuits this environment opened on its own count
        self._local_probes: set[str] = set()  # ... and is probing on its own
        # Failures this environment added to the store since the circuit's last transition: the version they
        # were added at, bucket -> n, and those of them it left behind when it last isolated itself.
        self._counted: dict[str, tuple[int, dict[int, int], dict[int, int]]] = {}
        # Circuits open for this environment alone (it was the only one failing), on top of a CLOSED fleet record.
        self._isolated: dict[str, CircuitRecord] = {}
        self._lock = threading.RLock()

    # ---------------------------------------------------------------- reading state

    def _refresh(self, force: bool = False, mark_down: bool = True) -> None:
        now = self.clock()
        if not force and now - self._loaded_at < self.cache_ttl_s:
            return
        if now < self._store_down_until:
            return
        try:
            records = self.store.load_all()
        except StateStoreError as err:
            if mark_down:
                self._mark_store_down(err)
            return
        with self._lock:
            # Another thread of this environment (the pinger probes circuits concurrently) may have
            # written a transition after this Query was served: a higher version is newer than what
            # the Query saw, so it stays. Otherwise the store wins (overrides, failure counts).
            for name, mine in self._snapshot.items():
                theirs = records.get(name)
                if theirs is not None and mine.version > theirs.version:
                    records[name] = mine
            self._snapshot = records
            self._loaded_at = now
            self._store_error = None
            # The store is back and its records replaced the local ones: the fleet decides again.
            self._local_opens.clear()
            self._local_probes.clear()
        if self._unmerged:
            self._merge_local_counts()

    def _merge_local_counts(self) -> None:
        """Add what this environment counted alone while the store was unreachable to the shared count.

        Each count leaves ``_unmerged`` before its write, so none is added twice; a write that may have
        landed although its answer never came is not retried (the count may be there already).
        """
        with self._lock:
            pending, self._unmerged = self._unmerged, {}
        for name, buckets in list(pending.items()):
            del pending[name]
            spec = self.registry.get(name)
            current = self._snapshot.get(name)
            if spec is None or (current is not None and current.state is not CircuitState.CLOSED):
                continue  # the circuit opened without them: they would only count into a window already reset
            now = self.clock()
            bucket_seconds = max(1, spec.breaker.window_seconds // BUCKETS_PER_WINDOW)
            oldest = bucket_start(now, bucket_seconds) - spec.breaker.window_seconds + bucket_seconds
            buckets = {b: n for b, n in buckets.items() if b >= oldest}
            if not buckets:
                continue
            stale = sorted(b for b in (current.failure_buckets if current else {}) if b < oldest)
            try:
                rec = self.store.merge_failures(name, buckets, stale, now)
            except NotClosedError as lost:
                self._remember(lost.current)
                continue
            except StateStoreError as err:
                self._mark_store_down(err)
                if not err.may_have_landed:
                    pending[name] = buckets
                with self._lock:  # for the next answer, with what this environment counted meanwhile
                    for service, counts in pending.items():
                        kept = self._unmerged.setdefault(service, {})
                        for b, n in counts.items():
                            kept[b] = kept.get(b, 0) + n
                return
            self._remember(rec)
            self._decide(spec, rec, buckets, oldest, now, "local_counts_merged")

    def _mark_store_down(self, err: Exception) -> None:
        # Back off instead of hammering a store that is already struggling; the snapshot carries on.
        now = self.clock()
        self._store_down_until = now + self.store_retry_after_s
        self._loaded_at = now
        if self._store_error is None:
            logger.warning("state_store_degraded", extra={"error": str(err)[:300]})
        self._store_error = str(err)[:300]

    def _view(self, service: str) -> CircuitRecord:
        """The circuit as this environment acts on it: the fleet's record, or its own isolation on top of it."""
        rec = self._snapshot.get(service) or CircuitRecord(service=service)
        isolated = self._isolated.get(service)
        if isolated is None:
            return rec
        if rec.state is not CircuitState.CLOSED or rec.version != isolated.version:
            # The fleet transitioned since: its decision (and its single probe) replaces this environment's own.
            with self._lock:
                self._isolated.pop(service, None)
            return rec
        return rec if rec.override is not Override.NONE else isolated

    def record(self, service: str) -> CircuitRecord:
        self._refresh()
        return self._view(service)

    def snapshot(self, refresh: bool = True) -> dict[str, CircuitRecord]:
        """Every registry circuit as this environment sees it now."""
        if refresh:
            self._refresh()
        return {name: self._view(name) for name in self.registry}

    @property
    def state_store_degraded(self) -> bool:
        return self._store_error is not None

    def is_available(self, service: str) -> bool:
        """True when a call to ``service`` may go to the network: closed, overridden closed, or due a probe."""
        rec = self.record(service)
        if rec.override in (Override.DISABLED, Override.FORCED_CLOSED):
            return True
        if rec.override is Override.FORCED_OPEN:
            return False
        if rec.state is CircuitState.CLOSED:
            return True
        # A probe is due: the caller may try. Exactly one caller in the fleet wins the lease and probes;
        # the others are short-circuited inside call() and take their fallback there.
        now = self.clock()
        if rec.state is CircuitState.OPEN:
            return now >= rec.open_until
        return now >= rec.lease_until

    def capability_map(self) -> dict[str, bool]:
        """Which services the orchestrator can use right now (design Q34), from one snapshot."""
        self._refresh()
        return {name: self.is_available(name) for name in self.registry}

    def info(self, service: str) -> CircuitInfo:
        rec = self.record(service)
        return CircuitInfo(service, rec.state, rec.override, rec.open_until, rec.reason)

    # ---------------------------------------------------------------- calling through the breaker

    def call(
        self,
        service: str,
        fn: Callable[..., T],
        *args: Any,
        fallback: Callable[[CircuitInfo], T] | None = None,
        is_slow: Callable[[T, float], bool] | None = None,
        **kwargs: Any,
    ) -> T:
        """Call ``fn`` guarded by ``service``'s circuit.

        When the circuit is open, or the call fails in a way that counts, ``fallback(info)`` is
        returned if given; otherwise ServiceUnavailableError is raised. A 4xx (or any error that is not
        a dependency outage) propagates unchanged and is not counted. ``is_slow(result, elapsed_ms)``
        judges a successful call slow where total time alone would mislead (an LLM's long answer);
        by default it is slow past the registry's ``slow_call_ms``.
        """
        spec = self.registry[service]
        rec = self.record(service)
        if rec.override is Override.DISABLED:
            return fn(*args, **kwargs)
        if rec.override is Override.FORCED_OPEN:
            return self._short_circuit(spec, fallback)
        probing = False
        if rec.override is not Override.FORCED_CLOSED and rec.state is not CircuitState.CLOSED:
            rec = self._recheck_before_lease(service, rec)
        if rec.override is not Override.FORCED_CLOSED and rec.state is not CircuitState.CLOSED:
            probing = self._try_acquire_probe(spec, rec)
            if not probing:
                return self._short_circuit(spec, fallback)
        return self._invoke(
            spec,
            fn,
            args,
            kwargs,
            fallback,
            probing=probing,
            counted=rec.override is not Override.FORCED_CLOSED,
            is_slow=is_slow,
        )

    def guard(self, service: str, fallback: Callable[[CircuitInfo], Any] | None = None):
        """Decorator form of :meth:`call`."""

        def decorator(fn):
            def wrapper(*args, **kwargs):
                return self.call(service, fn, *args, fallback=fallback, **kwargs)

            wrapper.__wrapped__ = fn
            wrapper.__name__ = getattr(fn, "__name__", "guarded")
            return wrapper

        return decorator

    def _invoke(self, spec: ServiceSpec, fn, args, kwargs, fallback, *, probing: bool, counted: bool, is_slow=None):
        started = self.timer()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            kind = classify(exc)
            if kind is None:
                if isinstance(exc, DependencyClientError) and exc.status_code in (401, 403):
                    # A role or resource policy that stopped matching degrades every answer of this service
                    # without opening its circuit: the alarm DownstreamForbidden counts this instead.
                    self.telemetry.refused(spec)
                if probing:
                    # The dependency answered (with our mistake); the probe proved it is reachable.
                    self._probe_succeeded(spec)
                raise
            self.telemetry.failure(spec, kind)
            if counted:
                self._on_failure(spec, kind, probing)
            if fallback is not None:
                return fallback(self.info(spec.name))
            raise ServiceUnavailableError(spec.name, kind) from exc
        elapsed_ms = (self.timer() - started) * 1000
        self.telemetry.latency(spec, elapsed_ms)
        if is_slow(result, elapsed_ms) if is_slow is not None else elapsed_ms > spec.slow_call_ms:
            self.telemetry.failure(spec, FailureKind.SLOW)
            if counted:
                self._on_failure(spec, FailureKind.SLOW, probing)
        elif probing:
            self._probe_succeeded(spec)
        return result

    def _short_circuit(self, spec: ServiceSpec, fallback):
        self.telemetry.short_circuited(spec)
        if fallback is not None:
            return fallback(self.info(spec.name))
        raise ServiceUnavailableError(spec.name, FailureKind.CIRCUIT_OPEN)

    # ---------------------------------------------------------------- failures and transitions

    def _on_failure(self, spec: ServiceSpec, kind: FailureKind, probing: bool) -> None:
        if probing:
            self._probe_failed(spec, kind)
            return
        now = self.clock()
        if now < self._store_down_until:
            self._count_locally(spec, kind, now)
            return
        if now - self._loaded_at > self.recheck_before_count_s:
            # A slow failure (a timeout) ends long after the snapshot was read: at an outage's start thousands
            # of them end together, and most find the circuit already open. Learning that costs half a read
            # unit; counting into an open circuit costs a write unit on the one item every environment
            # writes, which takes 1,000 a second. A read that fails leaves the decision to the write.
            self._refresh(force=True, mark_down=False)
            current = self._snapshot.get(spec.name)
            if current is not None and current.state is not CircuitState.CLOSED:
                return
        bucket_seconds = max(1, spec.breaker.window_seconds // BUCKETS_PER_WINDOW)
        bucket = bucket_start(now, bucket_seconds)
        known = self._snapshot.get(spec.name)
        oldest = bucket - spec.breaker.window_seconds + bucket_seconds
        stale = sorted(b for b in (known.failure_buckets if known else {}) if b < oldest)
        try:
            rec = self.store.add_failure(spec.name, bucket, stale, now)
        except NotClosedError as lost:
            self._remember(lost.current)
            return
        except StateStoreError as err:
            self._mark_store_down(err)
            self._count_locally(spec, kind, now, merge_later=not err.may_have_landed)
            return
        self._remember(rec)
        self._decide(spec, rec, {bucket: 1}, oldest, now, kind.value)

    def _decide(
        self, spec: ServiceSpec, rec: CircuitRecord, added: dict[int, int], oldest: int, now: float, why: str
    ) -> None:
        """After this environment's count write: open the fleet's circuit, its own, or neither."""
        bucket_seconds = max(1, spec.breaker.window_seconds // BUCKETS_PER_WINDOW)
        failures = rec.failures_in_window(now, spec.breaker.window_seconds, bucket_seconds)
        mine, fresh = self._count_mine(spec.name, rec.version, added, oldest)
        threshold = spec.breaker.failure_threshold
        if mine < failures and failures >= threshold:
            self._open(spec, rec, reason=f"{why}_threshold", failures=failures)
        elif mine >= failures and fresh >= threshold:
            self._isolate(spec, rec, why, fresh)
        else:
            # Another environment may open the circuit any moment now: re-read before the next call
            # instead of trusting a snapshot up to cache_ttl_s old. This costs reads only while failing.
            self._loaded_at = float("-inf")

    def _count_mine(self, service: str, version: int, added: dict[int, int], oldest: int) -> tuple[int, int]:
        """Remember one more failure this environment counted into the store.

        Returns its failures in the window, and those since it last isolated itself: a single breaker
        starts counting afresh after its open period, so the one failure left behind as evidence for the
        fleet does not count towards this environment's own threshold.
        """
        with self._lock:
            counted_at, buckets, left = self._counted.get(service, (version, {}, {}))
            if counted_at != version:
                # A transition emptied the store's count, this environment's share of it included.
                buckets, left = {}, {}
            buckets = {b: n for b, n in buckets.items() if b >= oldest}
            left = {b: n for b, n in left.items() if b >= oldest}
            for bucket, n in added.items():
                buckets[bucket] = buckets.get(bucket, 0) + n
            self._counted[service] = (version, buckets, left)
            mine = sum(buckets.values())
            return mine, mine - sum(left.values())

    def _isolate(self, spec: ServiceSpec, rec: CircuitRecord, why: str, failures: int) -> None:
        """Every failure in the window is this environment's: open for it alone and take back all but one.

        The one left behind says this environment failed too, so a second environment's failures still open
        the fleet's circuit; the rest would let one transient failure elsewhere finish the job alone.
        """
        name = spec.name
        version, buckets, _ = self._counted.get(name, (rec.version, {}, {}))
        withdraw = dict(buckets)
        newest = max(withdraw, default=None)
        if newest is not None:
            withdraw[newest] -= 1
        withdraw = {b: n for b, n in withdraw.items() if n > 0}
        # Whatever stays in the store is evidence for the fleet, no longer this environment's fresh count.
        left = dict(buckets)
        if withdraw:
            try:
                rec = self.store.withdraw_failures(name, rec.version, withdraw)
            except LostRaceError as lost:
                if lost.current is not None:
                    self._remember(lost.current)
                    rec = lost.current
                if rec.state is not CircuitState.CLOSED:
                    return  # the fleet opened meanwhile: its circuit covers this environment too
            except StateStoreError as err:
                # The count stays as it is (the window ages it out); this environment still stops calling.
                self._mark_store_down(err)
            else:
                self._remember(rec)
                left = {newest: 1}
        with self._lock:
            self._counted[name] = (version, left, left)
        now = self.clock()
        isolated = _opened(spec, rec, now, f"{why}_threshold_this_environment")
        with self._lock:
            self._isolated[name] = isolated
        self._notify(
            spec,
            Transition(name, CircuitState.CLOSED, CircuitState.OPEN, isolated.reason, now, failures, "environment"),
        )

    def _count_locally(self, spec: ServiceSpec, kind: FailureKind, now: float, merge_later: bool = True) -> None:
        """Store unreachable: this environment protects itself with its own count until it is back."""
        if merge_later:
            bucket = bucket_start(now, max(1, spec.breaker.window_seconds // BUCKETS_PER_WINDOW))
            with self._lock:
                kept = self._unmerged.setdefault(spec.name, {})
                kept[bucket] = kept.get(bucket, 0) + 1
        window = self._local_failures.setdefault(spec.name, deque())
        window.append(now)
        while window and window[0] < now - spec.breaker.window_seconds:
            window.popleft()
        current = self._snapshot.get(spec.name) or CircuitRecord(service=spec.name)
        if current.state is CircuitState.CLOSED and len(window) >= spec.breaker.failure_threshold:
            opened = current.with_changes(
                state=CircuitState.OPEN,
                opened_at=now,
                open_until=now + spec.breaker.open_seconds,
                reason="local_count_store_unreachable",
            )
            with self._lock:
                self._snapshot[spec.name] = opened
            self._local_opens.add(spec.name)
            window.clear()
            self._notify(
                spec,
                Transition(
                    spec.name,
                    CircuitState.CLOSED,
                    CircuitState.OPEN,
                    opened.reason,
                    now,
                    spec.breaker.failure_threshold,
                ),
            )

    def _open(self, spec: ServiceSpec, rec: CircuitRecord, *, reason: str, failures: int = 0) -> bool:
        opened = _opened(spec, rec, self.clock(), reason).with_changes(failure_buckets={})
        return self._transition(spec, rec, opened, failures)

    def _transition(self, spec: ServiceSpec, before: CircuitRecord, after: CircuitRecord, failures: int = 0) -> bool:
        try:
            written = self.store.compare_and_set(before.version, after)
        except LostRaceError as lost:
            if lost.current is not None:
                self._remember(lost.current)
            else:
                self._loaded_at = float("-inf")  # the winner is unknown (a transaction conflict): read it next
            return False
        except StateStoreError as err:
            self._mark_store_down(err)
            return False
        self._remember(written)
        if before.state is not written.state:
            self._notify(
                spec,
                Transition(
                    spec.name, before.state, written.state, written.reason, written.updated_at or self.clock(), failures
                ),
            )
        return True

    def _remember(self, rec: CircuitRecord) -> None:
        with self._lock:
            self._snapshot[rec.service] = rec

    def _notify(self, spec: ServiceSpec, transition: Transition) -> None:
        self.telemetry.transition(spec, transition)
        if self.on_transition is not None:
            try:
                self.on_transition(transition)
            except Exception:  # a hook must never break the protected call
                logger.exception("on_transition hook failed")

    # ---------------------------------------------------------------- probing

    def _recheck_before_lease(self, service: str, rec: CircuitRecord) -> CircuitRecord:
        """A fleet circuit due for a probe, on a snapshot that is not fresh: read it again before racing.

        When the open period ends, every environment calling finds its circuit due; all but one lose the
        lease, and each losing attempt costs the write units of a transition (with read copies, on every
        copy). Most of them would have learnt from half a read unit that the lease is already taken.
        """
        now = self.clock()
        if rec is self._isolated.get(service) or now - self._loaded_at <= self.recheck_before_count_s:
            return rec
        due = (rec.state is CircuitState.OPEN and now >= rec.open_until) or (
            rec.state is CircuitState.HALF_OPEN and now >= rec.lease_until
        )
        if not due or now < self._store_down_until:
            return rec
        self._refresh(force=True, mark_down=False)
        return self._view(service)

    def _try_acquire_probe(self, spec: ServiceSpec, rec: CircuitRecord) -> bool:
        now = self.clock()
        isolated = self._isolated.get(spec.name)
        if isolated is not None and rec is isolated:
            # Open for this environment alone: it probes alone, store or no store.
            due = (rec.state is CircuitState.OPEN and now >= rec.open_until) or (
                rec.state is CircuitState.HALF_OPEN and now >= rec.lease_until
            )
            if due:
                with self._lock:
                    self._isolated[spec.name] = rec.with_changes(
                        state=CircuitState.HALF_OPEN,
                        probe_owner=self.owner_id,
                        lease_until=now + spec.breaker.probe_lease_seconds,
                        reason="probe_this_environment",
                    )
            return due
        if now < self._store_down_until:
            # No store, no fleet-wide lease: a locally opened circuit probes on its own. Closing on the timer
            # alone would send every environment's traffic back to a dependency that may still be down.
            if rec.state is CircuitState.OPEN and now >= rec.open_until and spec.name in self._local_opens:
                self._local_probes.add(spec.name)
                self._remember(
                    rec.with_changes(
                        state=CircuitState.HALF_OPEN,
                        probe_owner=self.owner_id,
                        lease_until=now + spec.breaker.probe_lease_seconds,
                        reason="local_probe",
                    )
                )
                return True
            return False
        due = (rec.state is CircuitState.OPEN and now >= rec.open_until) or (
            rec.state is CircuitState.HALF_OPEN and now >= rec.lease_until
        )
        if not due:
            return False
        leased = rec.with_changes(
            state=CircuitState.HALF_OPEN,
            probe_owner=self.owner_id,
            lease_until=now + spec.breaker.probe_lease_seconds,
            reason="probe",
            updated_at=now,
            failure_buckets={},
        )
        return self._transition(spec, rec, leased)

    def _local_probe_outcome(self, spec: ServiceSpec, rec: CircuitRecord | None, after: dict) -> bool:
        """Settle a probe this environment ran without the store; False when the probe was fleet-wide."""
        if spec.name not in self._local_probes:
            return False
        self._local_probes.discard(spec.name)
        if rec is None or rec.state is not CircuitState.HALF_OPEN or rec.probe_owner != self.owner_id:
            return True  # the store came back meanwhile and its record replaced the local one
        settled = rec.with_changes(probe_owner="", lease_until=0.0, **after)
        self._remember(settled)
        if settled.state is CircuitState.CLOSED:
            self._local_opens.discard(spec.name)
            self._local_failures.pop(spec.name, None)
            # Its own probe found the dependency well: the failures before it are no evidence for the fleet.
            with self._lock:
                self._unmerged.pop(spec.name, None)
        self._notify(spec, Transition(spec.name, CircuitState.HALF_OPEN, settled.state, settled.reason, self.clock()))
        return True

    def _isolated_probe_outcome(self, spec: ServiceSpec, after: dict) -> bool:
        """Settle a probe of a circuit open for this environment alone; False when it was not one."""
        mine = self._isolated.get(spec.name)
        if mine is None or mine.state is not CircuitState.HALF_OPEN or mine.probe_owner != self.owner_id:
            return False
        settled = mine.with_changes(**({"probe_owner": "", "lease_until": 0.0} | after))
        with self._lock:
            if settled.state is CircuitState.CLOSED:
                self._isolated.pop(spec.name, None)
            else:
                self._isolated[spec.name] = settled
        if settled.state is not CircuitState.HALF_OPEN:
            transition = Transition(
                spec.name, CircuitState.HALF_OPEN, settled.state, settled.reason, self.clock(), scope="environment"
            )
            self._notify(spec, transition)
        return True

    def _probe_succeeded(self, spec: ServiceSpec) -> None:
        isolated = self._isolated.get(spec.name)
        if isolated is not None:
            successes = isolated.probe_successes + 1
            if successes >= spec.breaker.probe_successes:
                after = {"state": CircuitState.CLOSED, "reason": "probe_this_environment_succeeded"}
            else:
                after = {"lease_until": self.clock(), "probe_successes": successes, "reason": "probe_this_environment"}
            if self._isolated_probe_outcome(spec, after):
                return
        rec = self._snapshot.get(spec.name)
        closed = {"state": CircuitState.CLOSED, "reason": "local_probe_succeeded", "opened_at": 0.0}
        if self._local_probe_outcome(spec, rec, closed | {"open_until": 0.0, "reopen_count": 0}):
            return
        if rec is None or rec.state is not CircuitState.HALF_OPEN or rec.probe_owner != self.owner_id:
            return
        now = self.clock()
        successes = rec.probe_successes + 1
        if successes >= spec.breaker.probe_successes:
            after = rec.with_changes(
                state=CircuitState.CLOSED,
                probe_owner="",
                lease_until=0.0,
                probe_successes=0,
                reopen_count=0,
                reason="probe_succeeded",
                opened_at=0.0,
                open_until=0.0,
                updated_at=now,
                failure_buckets={},
            )
        else:
            # Release the lease so the next caller anywhere in the fleet runs the next probe.
            after = rec.with_changes(
                probe_owner="", lease_until=now, probe_successes=successes, reason="probe_succeeded", updated_at=now
            )
        self._transition(spec, rec, after)

    def _probe_failed(self, spec: ServiceSpec, kind: FailureKind) -> None:
        now = self.clock()
        isolated = self._isolated.get(spec.name)
        if isolated is not None:
            reopen = isolated.reopen_count + 1
            open_for = min(spec.breaker.open_seconds * 2 ** (reopen - 1), spec.breaker.max_open_seconds)
            after = {"state": CircuitState.OPEN, "opened_at": now, "open_until": now + open_for, "reopen_count": reopen}
            if self._isolated_probe_outcome(spec, after | {"reason": f"probe_this_environment_failed_{kind.value}"}):
                return
        rec = self._snapshot.get(spec.name)
        reopen = (rec.reopen_count if rec else 0) + 1
        open_for = min(spec.breaker.open_seconds * 2 ** (reopen - 1), spec.breaker.max_open_seconds)
        reopened = {"state": CircuitState.OPEN, "opened_at": now, "open_until": now + open_for, "reopen_count": reopen}
        if self._local_probe_outcome(spec, rec, reopened | {"reason": f"local_probe_failed_{kind.value}"}):
            return
        if rec is None or rec.state is not CircuitState.HALF_OPEN or rec.probe_owner != self.owner_id:
            return
        after = rec.with_changes(
            state=CircuitState.OPEN,
            opened_at=now,
            open_until=now + open_for,
            reopen_count=reopen,
            probe_owner="",
            lease_until=0.0,
            probe_successes=0,
            reason=f"probe_failed_{kind.value}",
            updated_at=now,
        )
        self._transition(spec, rec, after)

    # ---------------------------------------------------------------- operator and pinger entry points

    def force_open(self, service: str, reason: str) -> bool:
        """Open a CLOSED circuit fleet-wide (e.g. the health pinger saw it fail); False if not CLOSED
        or another writer got there first."""
        spec = self.registry[service]
        self._refresh(force=True)
        rec = self._snapshot.get(service) or CircuitRecord(service=service)
        if rec.state is not CircuitState.CLOSED:
            return False
        return self._open(spec, rec, reason=reason)

    def probe(self, service: str, fn: Callable[[], Any]) -> bool | None:
        """Use ``fn`` (e.g. a health ping) as the fleet's single probe if the circuit is due for one.

        Returns None when no probe was due or another caller holds the lease, True when the probe
        succeeded, False when it failed.
        """
        spec = self.registry[service]
        self._refresh(force=True)
        rec = self._snapshot.get(service) or CircuitRecord(service=service)
        if rec.state is CircuitState.CLOSED or rec.override is not Override.NONE:
            return None
        if not self._try_acquire_probe(spec, rec):
            return None
        try:
            self._invoke(spec, fn, (), {}, None, probing=True, counted=True)
        except ServiceUnavailableError:
            return False
        current = self._snapshot.get(service)
        return current is not None and current.state is not CircuitState.OPEN

    def set_override(self, service: str, override: Override | str) -> CircuitRecord:
        """Fleet-wide manual override; every environment obeys it within its cache TTL."""
        spec = self.registry[service]
        rec = self.store.set_override(spec.name, Override(override), self.clock())
        self._remember(rec)
        logger.warning("circuit_override", extra={"circuit": service, "override": rec.override.value})
        return rec


def _opened(spec: ServiceSpec, rec: CircuitRecord, now: float, reason: str) -> CircuitRecord:
    """``rec`` freshly open for its registry period: no probe, lease or backoff carried over."""
    return rec.with_changes(
        state=CircuitState.OPEN,
        opened_at=now,
        open_until=now + spec.breaker.open_seconds,
        reopen_count=0,
        probe_owner="",
        lease_until=0.0,
        probe_successes=0,
        reason=reason,
        updated_at=now,
    )
