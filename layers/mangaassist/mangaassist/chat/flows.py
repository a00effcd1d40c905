"""The flows the policy table names: each builds one answer from what its row allows it to use.

A flow reaches a service only through ``Turn.call``, which lets it call the services its row needs
(plus promotions for a nudge) and nothing else, never after the deadline, and Bedrock only while the
client's per-client budget allows. When a call fails the flow
raises ServiceUnavailableError and the orchestrator picks the next row for the same intent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mangaassist.breaker import DependencyClientError, FailureKind, ServiceUnavailableError
from mangaassist.chat import prompts
from mangaassist.chat.intents import Intent
from mangaassist.chat.policy import LLM_BUDGET, Flow, Row
from mangaassist.chat.replies import (
    Links,
    label,
    order_line,
    product_fact,
    product_line,
    promotion_text,
    return_line,
    text,
)
from mangaassist.deadline import Deadline
from mangaassist.downstream.models import Order, Product, Profile, Promotion, ReturnCase
from mangaassist.downstream.ports import Downstream, Llm

MAX_ORDERS = 3
MAX_ITEMS = 5
MAX_PICKS = 3  # personal picks; the rest of the list is what is trending
MAX_PRODUCTS = 3
FAQ_GROUNDING = 5  # at most this many FAQ entries ground a Bedrock answer
LLM_MAX_TOKENS = 400


class OutOfTimeError(ServiceUnavailableError):
    """The request's deadline leaves no room for this call; the flow falls back without calling."""

    def __init__(self, service: str):
        super().__init__(service, FailureKind.TIMEOUT)


class PolicyViolationError(RuntimeError):
    """A flow tried to call a service its policy row does not allow (a bug, never an outage)."""


class UnusableAnswerError(ServiceUnavailableError):
    """Bedrock answered, but with nothing usable (empty, or in the wrong language)."""

    def __init__(self) -> None:
        super().__init__("llm", FailureKind.ERROR)


class LlmBudgetExhaustedError(ServiceUnavailableError):
    """This client has spent its Bedrock budget for the window: the orchestrator answers from templates."""

    def __init__(self) -> None:
        super().__init__(LLM_BUDGET, FailureKind.THROTTLED)

    @property
    def degraded_reason(self) -> str:
        return "rate_limited"


@dataclass(frozen=True)
class Action:
    type: str  # "link" | "escalation" | "suggestion"
    label: str
    url: str | None = None
    message: str | None = None  # a suggestion: the text the client sends back when it is chosen
    faq_id: str | None = None  # a suggestion: the FAQ entry it stands for


@dataclass(frozen=True)
class Source:
    """An FAQ entry an answer was built from, so the customer (and the on-call) can see where it came from."""

    faq_id: str
    title: str
    url: str | None


@dataclass
class Reply:
    message: str
    actions: list[Action] = field(default_factory=list)
    orders: list[Order] | None = None
    items: list[Product] | None = None
    # True when the answer would have been the same with every service up (nothing matched, so nothing
    # was lost): a fallback row then does not announce a degradation.
    unaffected: bool = False
    sources: list[Source] = field(default_factory=list)


@dataclass
class Turn:
    """One customer message on its way to an answer: what the flows may use and what they learned."""

    message: str
    lang: str
    intent: Intent
    customer_id: str | None
    deadline: Deadline
    downstream: Downstream
    llm: Llm
    links: Links
    faq: Any | None  # the FAQ index (``best(text, lang)``), None while it cannot be loaded
    detect_language: Callable[[str], str]
    # Spends one Bedrock call of this client's budget; False when none is left (mangaassist.chat.client_budget).
    spend_llm_budget: Callable[[], bool] = lambda: True
    row: Row | None = None
    calls: list[str] = field(default_factory=list)  # services called, in order, for logs and tests
    _memo: dict[tuple, Any] = field(default_factory=dict)

    def call(self, service: str, key: tuple, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` for ``service`` if the current row allows it and time is left.

        Results are remembered per ``key``, so a fallback row reuses what an earlier row fetched.
        """
        if key in self._memo:
            return self._memo[key]
        if service not in self.allowed_services():
            raise PolicyViolationError(f"flow {self.row.flow if self.row else None} may not call {service}")
        if not self.deadline.leaves_room_for_a_call():
            raise OutOfTimeError(service)
        # Spent only when the call is about to be made: a flow that finds nothing to ask Bedrock about costs none.
        if service == "llm" and not self.spend_llm_budget():
            raise LlmBudgetExhaustedError()
        self.calls.append(service)
        result = fn(*args, **kwargs)
        self._memo[key] = result
        return result

    def allowed_services(self) -> frozenset[str]:
        """What the current row lets a flow call: its needs, plus promotions where it may nudge."""
        if self.row is None:
            return frozenset()
        return self.row.needs | {"promotions"} if self.row.nudge else self.row.needs

    # ------------------------------------------------------------ the FAQ, read through one place

    def faq_matches(self, limit: int = 1) -> list[Any]:
        if self.faq is None:
            return []
        key = ("faq", limit)
        if key not in self._memo:
            self._memo[key] = faq_top(self.faq, self.message, self.lang, limit)
        return self._memo[key]

    def faq_retrieval(self) -> tuple[str, list[Any]]:
        """("answer" | "suggest" | "decline", the entries): what the templates-only path does with the message."""
        if self.faq is None:
            return "decline", []
        if hasattr(self.faq, "retrieve"):
            retrieval = self.faq.retrieve(self.message, self.lang)
            if retrieval.outcome == "answer":
                return "answer", retrieval.ranked[:1]
            return retrieval.outcome, retrieval.suggestions
        best = self.faq_matches()
        return ("answer", best) if best else ("decline", [])


def faq_top(index: Any, message: str, lang: str, limit: int) -> list[Any]:
    """The best FAQ matches above the index's no-match threshold, best first."""
    if limit > 1 and hasattr(index, "top"):
        return list(index.top(message, lang, limit))
    match = index.best(message, lang)
    return [match] if match is not None else []


def faq_answer(match: Any, lang: str) -> str:
    return match.entry.answer.get(lang) or match.entry.answer["en"]


def faq_question(match: Any, lang: str) -> str:
    questions = getattr(match.entry, "questions", None) or {}
    options = questions.get(lang) or questions.get("en") or [""]
    return options[0]


def faq_actions(match: Any, lang: str) -> list[Action]:
    actions = []
    for link in getattr(match.entry, "links", None) or ():
        url = link.get("url") if isinstance(link, dict) else getattr(link, "url", None)
        name = link.get("label") if isinstance(link, dict) else getattr(link, "label", None)
        if isinstance(name, dict):
            name = name.get(lang) or name.get("en")
        if url:
            actions.append(Action("link", name or label("help_center", lang), url))
    return actions


def faq_source(match: Any, lang: str, fallback_url: str | None = None) -> Source:
    links = getattr(match.entry, "links", None) or ()
    url = getattr(links[0], "url", None) if links else None
    return Source(faq_id=match.entry.id, title=faq_question(match, lang), url=url or fallback_url)


def faq_sources(matches: list[Any], turn: Turn) -> list[Source]:
    return [faq_source(m, turn.lang, turn.links.page("help_center")) for m in matches]


def faq_suggestion(match: Any, lang: str) -> Action:
    question = faq_question(match, lang)
    return Action("suggestion", question, message=question, faq_id=match.entry.id)


def page_link(key: str, turn: Turn) -> Action:
    return Action("link", label(key, turn.lang), turn.links.page(key))


def search_link(turn: Turn) -> Action:
    """The store's search for what the customer wrote."""
    return Action("link", label("search", turn.lang), turn.links.search(search_query(turn.message)))


def escalation(lang: str) -> Action:
    return Action("escalation", label("escalation", lang))


def _generated(turn: Turn, system: str) -> str:
    answer = turn.call(
        "llm",
        ("llm", system),
        turn.llm.converse,
        system,
        prompts.user_turn(turn.message),
        turn.deadline,
        max_tokens=LLM_MAX_TOKENS,
    )
    answer = (answer or "").strip()
    if not answer or turn.detect_language(answer) != turn.lang:
        raise UnusableAnswerError()
    return answer


# ---------------------------------------------------------------- order tracking


def _orders(turn: Turn) -> list[Order]:
    try:
        return turn.call(
            "order_service",
            ("orders",),
            turn.downstream.recent_orders,
            turn.customer_id,
            turn.deadline,
            limit=MAX_ORDERS,
        )
    except DependencyClientError as err:
        if err.status_code == 404:  # the order service does not know the customer: no orders, not an outage
            return []
        raise


def order_status(turn: Turn) -> Reply:
    orders = _orders(turn)
    history = page_link("order_history", turn)
    if not orders:
        return Reply(text("no_orders", turn.lang), [history], orders=[])
    lines = [text("orders_intro", turn.lang), *(order_line(o, turn.lang) for o in orders)]
    tracking = [
        Action("link", label("track", turn.lang, order_id=o.order_id), o.tracking_url) for o in orders if o.tracking_url
    ]
    return Reply("\n".join(lines), [*tracking, history], orders=orders)


def order_history_link(turn: Turn) -> Reply:
    return Reply(text("orders_unavailable", turn.lang), [page_link("order_history", turn), escalation(turn.lang)])


def sign_in_for_orders(turn: Turn) -> Reply:
    return Reply(text("sign_in_for_orders", turn.lang), [page_link("sign_in", turn), page_link("order_history", turn)])


# ---------------------------------------------------------------- returns


def return_cases(turn: Turn) -> Reply:
    cases: list[ReturnCase] = turn.call(
        "returns_service", ("returns",), turn.downstream.returns, turn.customer_id, turn.deadline
    )
    help_link = page_link("returns_help", turn)
    if not cases:
        return Reply(text("no_returns", turn.lang), [help_link])
    lines = [text("returns_intro", turn.lang), *(return_line(c, turn.lang) for c in cases)]
    labels = [
        Action("link", label("return_label", turn.lang, return_id=c.return_id), c.label_url)
        for c in cases
        if c.label_url
    ]
    return Reply("\n".join(lines), [*labels, help_link])


def returns_help_link(turn: Turn) -> Reply:
    return Reply(text("returns_unavailable", turn.lang), [page_link("returns_help", turn), escalation(turn.lang)])


def returns_guide(turn: Turn) -> Reply:
    return Reply(text("returns_guide", turn.lang), [page_link("returns_help", turn), page_link("sign_in", turn)])


# ---------------------------------------------------------------- recommendations


def _product_links(items: list[Product], lang: str) -> list[Action]:
    return [Action("link", p.title_ja if lang == "ja" and p.title_ja else p.title, p.url) for p in items if p.url]


def _item_reply(intro: str, items: list[Product], lang: str) -> Reply:
    lines = [intro, *(product_line(p, lang) for p in items)]
    return Reply("\n".join(lines), _product_links(items, lang), items=items)


def _popular(turn: Turn) -> list[Product]:
    return turn.call("catalog", ("popular",), turn.downstream.popular_products, turn.deadline, limit=MAX_ITEMS)


def personalized_recommendations(turn: Turn) -> Reply:
    """The recommender's picks, then what is trending in the catalog to round the list off (design Q34: the
    full flow needs both, so losing either one moves the customer to its fallback row)."""
    picks = turn.call(
        "recommendations",
        ("recommendations",),
        turn.downstream.recommendations,
        turn.customer_id,
        turn.deadline,
        limit=MAX_PICKS,
    )
    trending = [p for p in _popular(turn) if p.product_id not in {pick.product_id for pick in picks}]
    if not picks:  # nothing personal to say yet: trending titles are still a real answer
        return _item_reply(text("recommendations_intro", turn.lang), trending[:MAX_ITEMS], turn.lang)
    extra = trending[: MAX_ITEMS - len(picks)]
    lines = [text("recommendations_intro", turn.lang), *(product_line(p, turn.lang) for p in picks)]
    if extra:
        lines += [text("also_trending", turn.lang), *(product_line(p, turn.lang) for p in extra)]
    items = [*picks, *extra]
    return Reply("\n".join(lines), _product_links(items, turn.lang), items=items)


def popular_items(turn: Turn) -> Reply:
    return _item_reply(text("popular_intro", turn.lang), _popular(turn), turn.lang)


def browse_search_and_faq(turn: Turn) -> Reply:
    message = text("catalog_unavailable", turn.lang)
    actions = [
        page_link("browse_manga", turn),
        search_link(turn),
    ]
    matches = turn.faq_matches()
    if matches:
        message += "\n\n" + text("faq_hint", turn.lang, answer=faq_answer(matches[0], turn.lang))
        actions += faq_actions(matches[0], turn.lang)
    actions.append(page_link("help_center", turn))
    return Reply(message, actions, sources=faq_sources(matches, turn))


# ---------------------------------------------------------------- product info


def search_query(message: str) -> str:
    """The customer's words as a store search: whitespace folded, trailing punctuation dropped."""
    return " ".join(message.split()).strip(" ?？!！。.、,")[:200]


def _products(turn: Turn) -> list[Product]:
    return turn.call(
        "catalog",
        ("search",),
        turn.downstream.search_products,
        search_query(turn.message),
        turn.lang,
        turn.deadline,
        limit=MAX_PRODUCTS,
    )


def _no_products(turn: Turn) -> Reply:
    return Reply(
        text("no_products", turn.lang),
        [search_link(turn)],
        items=[],
        unaffected=True,
    )


def product_answer(turn: Turn) -> Reply:
    products = _products(turn)
    if not products:
        return _no_products(turn)
    facts = [product_fact(p, turn.lang) for p in products]
    answer = _generated(turn, prompts.product_system(facts, turn.lang))
    return Reply(answer, _product_links(products, turn.lang), items=products)


def product_list(turn: Turn) -> Reply:
    products = _products(turn)
    if not products:
        return _no_products(turn)
    return _item_reply(text("products_intro", turn.lang), products, turn.lang)


def product_text_link(turn: Turn) -> Reply:
    return Reply(text("product_details_unavailable", turn.lang), [search_link(turn)])


# ---------------------------------------------------------------- FAQ and everything else


def _faq_no_match(turn: Turn) -> Reply:
    return Reply(
        text("faq_no_match", turn.lang),
        [page_link("help_center", turn), escalation(turn.lang)],
        unaffected=True,
    )


def _grounding(matches: list[Any], lang: str) -> list[dict[str, str]]:
    return [{"question": faq_question(m, lang), "answer": faq_answer(m, lang)} for m in matches]


def faq_generated(turn: Turn) -> Reply:
    matches = turn.faq_matches(FAQ_GROUNDING)
    if not matches:
        return _faq_no_match(turn)
    answer = _generated(turn, prompts.faq_system(_grounding(matches, turn.lang), turn.lang))
    actions = [
        *faq_actions(matches[0], turn.lang),
        page_link("help_center", turn),
    ]
    return Reply(answer, actions, sources=faq_sources(matches, turn))


def faq_canned(turn: Turn) -> Reply:
    """Templates only: the entry's own answer, "Did you mean...?" on a close call, or the honest decline."""
    outcome, matches = turn.faq_retrieval()
    if outcome == "answer":
        return Reply(
            faq_answer(matches[0], turn.lang), faq_actions(matches[0], turn.lang), sources=faq_sources(matches, turn)
        )
    if outcome == "suggest" and matches:
        return Reply(
            text("faq_suggest", turn.lang),
            [
                *(faq_suggestion(m, turn.lang) for m in matches),
                page_link("help_center", turn),
                escalation(turn.lang),
            ],
            sources=faq_sources(matches, turn),
        )
    return _faq_no_match(turn)


def open_generated(turn: Turn) -> Reply:
    matches = turn.faq_matches(FAQ_GROUNDING)
    answer = _generated(turn, prompts.open_system(turn.lang, _grounding(matches, turn.lang)))
    return Reply(answer, sources=faq_sources(matches, turn))


def cant_help(turn: Turn) -> Reply:
    return Reply(text("cant_help", turn.lang), [escalation(turn.lang), page_link("help_center", turn)])


def escalate(turn: Turn) -> Reply:
    return Reply(text("escalate", turn.lang), [escalation(turn.lang), page_link("contact", turn)])


def greeting_personal(turn: Turn) -> Reply:
    profile: Profile = turn.call("user_profile", ("profile",), turn.downstream.profile, turn.customer_id, turn.deadline)
    if not profile.display_name:
        return greeting(turn)
    return Reply(text("greeting_personal", turn.lang, name=profile.display_name))


def greeting(turn: Turn) -> Reply:
    return Reply(text("greeting", turn.lang))


# ---------------------------------------------------------------- side feature: promotion nudges


def promotion_nudge(turn: Turn) -> tuple[str, Action | None] | None:
    promos: list[Promotion] = turn.call(
        "promotions",
        ("promotions",),
        turn.downstream.promotions,
        turn.customer_id,
        turn.lang,
        turn.deadline,
    )
    if not promos:
        return None
    promo = promos[0]
    action = Action("link", label("promotion", turn.lang), promo.url) if promo.url else None
    return promotion_text(promo, turn.lang), action


FLOWS: dict[Flow, Callable[[Turn], Reply]] = {
    Flow.ORDER_STATUS: order_status,
    Flow.ORDER_HISTORY_LINK: order_history_link,
    Flow.SIGN_IN_FOR_ORDERS: sign_in_for_orders,
    Flow.RETURN_CASES: return_cases,
    Flow.RETURNS_HELP_LINK: returns_help_link,
    Flow.RETURNS_GUIDE: returns_guide,
    Flow.PERSONALIZED_RECOMMENDATIONS: personalized_recommendations,
    Flow.POPULAR_ITEMS: popular_items,
    Flow.BROWSE_SEARCH_AND_FAQ: browse_search_and_faq,
    Flow.PRODUCT_ANSWER: product_answer,
    Flow.PRODUCT_LIST: product_list,
    Flow.PRODUCT_TEXT_LINK: product_text_link,
    Flow.FAQ_GENERATED: faq_generated,
    Flow.FAQ_CANNED: faq_canned,
    Flow.OPEN_GENERATED: open_generated,
    Flow.CANT_HELP: cant_help,
    Flow.ESCALATE: escalate,
    Flow.GREETING_PERSONAL: greeting_personal,
    Flow.GREETING: greeting,
}
