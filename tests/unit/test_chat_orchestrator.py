"""The orchestrator when things go wrong during a request: failed calls, 4xx, deadlines, bugs, side features."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mangaassist.breaker import (
    CircuitState,
    DependencyClientError,
    DependencyError,
    DependencyThrottledError,
    DependencyTimeoutError,
)
from mangaassist.chat.intents import Intent
from mangaassist.chat.orchestrator import ChatInput, Orchestrator
from mangaassist.chat.replies import Links, text
from mangaassist.health import Banners, HealthStoreError
from mangaassist.language import detect_language
from mangaassist.registry import REGISTRY
from tests.unit.chat_fakes import (
    AUTOGRAPHS,
    CUSTOMER,
    ORDER_IDS,
    PROMO_EN,
    SHIPPING,
    STORE_LINKS_BASE,
    CountingTelemetry,
    FakeBanner,
    FakeDownstream,
    FakeLlm,
    breakers_with,
    fake_orchestrator,
)

LINKS = Links(STORE_LINKS_BASE)


@dataclass
class Setup:
    orchestrator: Orchestrator
    downstream: FakeDownstream
    llm: FakeLlm
    telemetry: CountingTelemetry

    def ask(self, message: str, customer: str | None = CUSTOMER, context=None):
        return self.orchestrator.answer(ChatInput(message, customer), context)


@pytest.fixture
def chat() -> Setup:
    orchestrator = fake_orchestrator()
    return Setup(orchestrator, orchestrator.downstream, orchestrator.llm, orchestrator.telemetry)


class Context:
    def __init__(self, remaining_ms: int):
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_order_service_failing_mid_request_degrades_and_opens_after_its_threshold(chat: Setup) -> None:
    chat.downstream.failures["order_service"] = DependencyError("order_service", "HTTP 503", status_code=503)
    threshold = REGISTRY["order_service"].breaker.failure_threshold
    for _ in range(threshold):
        answer = chat.ask("Where is my order?")
        assert answer.degraded_reason == "order_service_unavailable"
        assert answer.orders is None
        assert {a.type for a in answer.actions} == {"link", "escalation"}
        assert not any(order_id in answer.message for order_id in ORDER_IDS)
    assert chat.orchestrator.breakers.record("order_service").state is CircuitState.OPEN
    reached = chat.downstream.reached["order_service"]
    answer = chat.ask("Where is my order?")
    assert answer.degraded_reason == "order_service_unavailable"
    assert chat.downstream.reached["order_service"] == reached == threshold, "an open circuit sends nothing"
    assert chat.downstream.attempts["order_service"] == threshold, "the policy does not even try"


@pytest.mark.parametrize(
    "failure",
    [
        DependencyTimeoutError("catalog", "no answer"),
        DependencyThrottledError("catalog", "HTTP 429", status_code=429),
        DependencyError("catalog", "HTTP 500", status_code=500),
    ],
)
def test_a_failed_catalog_call_moves_to_the_text_only_row(chat: Setup, failure: Exception) -> None:
    chat.downstream.failures["catalog"] = failure
    answer = chat.ask("Is One Piece volume 107 in stock?")
    assert answer.flow == "product_text_link"
    assert answer.degraded_reason == "catalog_unavailable"
    assert answer.items is None
    assert any("/s?k=" in (a.url or "") for a in answer.actions)
    assert chat.llm.attempts == 0, "no catalog facts, so nothing to phrase"


def test_an_unknown_customer_has_no_orders_rather_than_an_outage(chat: Setup) -> None:
    chat.downstream.failures["order_service"] = DependencyClientError("order_service", 404, "customer_not_found")
    answer = chat.ask("Where is my order?")
    assert answer.flow == "order_status"
    assert answer.degraded is False
    assert answer.orders == []
    assert answer.message == text("no_orders", "en")
    assert chat.orchestrator.breakers.record("order_service").failure_buckets == {}, "a 4xx is not counted"


def test_llm_failure_during_rag_falls_back_to_the_canned_answer(chat: Setup) -> None:
    chat.llm.failure = DependencyTimeoutError("llm", "no answer within 6s")
    answer = chat.ask("送料はいくらですか")
    assert answer.flow == "faq_canned"
    assert answer.message == SHIPPING.answer["ja"]
    assert answer.degraded_reason == "llm_unavailable"
    assert [a.url for a in answer.actions] == ["https://store.example/help/shipping"]


@pytest.mark.parametrize("reply", ["", "   ", "Sure! Shipping is cheap."])
def test_an_empty_or_wrong_language_generation_is_not_shown(chat: Setup, reply: str) -> None:
    chat.llm.reply = reply
    answer = chat.ask("送料はいくらですか")
    assert answer.message == SHIPPING.answer["ja"]
    assert answer.degraded_reason == "llm_unavailable"


def test_rag_prompt_is_grounded_on_the_match_in_the_customers_language(chat: Setup) -> None:
    answer = chat.ask("How much is shipping?")
    assert answer.flow == "faq_generated"
    assert answer.degraded is False
    (prompt,) = chat.llm.prompts
    assert SHIPPING.answer["en"] in prompt
    assert "Reply in English" in prompt


def test_a_question_only_the_faq_knows_is_answered_as_faq(chat: Setup) -> None:
    answer = chat.ask("Do you sell autographed copies?")
    assert answer.intent is Intent.FAQ
    chat.llm.failure = DependencyError("llm", "HTTP 500")
    answer = chat.ask("サイン本はありますか")
    assert answer.message == AUTOGRAPHS.answer["ja"]


def test_product_answer_grounds_the_llm_on_catalog_data_only(chat: Setup) -> None:
    answer = chat.ask("Is One Piece volume 107 in stock?")
    assert answer.flow == "product_answer"
    assert [p.product_id for p in answer.items] == ["p-onepiece-107", "p-frieren-12"]
    (prompt,) = chat.llm.prompts
    assert "One Piece vol. 107 by Eiichiro Oda ¥528 / print edition / in stock" in prompt
    assert PROMO_EN in answer.message


def test_an_exhausted_deadline_skips_every_call_and_still_answers(chat: Setup) -> None:
    answer = chat.ask("Where is my order?", context=Context(remaining_ms=400))
    assert answer.flow == "order_history_link"
    assert answer.degraded_reason == "order_service_unavailable"
    assert sum(chat.downstream.attempts.values()) == 0
    assert [why for _, why in chat.telemetry.deferred] == ["no_time_left"]


def test_promotions_failing_only_drops_the_nudge(chat: Setup) -> None:
    chat.downstream.failures["promotions"] = DependencyTimeoutError("promotions", "slow")
    answer = chat.ask("Can you recommend some manga?")
    assert answer.flow == "personalized_recommendations"
    assert answer.degraded is False
    assert PROMO_EN not in answer.message
    assert chat.downstream.reached["promotions"] == 1


def test_analytics_failure_logs_the_event_for_replay(chat: Setup) -> None:
    chat.downstream.failures["analytics"] = DependencyError("analytics", "HTTP 503")
    answer = chat.ask("Hello!")
    ((event, why),) = chat.telemetry.deferred
    assert why == "ServiceUnavailableError"
    assert event["request_id"] == answer.request_id
    assert event["intent"] == "greeting"
    assert "customer_id" not in event


def test_a_bug_in_a_flow_still_ends_in_a_polite_answer_with_escalation(chat: Setup) -> None:
    chat.downstream.product_data = [None]  # a contract-breaking item the flows cannot format
    answer = chat.ask("Can you recommend some manga?")
    assert answer.message == text("something_went_wrong", "en")
    assert [a.type for a in answer.actions] == ["escalation"]
    assert answer.degraded is True
    assert answer.degraded_reason is None


def test_guests_never_reach_personal_services(chat: Setup) -> None:
    for message in ("Where is my order?", "返品したいです", "Hello!"):
        chat.ask(message, customer=None)
    assert chat.downstream.attempts["order_service"] == 0
    assert chat.downstream.attempts["returns_service"] == 0
    assert chat.downstream.attempts["user_profile"] == 0


def test_profile_failure_greets_as_a_guest_without_announcing_it(chat: Setup) -> None:
    chat.downstream.failures["user_profile"] = DependencyTimeoutError("user_profile", "slow")
    answer = chat.ask("こんにちは")
    assert answer.message == text("greeting", "ja")
    assert answer.degraded is False


def test_banner_shows_in_the_customers_language_while_active() -> None:
    breakers = breakers_with(quiet=True)
    banner = FakeBanner()
    orchestrator = fake_orchestrator(breakers, banner=lambda: Banners(automatic=banner))
    assert orchestrator.answer(ChatInput("こんにちは", None)).banner == banner.message_ja
    assert orchestrator.answer(ChatInput("Hello", None)).banner == banner.message_en
    banner.active = False
    assert orchestrator.answer(ChatInput("Hello", None)).banner is None


def test_an_unreadable_banner_never_breaks_the_answer() -> None:
    breakers = breakers_with(quiet=True)

    def broken():
        raise HealthStoreError("table unreachable")

    orchestrator = fake_orchestrator(breakers, banner=broken)
    answer = orchestrator.answer(ChatInput("Hello", None))
    assert answer.banner is None
    assert answer.message == text("greeting", "en")


def test_feedback_is_delivered_when_up_and_dropped_and_counted_when_down() -> None:
    breakers = breakers_with(quiet=True)
    downstream, telemetry = FakeDownstream(breakers), CountingTelemetry()
    orchestrator = fake_orchestrator(breakers, downstream=downstream, telemetry=telemetry)
    rating = {"request_id": "r-1", "rating": "helpful"}
    assert orchestrator.feedback(rating) is True
    assert downstream.feedback == [rating]

    downstream.failures["feedback"] = DependencyError("feedback", "HTTP 502")
    assert orchestrator.feedback(rating) is False
    assert telemetry.dropped == ["ServiceUnavailableError"]

    open_breakers = breakers_with({"feedback"}, quiet=True)
    down = FakeDownstream(open_breakers)
    orchestrator = fake_orchestrator(open_breakers, downstream=down, telemetry=telemetry)
    assert orchestrator.feedback(rating) is False
    assert down.attempts["feedback"] == 0
    assert telemetry.dropped == ["ServiceUnavailableError", "circuit_open"]


def test_a_flow_cannot_call_a_service_its_row_does_not_need(chat: Setup) -> None:
    from mangaassist.chat.flows import PolicyViolationError, Turn
    from mangaassist.chat.policy import choose
    from mangaassist.deadline import Deadline

    turn = Turn(
        message="Hello",
        lang="en",
        intent=Intent.GREETING,
        customer_id=None,
        deadline=Deadline(1.0),
        downstream=chat.downstream,
        llm=chat.llm,
        links=LINKS,
        faq=None,
        detect_language=detect_language,
    )
    turn.row = choose(Intent.GREETING, frozenset(), signed_in=False).row
    with pytest.raises(PolicyViolationError):
        turn.call("order_service", ("orders",), chat.downstream.recent_orders, CUSTOMER, turn.deadline)
    assert chat.downstream.attempts["order_service"] == 0
    turn.row = choose(Intent.RECOMMENDATION, frozenset(), signed_in=True).row
    assert turn.allowed_services() == {"recommendations", "catalog", "promotions"}


MESSAGES_BY_INTENT = {
    Intent.ORDER_TRACKING: "Where is my order?",
    Intent.RETURNS: "I want to return a damaged book",
    Intent.RECOMMENDATION: "Can you recommend some manga?",
    Intent.PRODUCT_INFO: "Is One Piece volume 107 in stock?",
    Intent.FAQ: "How much is shipping?",
    Intent.OPEN_ENDED: "Write me a poem about the sea",
    Intent.ESCALATION: "I want to talk to a human",
    Intent.GREETING: "Hello!",
}


@pytest.mark.parametrize("intent", list(Intent))
def test_a_live_failure_of_any_needed_service_answers_like_its_open_circuit(intent: Intent) -> None:
    """The policy table's `needs` are exactly what the flows call: whichever needed service fails during
    the request, the answer (flow and degraded_reason) is the one the table gives with its circuit open."""
    from mangaassist.chat.policy import CONDITIONS, choose

    healthy = choose(intent, frozenset(), signed_in=True)
    for service in sorted(healthy.row.needs - CONDITIONS):
        breakers = breakers_with(quiet=True)
        downstream, llm = FakeDownstream(breakers), FakeLlm(breakers)
        downstream.failures[service] = DependencyError(service, "HTTP 503")
        llm.failure = DependencyError("llm", "HTTP 503") if service == "llm" else None
        orchestrator = fake_orchestrator(breakers, downstream=downstream, llm=llm)
        answer = orchestrator.answer(ChatInput(MESSAGES_BY_INTENT[intent], CUSTOMER))
        reached = llm.reached if service == "llm" else downstream.reached[service]
        assert reached == 1, f"{healthy.flow} needs {service} but never called it"
        expected = choose(intent, frozenset({service}), signed_in=True)
        assert (answer.flow, answer.degraded_reason) == (expected.flow.value, expected.degraded_reason), service


def test_catalog_failing_during_a_recommendation_drops_to_the_search_and_faq_row(chat: Setup) -> None:
    chat.downstream.failures["catalog"] = DependencyTimeoutError("catalog", "no answer")
    answer = chat.ask("Can you recommend some manga?")
    assert answer.flow == "browse_search_and_faq"
    assert answer.degraded_reason == "catalog_unavailable"
    assert answer.items is None


def test_personal_picks_come_first_then_what_is_trending(chat: Setup) -> None:
    answer = chat.ask("Can you recommend some manga?")
    assert [p.product_id for p in answer.items] == ["p-onepiece-107", "p-frieren-12"]
    assert (
        answer.message.index("One Piece") < answer.message.index("Popular right now:") < answer.message.index("Frieren")
    )


def test_nothing_to_match_is_not_announced_as_a_degradation() -> None:
    breakers = breakers_with({"llm"}, quiet=True)
    orchestrator = fake_orchestrator(breakers)
    # A FAQ-worded question the FAQ has no entry for: with or without the LLM the answer is the same.
    answer = orchestrator.answer(ChatInput("Do you accept payment in seashells?", CUSTOMER))
    assert answer.intent is Intent.FAQ
    assert answer.message == text("faq_no_match", "en")
    assert answer.degraded is False
    assert answer.degraded_reason is None


def test_a_faq_match_about_the_customers_own_orders_routes_to_order_tracking(chat: Setup) -> None:
    answer = chat.ask("Hmm, parcel gone?")
    assert answer.intent is Intent.ORDER_TRACKING
    assert answer.flow == "order_status"
    assert chat.downstream.reached["order_service"] == 1
