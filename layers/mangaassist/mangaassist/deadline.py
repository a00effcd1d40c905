"""A request's deadline: every downstream call and retry fits inside what is left of it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# A call is not started with less time than this left: it could only time out, and our own exhausted budget would
# be counted against the dependency. The flows check it before each call and the adapters again for direct callers.
MIN_CALL_S = 0.05


@dataclass
class Deadline:
    budget_s: float
    clock: object = field(default=time.monotonic, repr=False)
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    @classmethod
    def for_lambda(cls, context, intent_budget_s: float, safety_margin_s: float = 0.5) -> Deadline:
        """The smaller of the intent's budget and what the Lambda invocation has left (minus a margin
        to serialise the answer)."""
        remaining = intent_budget_s
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            remaining = min(remaining, context.get_remaining_time_in_millis() / 1000 - safety_margin_s)
        return cls(max(0.0, remaining))

    def remaining(self) -> float:
        return max(0.0, self.budget_s - (self.clock() - self.started))

    def leaves_room_for_a_call(self) -> bool:
        return self.remaining() >= MIN_CALL_S

    def expired(self) -> bool:
        return self.remaining() <= 0.0

    def timeout_for(self, timeout_ms: int) -> float:
        """A per-call timeout in seconds: the service's own timeout, never past the deadline."""
        return max(0.001, min(timeout_ms / 1000, self.remaining()))
