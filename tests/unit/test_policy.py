"""The degradation policy table: the seed's matrix row by row, and properties over every combination."""

from __future__ import annotations

import itertools

import pytest

from mangaassist.chat.flows import FLOWS
from mangaassist.chat.intents import Intent
from mangaassist.chat.policy import BUDGET_S, CONDITIONS, LLM_BUDGET, POLICY, SIGNED_IN, Flow, choose, rows_for
from mangaassist.registry import REGISTRY, SERVICE_NAMES

ALL_SUBSETS = [frozenset(c) for n in range(len(SERVICE_NAMES) + 1) for c in itertools.combinations(SERVICE_NAMES, n)]
SIDE_FEATURES = {"promotions", "analytics", "feedback"}


def test_every_subset_is_enumerated() -> None:
    assert len(ALL_SUBSETS) == 2 ** len(SERVICE_NAMES) == 512


def test_the_table_names_only_registry_services() -> None:
    for row in POLICY:
        assert row.needs - CONDITIONS <= set(REGISTRY), row
        assert set(row.blame) <= set(REGISTRY) | {LLM_BUDGET}, row


def test_every_row_that_may_call_bedrock_needs_budget_left_and_its_fallback_names_it_after_the_llm() -> None:
    for intent in Intent:
        rows = rows_for(intent)
        for better, fallback in itertools.pairwise(rows):
            assert ("llm" in better.needs) is (LLM_BUDGET in better.needs), better
            if "llm" in better.needs and "llm" not in fallback.needs:
                assert fallback.blame[-2:] == ("llm", LLM_BUDGET), fallback


def test_every_flow_has_exactly_one_implementation_and_row() -> None:
    assert set(FLOWS) == set(Flow)
    assert sorted(row.flow for row in POLICY) == sorted(Flow)


def test_every_intent_ends_with_a_row_that_needs_nothing() -> None:
    for intent in Intent:
        rows = rows_for(intent)
        assert rows, intent
        assert rows[-1].needs == frozenset(), intent
        assert intent in BUDGET_S


# ---------------------------------------------------------------- the seed's degradation matrix (Q34, Q17)

SIGNED = True


@pytest.mark.parametrize(
    ("down", "intent", "flow", "reason"),
    [
        # Recommendations only -> popular/trending manga
        ({"recommendations"}, Intent.RECOMMENDATION, Flow.POPULAR_ITEMS, "recommendations_unavailable"),
        # Catalog only -> text-only response + link
        ({"catalog"}, Intent.PRODUCT_INFO, Flow.PRODUCT_TEXT_LINK, "catalog_unavailable"),
        ({"catalog"}, Intent.RECOMMENDATION, Flow.BROWSE_SEARCH_AND_FAQ, "catalog_unavailable"),
        ({"catalog"}, Intent.FAQ, Flow.FAQ_GENERATED, None),  # "...but can still answer FAQ"
        # Order service only -> link to order page + escalation
        ({"order_service"}, Intent.ORDER_TRACKING, Flow.ORDER_HISTORY_LINK, "order_service_unavailable"),
        # Returns service only -> link to returns help + escalation
        ({"returns_service"}, Intent.RETURNS, Flow.RETURNS_HELP_LINK, "returns_service_unavailable"),
        # LLM -> templates for known intents, "I can't help with that" for open-ended
        ({"llm"}, Intent.FAQ, Flow.FAQ_CANNED, "llm_unavailable"),
        ({"llm"}, Intent.PRODUCT_INFO, Flow.PRODUCT_LIST, "llm_unavailable"),
        ({"llm"}, Intent.ORDER_TRACKING, Flow.ORDER_STATUS, None),
        ({"llm"}, Intent.RETURNS, Flow.RETURN_CASES, None),
        ({"llm"}, Intent.RECOMMENDATION, Flow.PERSONALIZED_RECOMMENDATIONS, None),
        ({"llm"}, Intent.OPEN_ENDED, Flow.CANT_HELP, "llm_unavailable"),
        # Recommendations + catalog -> full fallback to search + FAQ
        ({"recommendations", "catalog"}, Intent.RECOMMENDATION, Flow.BROWSE_SEARCH_AND_FAQ, "catalog_unavailable"),
        ({"recommendations", "catalog"}, Intent.PRODUCT_INFO, Flow.PRODUCT_TEXT_LINK, "catalog_unavailable"),
        ({"recommendations", "catalog"}, Intent.FAQ, Flow.FAQ_GENERATED, None),
        # LLM + catalog -> FAQ + order tracking only, both by template
        ({"llm", "catalog"}, Intent.FAQ, Flow.FAQ_CANNED, "llm_unavailable"),
        ({"llm", "catalog"}, Intent.ORDER_TRACKING, Flow.ORDER_STATUS, None),
        ({"llm", "catalog"}, Intent.PRODUCT_INFO, Flow.PRODUCT_TEXT_LINK, "catalog_unavailable"),
        ({"llm", "catalog"}, Intent.RECOMMENDATION, Flow.BROWSE_SEARCH_AND_FAQ, "catalog_unavailable"),
        ({"llm", "catalog"}, Intent.OPEN_ENDED, Flow.CANT_HELP, "llm_unavailable"),
        # User profile -> treat as guest (no personalisation), not announced
        ({"user_profile"}, Intent.GREETING, Flow.GREETING, None),
        # Tier 3/4 side features never change the answer's flow
        ({"promotions", "analytics", "feedback"}, Intent.RECOMMENDATION, Flow.PERSONALIZED_RECOMMENDATIONS, None),
        # Nothing down: the full flows
        (set(), Intent.ORDER_TRACKING, Flow.ORDER_STATUS, None),
        (set(), Intent.FAQ, Flow.FAQ_GENERATED, None),
        (set(), Intent.ESCALATION, Flow.ESCALATE, None),
    ],
)
def test_seed_matrix_rows(down: set[str], intent: Intent, flow: Flow, reason: str | None) -> None:
    decision = choose(intent, frozenset(down), signed_in=SIGNED)
    assert decision.flow is flow
    assert decision.degraded_reason == reason
    assert decision.degraded is (reason is not None)


def test_guests_are_asked_to_sign_in_for_personal_data_whatever_is_down() -> None:
    for down in (frozenset(), frozenset({"order_service"}), frozenset({"returns_service"})):
        assert choose(Intent.ORDER_TRACKING, down, signed_in=False).flow is Flow.SIGN_IN_FOR_ORDERS
        assert choose(Intent.RETURNS, down, signed_in=False).flow is Flow.RETURNS_GUIDE
        assert choose(Intent.GREETING, down, signed_in=False).flow is Flow.GREETING


def test_when_several_services_are_down_the_tier_one_loss_is_named_first() -> None:
    both = frozenset({"catalog", "recommendations"})
    assert choose(Intent.RECOMMENDATION, both, True).degraded_reason == "catalog_unavailable"
    assert choose(Intent.PRODUCT_INFO, frozenset({"catalog", "llm"}), True).degraded_reason == "catalog_unavailable"


# ---------------------------------------------------------------- properties over all 512 x 8 x 2


@pytest.mark.parametrize("signed_in", [True, False])
def test_chosen_row_never_needs_a_down_service(signed_in: bool) -> None:
    for down, intent in itertools.product(ALL_SUBSETS, Intent):
        decision = choose(intent, down, signed_in)
        assert not (decision.row.needs & down), (intent, sorted(down))
        assert signed_in or SIGNED_IN not in decision.row.needs


@pytest.mark.parametrize("signed_in", [True, False])
def test_degraded_exactly_when_an_outage_changed_the_flow(signed_in: bool) -> None:
    for intent in Intent:
        healthy = choose(intent, frozenset(), signed_in)
        assert not healthy.degraded
        for down in ALL_SUBSETS:
            decision = choose(intent, down, signed_in)
            changed = decision.flow is not healthy.flow
            side_only = decision.row.blame == ()  # e.g. a greeting without the profile: not announced
            assert decision.degraded is (changed and not side_only), (intent, sorted(down))
            if decision.degraded:
                blamed = decision.degraded_reason.removesuffix("_unavailable")
                assert blamed in down
                # The named service is one a better row needed: its loss is what changed the answer.
                better = rows_for(intent)[: rows_for(intent).index(decision.row)]
                assert any(blamed in row.needs for row in better)


def test_side_features_never_change_an_answer_outside_the_greeting() -> None:
    intents = [intent for intent in Intent if intent is not Intent.GREETING]
    for down, intent, signed_in in itertools.product(ALL_SUBSETS, intents, (True, False)):
        with_side = choose(intent, down | SIDE_FEATURES | {"user_profile"}, signed_in)
        without = choose(intent, down - SIDE_FEATURES - {"user_profile"}, signed_in)
        assert with_side == without


# ---------------------------------------------------------------- one client over its Bedrock budget


@pytest.mark.parametrize(
    ("intent", "flow"),
    [(Intent.FAQ, Flow.FAQ_CANNED), (Intent.OPEN_ENDED, Flow.CANT_HELP), (Intent.PRODUCT_INFO, Flow.PRODUCT_LIST)],
)
def test_a_client_over_its_budget_gets_the_template_row_as_rate_limited(intent: Intent, flow: Flow) -> None:
    for signed_in in (True, False):
        decision = choose(intent, frozenset({LLM_BUDGET}), signed_in)
        assert decision.flow is flow
        assert decision.degraded_reason == "rate_limited"


def test_an_outage_is_named_before_the_clients_own_budget() -> None:
    assert choose(Intent.FAQ, frozenset({"llm", LLM_BUDGET}), False).degraded_reason == "llm_unavailable"
    assert choose(Intent.PRODUCT_INFO, frozenset({"catalog", LLM_BUDGET}), True).degraded_reason == (
        "catalog_unavailable"
    )


def test_the_budget_changes_nothing_for_intents_that_never_call_bedrock() -> None:
    for intent in (Intent.ORDER_TRACKING, Intent.RETURNS, Intent.RECOMMENDATION, Intent.ESCALATION, Intent.GREETING):
        for down in ALL_SUBSETS:
            assert choose(intent, down | {LLM_BUDGET}, True) == choose(intent, down, True)
