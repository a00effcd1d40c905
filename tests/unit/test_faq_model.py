"""The FAQ document's schema and the bundled content: every entry well-formed, bilingual and honest."""

from __future__ import annotations

import json
import re

import pytest
from pydantic import ValidationError

from mangaassist.faq.bundled import BUNDLED_PATH, bundled_document
from mangaassist.faq.model import FaqDocument, FaqEntry

RAW = json.loads(BUNDLED_PATH.read_text(encoding="utf-8"))


def entry(**overrides) -> dict:
    base = {
        "id": "sample-entry",
        "category": "shipping",
        "intent": "faq",
        "questions": {
            "en": ["How long does shipping take?", "When will it arrive?", "Delivery time?"],
            "ja": ["何日で届きますか？", "いつ届きますか？", "配送日数を教えてください。"],
        },
        "answer": {"en": "Orders usually arrive within three days.", "ja": "通常3日以内にお届けします。"},
        "links": [{"label_en": "Shipping", "label_ja": "配送", "url": "https://www.amazon.co.jp/gp/help/x"}],
    }
    base.update(overrides)
    return base


def test_bundled_document_validates_with_enough_entries():
    document = bundled_document()
    assert len(document.entries) >= 110
    assert len({e.id for e in document.entries}) == len(document.entries)


def test_bundled_document_covers_the_store_topics():
    categories = {e.category for e in bundled_document().entries}
    for topic in ("shipping", "payment", "editions", "app", "preorders", "series", "limited_editions", "bonuses"):
        assert topic in categories
    for topic in ("returns", "damaged", "exchanges", "cancellations", "account", "points", "coupons", "gifts"):
        assert topic in categories
    for topic in ("international", "receipts", "age_restricted", "stock"):
        assert topic in categories


def test_every_intent_is_one_the_chat_knows_and_most_are_faq():
    intents = [e.intent for e in bundled_document().entries]
    assert set(intents) <= {"faq", "returns", "order_tracking"}
    assert intents.count("faq") > len(intents) / 2
    assert intents.count("returns") > 0
    assert intents.count("order_tracking") > 0


def test_answers_state_general_policy_never_a_customers_data():
    order_id = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
    specific_date = re.compile(r"\b20\d\d[-/]\d{1,2}[-/]\d{1,2}\b|\d{1,2}月\d{1,2}日|(January|March|April) \d{1,2}")
    for e in bundled_document().entries:
        for text in (e.answer.en, e.answer.ja):
            assert not order_id.search(text), e.id
            assert not specific_date.search(text), e.id
        assert "your order #" not in e.answer.en.lower()


def test_japanese_answers_are_polite_desu_masu():
    polite_ending = ("ます", "です", "ません", "ください", "ございます")
    for e in bundled_document().entries:
        # A closing aside "（...）" may follow the sentence's own ending.
        sentences = [re.sub(r"（[^（）]*）$", "", s.strip()) for s in e.answer.ja.split("。") if s.strip()]
        # "はい。" / "いいえ。" open an answer; every real sentence ends in です/ます form.
        plain = [s for s in sentences if s not in ("はい", "いいえ") and not s.endswith(polite_ending)]
        assert not plain, (e.id, plain)


def test_links_point_at_the_help_centre_over_https():
    for e in bundled_document().entries:
        assert e.links, e.id
        for link in e.links:
            assert link.url.startswith("https://www.amazon.co.jp/"), link.url
            assert link.label == {"en": link.label_en, "ja": link.label_ja}


def test_localized_fields_read_like_mappings():
    e = FaqEntry.model_validate(entry())
    assert e.answer.get("ja") == e.answer.ja == e.answer["ja"]
    assert e.questions.get("en") == e.questions.en
    assert e.answer.get("fr") is None
    with pytest.raises(KeyError):
        _ = e.answer["fr"]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"id": "Not A Slug"}, "id"),
        ({"intent": "refund_now"}, "intent"),
        ({"questions": {"en": ["One?", "Two?"], "ja": ["一つ？", "二つ？", "三つ？"]}}, "at least 3"),
        ({"questions": {"en": ["Same?", "same?", "Other?"], "ja": ["一つ？", "二つ？", "三つ？"]}}, "duplicate"),
        (
            {"answer": {"en": "Orders usually arrive within three days.", "ja": "Orders arrive soon, within days."}},
            "ja",
        ),
        ({"answer": {"en": "通常3日以内にお届けします。ご安心ください。", "ja": "通常3日以内にお届けします。"}}, "en"),
        (
            {"answer": {"en": "Your order {order_id} arrives on time.", "ja": "通常3日以内にお届けします。"}},
            "placeholder",
        ),
        ({"links": [{"label_en": "x", "label_ja": "x", "url": "http://example.com/x"}]}, "url"),
        ({"links": [{"label_en": "x", "label_ja": "x", "url": "javascript:alert(1)"}]}, "url"),
    ],
)
def test_invalid_entries_are_rejected(overrides, message):
    with pytest.raises(ValidationError) as err:
        FaqEntry.model_validate(entry(**overrides))
    assert message in str(err.value)


def test_document_rejects_duplicate_ids_and_unknown_fields():
    with pytest.raises(ValidationError, match="duplicate entry ids: sample-entry"):
        FaqDocument.model_validate({"version": "1", "entries": [entry(), entry()]})
    with pytest.raises(ValidationError):
        FaqDocument.model_validate({"version": "1", "entries": [entry(extra_field=1)]})
    with pytest.raises(ValidationError):
        FaqDocument.model_validate({"version": "1", "entries": []})


def test_document_round_trips_through_json():
    document = FaqDocument.model_validate(RAW)
    again = FaqDocument.model_validate_json(document.model_dump_json())
    assert again == document
    assert again.entry("shipping-fee") is not None
    assert again.entry("no-such-entry") is None
