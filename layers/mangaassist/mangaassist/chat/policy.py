"""The degradation policy: ONE declarative table from (intent, what is up right now) to the flow that answers.

Rows are tried top to bottom within an intent; the first row whose requirements all hold wins.
``needs`` names registry services that must be available, plus ``SIGNED_IN`` for flows that read the
customer's own data and ``LLM_BUDGET`` for flows that call Bedrock (the client has calls left in its
per-client budget, mangaassist.chat.client_budget). ``blame`` says, in precedence order, which lost service to name in
``degraded_reason`` when the row is a fallback: the first one of them that is down. A row with an
empty ``blame`` is not a degradation (a guest asked for personal data, or only a side feature was
lost). The last row of every intent needs nothing, so every intent always has an answer.

Side features never change a row (design Q34, tiers 3 and 4): promotions only decide whether a
nudge is appended (``nudge``), user_profile only personalises a greeting, analytics and feedback
happen after the answer. Their loss is logged and counted, not announced to the customer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from mangaassist.chat.intents import Intent
from mangaassist.registry import REGISTRY

SIGNED_IN = "signed_in"  # not a service: the request carries a Cognito identity
LLM_BUDGET = "llm_budget"  # not a service: this client may still cause Bedrock calls in the current window
CONDITIONS = frozenset({SIGNED_IN, LLM_BUDGET})  # the needs that are facts about the request, not services

# degraded_reason of a blamed condition; a blamed service says "<service>_unavailable"
CONDITION_REASONS = {LLM_BUDGET: "rate_limited"}


class Flow(StrEnum):
    ORDER_STATUS = "order_status"
    ORDER_HISTORY_LINK = "order_history_link"  # seed Q17: order page link + escalation
    SIGN_IN_FOR_ORDERS = "sign_in_for_orders"
    RETURN_CASES = "return_cases"
    RETURNS_HELP_LINK = "returns_help_link"  # returns help link + escalation
    RETURNS_GUIDE = "returns_guide"  # guests: how returns work, sign in to start one
    PERSONALIZED_RECOMMENDATIONS = "personalized_recommendations"
    POPULAR_ITEMS = "popular_items"  # seed Q34: popular/trending from the catalog
    BROWSE_SEARCH_AND_FAQ = "browse_search_and_faq"  # seed Q34: search link + FAQ
    PRODUCT_ANSWER = "product_answer"  # catalog facts phrased by the LLM
    PRODUCT_LIST = "product_list"  # catalog facts by template
    PRODUCT_TEXT_LINK = "product_text_link"  # seed Q34: text-only + link
    FAQ_GENERATED = "faq_generated"  # RAG: Bedrock grounded on the top FAQ matches
    FAQ_CANNED = "faq_canned"  # the matched canned answer itself
    OPEN_GENERATED = "open_generated"
    CANT_HELP = "cant_help"  # honest "I can't help with that" + escalation
    ESCALATE = "escalate"
    GREETING_PERSONAL = "greeting_personal"
    GREETING = "greeting"


@dataclass(frozen=True)
class Row:
    intent: Intent
    needs: frozenset[str]
    flow: Flow
    blame: tuple[str, ...] = ()
    nudge: bool = False  # may append a promotion nudge when promotions is up


def _row(intent: Intent, needs: Iterable[str], flow: Flow, blame: Iterable[str] = (), nudge: bool = False) -> Row:
    return Row(intent, frozenset(needs), flow, tuple(blame), nudge)


I = Intent  # noqa: E741 - keeps the table one row per line
POLICY: tuple[Row, ...] = (
    # intent               needs                                    flow                          blame
    _row(I.ORDER_TRACKING, {SIGNED_IN, "order_service"}, Flow.ORDER_STATUS),
    _row(I.ORDER_TRACKING, {SIGNED_IN}, Flow.ORDER_HISTORY_LINK, ["order_service"]),
    _row(I.ORDER_TRACKING, (), Flow.SIGN_IN_FOR_ORDERS),
    _row(I.RETURNS, {SIGNED_IN, "returns_service"}, Flow.RETURN_CASES),
    _row(I.RETURNS, {SIGNED_IN}, Flow.RETURNS_HELP_LINK, ["returns_service"]),
    _row(I.RETURNS, (), Flow.RETURNS_GUIDE),
    _row(I.RECOMMENDATION, {"recommendations", "catalog"}, Flow.PERSONALIZED_RECOMMENDATIONS, nudge=True),
    _row(I.RECOMMENDATION, {"catalog"}, Flow.POPULAR_ITEMS, ["recommendations"], nudge=True),
    _row(I.RECOMMENDATION, (), Flow.BROWSE_SEARCH_AND_FAQ, ["catalog", "recommendations"]),
    _row(I.PRODUCT_INFO, {"catalog", "llm", LLM_BUDGET}, Flow.PRODUCT_ANSWER, nudge=True),
    _row(I.PRODUCT_INFO, {"catalog"}, Flow.PRODUCT_LIST, ["llm", LLM_BUDGET], nudge=True),
    _row(I.PRODUCT_INFO, (), Flow.PRODUCT_TEXT_LINK, ["catalog"]),
    _row(I.FAQ, {"llm", LLM_BUDGET}, Flow.FAQ_GENERATED),
    _row(I.FAQ, (), Flow.FAQ_CANNED, ["llm", LLM_BUDGET]),
    _row(I.OPEN_ENDED, {"llm", LLM_BUDGET}, Flow.OPEN_GENERATED),
    _row(I.OPEN_ENDED, (), Flow.CANT_HELP, ["llm", LLM_BUDGET]),
    _row(I.ESCALATION, (), Flow.ESCALATE),
    _row(I.GREETING, {SIGNED_IN, "user_profile"}, Flow.GREETING_PERSONAL),
    _row(I.GREETING, (), Flow.GREETING),
)
del I

# Per-intent request budgets (seconds): the deadline every downstream call and retry must fit in.
# Flows that may wait for Bedrock get room for its timeout plus the template fallback after it.
BUDGET_S: dict[Intent, float] = {
    Intent.ORDER_TRACKING: 3.0,
    Intent.RETURNS: 3.0,
    Intent.RECOMMENDATION: 3.0,
    Intent.PRODUCT_INFO: 8.0,
    Intent.FAQ: 7.0,
    Intent.OPEN_ENDED: 7.0,
    Intent.ESCALATION: 1.5,
    Intent.GREETING: 1.5,
}


@dataclass(frozen=True)
class Decision:
    row: Row
    degraded_reason: str | None  # "<service>_unavailable" (registry name), "rate_limited", or None

    @property
    def flow(self) -> Flow:
        return self.row.flow

    @property
    def degraded(self) -> bool:
        return self.degraded_reason is not None


def choose(intent: Intent, down: Collection[str], signed_in: bool) -> Decision:
    """The row that answers ``intent`` while the services (or conditions, LLM_BUDGET) in ``down`` are unavailable."""
    have = {SIGNED_IN} if signed_in else set()
    for row in rows_for(intent):
        unmet = {need for need in row.needs if need in down or (need == SIGNED_IN and need not in have)}
        if unmet:
            continue
        blamed = next((service for service in row.blame if service in down), None)
        return Decision(row, _reason(blamed) if blamed else None)
    raise LookupError(f"policy has no row for intent {intent}")


def _reason(blamed: str) -> str:
    return CONDITION_REASONS[blamed] if blamed in CONDITION_REASONS else REGISTRY[blamed].unavailable_reason


def rows_for(intent: Intent) -> tuple[Row, ...]:
    return tuple(row for row in POLICY if row.intent is intent)


def services_used(flow: Flow) -> frozenset[str]:
    """The registry services a flow's row needs (what the flow may call)."""
    return next(row.needs - CONDITIONS for row in POLICY if row.flow is flow)
