"""Intent detection with the real FAQ index: FAQ-worded questions reach the FAQ, unrelated ones never do.

Measured on the FAQ's own evaluation sets, written independently of both the index and these rules.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mangaassist.chat.intents import Intent, detect_intent, detect_intent_with_faq
from mangaassist.faq.bundled import bundled_document
from mangaassist.faq.matcher import FaqIndex
from tests.unit.test_intents import EXAMPLES

DATA = Path(__file__).resolve().parents[1] / "data"
PERSONAL_OR_FAQ = {Intent.FAQ, Intent.RETURNS, Intent.ORDER_TRACKING}


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex.build(bundled_document())


@pytest.fixture(scope="module")
def entry_intents() -> dict[str, str]:
    return {entry.id: entry.intent for entry in bundled_document().entries}


def test_faq_paraphrases_get_their_entrys_intent(index: FaqIndex, entry_intents: dict[str, str]) -> None:
    items = json.loads((DATA / "faq_paraphrases.json").read_text(encoding="utf-8"))["items"]
    with_faq = sum(
        detect_intent_with_faq(item["text"], item["lang"], index).value == entry_intents[item["expected_id"]]
        for item in items
    )
    rules_only = sum(detect_intent(item["text"]).value == entry_intents[item["expected_id"]] for item in items)
    assert with_faq >= 0.72 * len(items), f"{with_faq}/{len(items)}"
    assert with_faq > rules_only + 0.2 * len(items), "the FAQ index must add real coverage over the rules"


def test_unrelated_questions_never_land_on_the_faq_or_personal_data(index: FaqIndex) -> None:
    items = json.loads((DATA / "faq_unrelated.json").read_text(encoding="utf-8"))["items"]
    landed = [
        item["text"] for item in items if detect_intent_with_faq(item["text"], item["lang"], index) in PERSONAL_OR_FAQ
    ]
    assert landed == []


@pytest.mark.parametrize(("intent", "message"), [(i, m) for i, ms in EXAMPLES.items() for m in ms])
def test_strong_rule_hits_are_not_overridden(index: FaqIndex, intent: Intent, message: str) -> None:
    lang = "ja" if any("\u3040" <= ch <= "\u9fff" for ch in message) else "en"
    assert detect_intent_with_faq(message, lang, index) is intent


def test_without_an_index_the_rules_decide() -> None:
    assert detect_intent_with_faq("Can I send my order to a new address?", "en", None) is Intent.ORDER_TRACKING
