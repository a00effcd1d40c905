"""A discrete-event loop on a virtual clock: one greenlet per execution environment, so code that calls
``sleep`` (a dependency call, a state-store round trip) waits in virtual time inside the real breaker.

Events are ordered by (time, sequence): given a seed, a run is exactly reproducible.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

from greenlet import greenlet

# The breaker buckets failures by epoch seconds; any fixed origin works, a realistic one keeps logs readable.
EPOCH = 1_800_000_000.0


class Simulation:
    def __init__(self) -> None:
        self.now = EPOCH
        self._events: list[tuple[float, int, Callable[[], object]]] = []
        self._seq = itertools.count()
        self._loop = greenlet.getcurrent()

    def clock(self) -> float:
        return self.now

    @property
    def elapsed(self) -> float:
        return self.now - EPOCH

    def at(self, elapsed: float, action: Callable[[], object]) -> None:
        """Run ``action`` in the loop at ``elapsed`` seconds after the start."""
        heapq.heappush(self._events, (EPOCH + elapsed, next(self._seq), action))

    def spawn(self, elapsed: float, body: Callable[[], object]) -> greenlet:
        g = greenlet(body, parent=self._loop)
        self.at(elapsed, g.switch)
        return g

    def sleep(self, seconds: float) -> None:
        """Called from inside an environment's greenlet: hand the loop the rest of virtual time."""
        me = greenlet.getcurrent()
        if me is self._loop:
            raise RuntimeError("sleep() outside an environment would stop the clock")
        heapq.heappush(self._events, (self.now + max(0.0, seconds), next(self._seq), me.switch))
        self._loop.switch()

    def run(self, until_elapsed: float) -> None:
        end = EPOCH + until_elapsed
        events = self._events
        while events and events[0][0] <= end:
            at, _, action = heapq.heappop(events)
            self.now = at
            action()
        self.now = end
