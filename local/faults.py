"""Fault injection for every local endpoint, simulators and store proxies alike: what to break, how often it broke.

``FaultMiddleware`` is the one place a fault happens: it wraps an endpoint's WSGI app and, per call, resets
the connection (down), holds it without an answer (hang), answers late (slow), answers the endpoint's own
error or throttle shape (error, throttle, and flaky's errors), or lets the call through; it counts every
call and every failure, the app's own 5xx and 429 answers included.
"""

from __future__ import annotations

import json
import random
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Response

from local.serving import STOPPING, Reset

MODES = ("ok", "down", "error", "slow", "hang", "flaky", "throttle")
DEFAULT_SLOW_MS = 3000
DEFAULT_FLAKY_RATE = 0.5
DEFAULT_SEED = 17
FIELDS = ("mode", "latency_ms", "rate", "expires_in_s", "seed")
MAX_HANG_S = 600.0  # a hung request is released after this even if the client never gives up


class FaultSpecError(ValueError):
    """A fault request that cannot be applied (unknown mode, rate outside 0..1, negative times)."""


@dataclass(frozen=True)
class Fault:
    mode: str = "ok"
    latency_ms: int = 0
    rate: float = 0.0
    expires_at: float | None = None  # monotonic time at which the simulator heals by itself
    seed: int = DEFAULT_SEED


def parse_fault(
    mode: str,
    latency_ms: float | None = None,
    rate: float | None = None,
    expires_in_s: float | None = None,
    seed: int | None = None,
    now: float | None = None,
) -> Fault:
    """Validate a fault request (the JSON body of POST /_sim/fault or SimulatorFleet.set_fault)."""
    if mode not in MODES:
        raise FaultSpecError(f"mode must be one of {', '.join(MODES)}")
    try:
        latency = int(latency_ms if latency_ms is not None else (DEFAULT_SLOW_MS if mode == "slow" else 0))
        chance = float(rate if rate is not None else (DEFAULT_FLAKY_RATE if mode == "flaky" else 0.0))
        expires = None if expires_in_s is None else float(expires_in_s)
        rng_seed = DEFAULT_SEED if seed is None else int(seed)
    except (TypeError, ValueError) as err:
        raise FaultSpecError("latency_ms, rate, expires_in_s and seed must be numbers") from err
    if latency < 0:
        raise FaultSpecError("latency_ms must be >= 0")
    if not 0.0 <= chance <= 1.0:
        raise FaultSpecError("rate must be between 0 and 1")
    if expires is not None and expires <= 0:
        raise FaultSpecError("expires_in_s must be > 0")
    started = time.monotonic() if now is None else now
    return Fault(
        mode=mode,
        latency_ms=latency,
        rate=chance,
        expires_at=None if expires is None else started + expires,
        seed=rng_seed,
    )


def fault_request(body: bytes, also: tuple[str, ...] = ()) -> dict[str, Any]:
    """The JSON body of POST /_sim/fault or /_local/faults (``also``: its other fields), not yet validated."""
    try:
        spec = json.loads(body or b"{}")
    except ValueError:
        spec = None
    if not isinstance(spec, dict) or "mode" not in spec:
        raise FaultSpecError('the body must be a JSON object {"mode": ...}')
    unknown = sorted(set(spec) - {*FIELDS, *also})
    if unknown:
        raise FaultSpecError(f"unknown fields: {', '.join(unknown)}")
    return spec


@dataclass
class FaultState:
    """The active fault and the counters of one simulator; shared by all its request threads."""

    clock: object = field(default=time.monotonic, repr=False)
    _fault: Fault = field(default_factory=Fault)
    _rng: random.Random = field(default_factory=lambda: random.Random(DEFAULT_SEED))
    _calls: int = 0
    _failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def set(self, fault: Fault) -> None:
        with self._lock:
            self._fault = fault
            # A fresh RNG per fault makes a flaky run reproducible from the moment it was switched on.
            self._rng = random.Random(fault.seed)

    def clear(self) -> None:
        self.set(Fault())

    def configure(self, mode: str, **kwargs: Any) -> dict[str, Any]:
        """Apply a fault request (mode, latency_ms, rate, expires_in_s, seed); answers the fault as described."""
        self.set(parse_fault(mode, **kwargs))
        return self.describe()

    def current(self) -> Fault:
        with self._lock:
            return self._current_locked()

    def _current_locked(self) -> Fault:
        if self._fault.expires_at is not None and self.clock() >= self._fault.expires_at:
            self._fault = Fault()
        return self._fault

    def describe(self) -> dict:
        fault = self.current()
        remaining = None if fault.expires_at is None else max(0.0, round(fault.expires_at - self.clock(), 3))
        return {"mode": fault.mode, "latency_ms": fault.latency_ms, "rate": fault.rate, "expires_in_s": remaining}

    def admit(self) -> str:
        """Count one request and decide its fate: the effective mode for this very call.

        flaky resolves here to "error" or "ok" so the caller only ever sees concrete outcomes.
        """
        with self._lock:
            self._calls += 1
            fault = self._current_locked()
            if fault.mode == "flaky":
                return "error" if self._rng.random() < fault.rate else "ok"
            return fault.mode

    def failed(self) -> None:
        with self._lock:
            self._failures += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"calls": self._calls, "failures": self._failures}

    def reset_stats(self) -> None:
        with self._lock:
            self._calls = 0
            self._failures = 0


class FaultMiddleware:
    """Wraps ``app`` with ``faults``. ``fault_answer(mode)`` is the endpoint's own error or throttle answer;
    ``refuse(environ)``, when given, may refuse a call before any fault answer, as authorisation does at API
    Gateway (an unsigned call gets its 403 even while the backend fails)."""

    def __init__(
        self,
        app: Any,
        fault_answer: Callable[[str], Response],
        refuse: Callable[[dict[str, Any]], Response | None] | None = None,
    ):
        self.app = app
        self.fault_answer = fault_answer
        self.refuse = refuse
        self.faults = FaultState()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Any:
        faults, stopping = self.faults, environ[STOPPING]
        mode = faults.admit()
        if mode in ("down", "hang"):
            faults.failed()
            if mode == "hang":
                self._hang(environ["werkzeug.socket"], stopping)
            raise Reset
        if mode == "slow" and stopping.wait(faults.current().latency_ms / 1000):
            raise Reset
        if mode in ("error", "throttle"):
            refusal = self.refuse(environ) if self.refuse else None
            if refusal is not None:
                return refusal(environ, start_response)
            faults.failed()
            return self.fault_answer(mode)(environ, start_response)

        def counted(status: str, headers: list, exc_info: Any = None) -> Any:
            code = int(status.split(None, 1)[0])
            if code >= 500 or code == 429:
                faults.failed()
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, counted)
        except Reset:
            faults.failed()
            raise

    def _hang(self, sock: Any, stopping: threading.Event) -> None:
        """Hold the connection without answering until the client gives up, the fault heals or the server stops."""
        until = time.monotonic() + MAX_HANG_S
        while not stopping.is_set() and time.monotonic() < until and self.faults.current().mode == "hang":
            try:
                readable, _, _ = select.select([sock], [], [], 0.05)
                if readable and not sock.recv(65536):
                    return  # the client closed its end: it stopped waiting
            except (OSError, ValueError):
                return
