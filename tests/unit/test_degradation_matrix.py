"""The whole degradation matrix: every subset of the nine registry services down x every intent x both languages.

Each combination runs the real orchestrator, policy and flows against in-memory breakers whose circuits
for the down services are forced open fleet-wide, and against fakes of every service that count calls.
The expectations below are written from the seed's matrix (Q17, Q34), not read from the policy table.
"""

from __future__ import annotations

import itertools
import logging
import re

import pytest

from mangaassist.breaker import CircuitBreakers
from mangaassist.chat.api_models import ChatResponse
from mangaassist.chat.client_budget import ClientBudget
from mangaassist.chat.intents import Intent
from mangaassist.chat.orchestrator import ChatInput
from mangaassist.chat.replies import ORDER_STATUS, Links
from mangaassist.chat.routes import answer_body
from mangaassist.client_limits import LlmBudget
from mangaassist.health import Banners
from mangaassist.language import detect_language
from mangaassist.observability import logger
from mangaassist.registry import SERVICE_NAMES
from tests.fakes import InMemoryBudgetStore
from tests.unit.chat_fakes import (
    CUSTOMER,
    ORDER_DATES,
    ORDER_IDS,
    PROMO_EN,
    PROMO_JA,
    RETURN_ID,
    SHIPPING,
    STORE_LINKS_BASE,
    FakeBanner,
    FakeLlm,
    breakers_with,
    fake_orchestrator,
)

LINKS = Links(STORE_LINKS_BASE)
MESSAGES: dict[Intent, dict[str, str]] = {
    Intent.ORDER_TRACKING: {"en": "Where is my order?", "ja": "注文した漫画はいつ届きますか？"},
    Intent.RECOMMENDATION: {"en": "Can you recommend some manga?", "ja": "おすすめの漫画を教えて"},
    Intent.PRODUCT_INFO: {"en": "Is One Piece volume 107 in stock?", "ja": "ワンピース107巻の在庫はありますか"},
    Intent.FAQ: {"en": "How much is shipping?", "ja": "送料はいくらですか"},
    Intent.RETURNS: {"en": "I want to return a damaged book", "ja": "破損した本を返品したい"},
    Intent.ESCALATION: {"en": "I want to talk to a human", "ja": "オペレーターと話したい"},
    Intent.GREETING: {"en": "Hello!", "ja": "こんにちは"},
    Intent.OPEN_ENDED: {"en": "Write me a poem about the sea", "ja": "海についての詩を書いて"},
}
SUBSETS = [frozenset(c) for n in range(len(SERVICE_NAMES) + 1) for c in itertools.combinations(SERVICE_NAMES, n)]
STATUS_WORDS = [word for labels in ORDER_STATUS.values() for word in labels.values()]
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


LLM_INTENTS = (Intent.PRODUCT_INFO, Intent.FAQ, Intent.OPEN_ENDED)


def expected_reason(intent: Intent, down: frozenset[str], signed_in: bool, over_budget: bool = False) -> str | None:
    """The seed's matrix, restated independently of the policy table; an outage is named before the client's
    own spent Bedrock budget (issue 10), which only the intents that call Bedrock can meet."""
    if intent is Intent.ORDER_TRACKING and signed_in and "order_service" in down:
        return "order_service_unavailable"
    if intent is Intent.RETURNS and signed_in and "returns_service" in down:
        return "returns_service_unavailable"
    if intent is Intent.RECOMMENDATION and "catalog" in down:
        return "catalog_unavailable"
    if intent is Intent.RECOMMENDATION and "recommendations" in down:
        return "recommendations_unavailable"
    if intent is Intent.PRODUCT_INFO and "catalog" in down:
        return "catalog_unavailable"
    if intent in (Intent.PRODUCT_INFO, Intent.FAQ, Intent.OPEN_ENDED) and "llm" in down:
        return "llm_unavailable"
    if intent in LLM_INTENTS and over_budget:
        return "rate_limited"
    return None


def link_urls(body: dict) -> set[str]:
    return {a.get("url") for a in body["actions"] if a["type"] == "link"}


def has_escalation(body: dict) -> bool:
    return any(a["type"] == "escalation" for a in body["actions"])


def check_fallback(
    intent: Intent, down: frozenset[str], signed_in: bool, lang: str, body: dict, over_budget: bool = False
) -> None:
    """The seed's fallback for the combination, as the customer sees it."""
    message = body["message"]
    no_llm = "llm" in down or over_budget
    if intent is Intent.ORDER_TRACKING:
        if not signed_in:
            assert LINKS.page("sign_in") in link_urls(body)
            assert "orders" not in body
        elif "order_service" in down:
            assert LINKS.page("order_history") in link_urls(body)
            assert has_escalation(body)
            assert "orders" not in body
        else:
            assert [o["order_id"] for o in body["orders"]] == list(ORDER_IDS)
            assert ORDER_IDS[0] in message
    if intent is Intent.RETURNS:
        if signed_in and "returns_service" in down:
            assert LINKS.page("returns_help") in link_urls(body)
            assert has_escalation(body)
            assert RETURN_ID not in message
        elif signed_in:
            assert RETURN_ID in message
    if intent is Intent.RECOMMENDATION:
        if "catalog" in down:
            assert LINKS.search("") in link_urls(body) or any("/s?k=" in (u or "") for u in link_urls(body))
            assert "items" not in body
        else:
            assert body["items"], "popular or personal picks from the catalog"
    if intent is Intent.PRODUCT_INFO:
        if "catalog" in down:
            assert any("/s?k=" in (u or "") for u in link_urls(body)), "text-only answer plus a search link"
            assert "items" not in body
        else:
            assert body["items"]
    if intent is Intent.FAQ and no_llm:
        assert message == SHIPPING.answer[lang], "the canned answer itself"
    if intent is Intent.OPEN_ENDED and no_llm:
        assert has_escalation(body)
    if intent is Intent.ESCALATION:
        assert has_escalation(body)
    if intent is Intent.GREETING:
        assert ("Sakura" in message) is (signed_in and "user_profile" not in down)
    nudged = PROMO_JA if lang == "ja" else PROMO_EN
    shows_items = intent in (Intent.RECOMMENDATION, Intent.PRODUCT_INFO) and "catalog" not in down
    assert (nudged in message) is (shows_items and "promotions" not in down)


def check_nothing_fabricated(intent: Intent, down: frozenset[str], signed_in: bool, body: dict, llm: FakeLlm) -> None:
    """Order facts appear only when the service that owns them answered (design Q17: never fabricate)."""
    text = body["message"] + " ".join(str(a) for a in body["actions"])
    orders_answered = intent is Intent.ORDER_TRACKING and signed_in and "order_service" not in down
    returns_answered = intent is Intent.RETURNS and signed_in and "returns_service" not in down
    if not orders_answered:
        assert "orders" not in body
        assert not any(day in text for day in ORDER_DATES)
        assert not DATE.search(text)
    if not (orders_answered or returns_answered):
        assert not any(order_id in text for order_id in ORDER_IDS)
    if intent is Intent.ORDER_TRACKING and not orders_answered:
        assert not any(word in body["message"] for word in STATUS_WORDS)
    if intent is Intent.ORDER_TRACKING:
        assert llm.attempts == 0, "order answers are never generated"
    for prompt in llm.prompts:
        assert not any(order_id in prompt for order_id in ORDER_IDS), "the LLM never sees order data"


@pytest.fixture(autouse=True)
def quiet_logs():
    """Thousands of answers: keep their INFO lines and override warnings out of the captured output."""
    levels = {name: logging.getLogger(name).level for name in (logger.name, "mangaassist.breaker")}
    for name in levels:
        logging.getLogger(name).setLevel(logging.ERROR)
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def run_one(
    down: frozenset[str],
    intent: Intent,
    lang: str,
    signed_in: bool,
    breakers: CircuitBreakers,
    over_budget: bool = False,
) -> None:
    # A budget of no calls: the client has spent its Bedrock calls for the window.
    spent = ClientBudget(InMemoryBudgetStore(), lambda: b"matrix-key", LlmBudget(calls=0, window_s=600))
    orchestrator = fake_orchestrator(
        breakers,
        banner=(lambda: Banners(automatic=FakeBanner())) if "llm" in down else (lambda: None),
        llm_budget=spent if over_budget else None,
    )
    downstream, llm, telemetry = orchestrator.downstream, orchestrator.llm, orchestrator.telemetry
    answer = orchestrator.answer(
        ChatInput(MESSAGES[intent][lang], CUSTOMER if signed_in else None, source_ip="203.0.113.77")
    )
    body = answer_body(answer)
    ChatResponse.model_validate(body)  # the 200 body the API would send
    where = (intent.value, lang, signed_in, sorted(down), over_budget)

    assert body["intent"] == intent.value, where
    assert body["message"].strip(), where
    assert body["language"] == lang, where
    assert detect_language(body["message"]) == lang, where
    reason = expected_reason(intent, down, signed_in, over_budget)
    assert body["degraded_reason"] == reason, where
    assert body["degraded"] is (reason is not None), where
    check_fallback(intent, down, signed_in, lang, body, over_budget)
    check_nothing_fabricated(intent, down, signed_in, body, llm)
    if over_budget:
        assert llm.attempts == 0, where
    # With a circuit open, not one call for that service is even attempted.
    for service in down:
        attempted = llm.attempts if service == "llm" else downstream.attempts[service]
        assert attempted == 0, (service, *where)
        assert (llm.reached if service == "llm" else downstream.reached[service]) == 0
    # Analytics (tier 4): sent when up, logged locally for replay when down.
    if "analytics" in down:
        assert [why for _, why in telemetry.deferred] == ["circuit_open"]
        assert telemetry.deferred[0][0]["request_id"] == answer.request_id
    else:
        assert len(downstream.events) == 1
        assert telemetry.deferred == []
    assert ("banner" in body) is ("llm" in down)


@pytest.mark.parametrize("chunk", range(8))
def test_every_subset_every_intent_both_languages_signed_in(chunk: int) -> None:
    subsets = SUBSETS[chunk::8]
    for down in subsets:
        breakers = breakers_with(down, quiet=True)  # read-only during the runs: shared by the 16 of them
        for intent, lang in itertools.product(Intent, ("en", "ja")):
            run_one(down, intent, lang, True, breakers)


@pytest.mark.parametrize("intent", [Intent.ORDER_TRACKING, Intent.RETURNS, Intent.GREETING, Intent.RECOMMENDATION])
def test_every_subset_for_guests(intent: Intent) -> None:
    for index, down in enumerate(SUBSETS):
        run_one(down, intent, "ja" if index % 2 else "en", False, breakers_with(down, quiet=True))


@pytest.mark.parametrize("intent", LLM_INTENTS)
def test_every_subset_for_a_client_over_its_bedrock_budget(intent: Intent) -> None:
    for index, down in enumerate(SUBSETS):
        breakers = breakers_with(down, quiet=True)
        run_one(down, intent, "ja" if index % 2 else "en", index % 4 < 2, breakers, over_budget=True)


def test_matrix_covers_every_combination() -> None:
    assert len(SUBSETS) == 512
    assert len(set(SUBSETS)) == 512
    assert set(MESSAGES) == set(Intent)
