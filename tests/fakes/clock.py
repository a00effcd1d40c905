"""A clock the test moves by hand: time passes only when the test says so, however busy the machine is."""

from __future__ import annotations


class ManualClock:
    """Callable like ``time.monotonic``; ``advance`` is the only way its time moves."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
