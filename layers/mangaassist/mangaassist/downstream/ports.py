"""What the orchestrator needs from the outside world; adapters implement it, tests use in-memory fakes.

Every method goes through the service's circuit breaker with the registry's timeout, capped by the
request's deadline. An outage (open circuit, timeout, 5xx, 429, slow call) surfaces as
ServiceUnavailableError; a 4xx as DependencyClientError (e.g. an unknown customer).
"""

from __future__ import annotations

from typing import Any, Protocol

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
