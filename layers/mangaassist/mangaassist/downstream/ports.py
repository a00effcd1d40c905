"""What the orchestrator needs from the outside world; adapters implement it, tests use in-memory fakes.

Every method goes through the service's circuit breaker with the registry's timeout, capped by the
request's deadline. An outage (open circuit, timeout, 5xx, 429, slow call) surfaces as
ServiceUnavailableError; a 4xx as DependencyClientError (e.g. an unknown customer).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Protocol

from mangaassist.breaker import FailureKind, ServiceUnavailableError
from mangaassist.deadline import Deadline
from mangaassist.downstream.models import Order, Product, Profile, Promotion, ReturnCase


class Downstream(Protocol):
    def recent_orders(self, customer_id: str, deadline: Deadline, limit: int = 5) -> list[Order]: ...

    def search_products(self, query: str, lang: str, deadline: Deadline, limit: int = 5) -> list[Product]: ...

    def popular_products(self, deadline: Deadline, limit: int = 5) -> list[Product]: ...

    def recommendations(self, customer_id: str | None, deadline: Deadline, limit: int = 5) -> list[Product]: ...

    def returns(self, customer_id: str, deadline: Deadline) -> list[ReturnCase]: ...

    def promotions(self, customer_id: str | None, lang: str, deadline: Deadline) -> list[Promotion]: ...

    def profile(self, customer_id: str, deadline: Deadline) -> Profile: ...

    def record_event(self, event: dict[str, Any], deadline: Deadline) -> None: ...

    def send_feedback(self, feedback: dict[str, Any], deadline: Deadline) -> None: ...


class Llm(Protocol):
    def converse(self, system: str, messages: list[dict[str, Any]], deadline: Deadline, max_tokens: int = 400) -> str:
        """The model's text answer. ThrottlingException is retried with bounded, jittered backoff
        inside the deadline; then ServiceUnavailableError("llm", ...)."""
        ...


# ---------------------------------------------------------------- shared by the adapters

logger = logging.getLogger("mangaassist.downstream")


def refuse_without_time(service: str, deadline: Deadline, **log: str) -> None:
    """ServiceUnavailableError(TIMEOUT) instead of a call the deadline leaves no room for: it could only time
    out, and the dependency would be blamed for our own exhausted budget. ``log`` must not hold a path (it can
    carry a customer's id)."""
    if not deadline.leaves_room_for_a_call():
        logger.warning("deadline_exhausted", extra={"service": service, **log})
        raise ServiceUnavailableError(service, FailureKind.TIMEOUT)


def elapsed_ms(started: float) -> float:
    """Milliseconds since a time.perf_counter() reading, as pings and latencies report them."""
    return round((time.perf_counter() - started) * 1000, 1)
