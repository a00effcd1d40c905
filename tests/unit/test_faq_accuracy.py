"""How well the matcher answers real customer phrasings: the evaluation sets in tests/data/faq_*.

- faq_paraphrases.json: paraphrases written before the matcher, never copied from the index;
  top-1 must be >= 90% overall and per language.
- faq_paraphrases_holdout.json: written after the matcher's first settings were fixed, never tuned on.
- faq_paraphrases_holdout2.json: one question per entry and language, written before the
  generalisation pass and measured once after it, never tuned on.
- faq_unrelated.json: questions the FAQ must not answer; `best` must say no to >= 95% per language.
Each test prints its figures (`pytest -s tests/unit/test_faq_accuracy.py`).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mangaassist.faq.bundled import bundled_document
from mangaassist.faq.matcher import FaqIndex, canonical

DATA = Path(__file__).resolve().parent.parent / "data"


def load(name: str) -> list[dict]:
    return json.loads((DATA / name).read_text(encoding="utf-8"))["items"]


PARAPHRASES = load("faq_paraphrases.json")
HOLDOUT = load("faq_paraphrases_holdout.json")
HOLDOUT2 = load("faq_paraphrases_holdout2.json")
UNRELATED = load("faq_unrelated.json")
OFFTOPIC_DEV = load("faq_offtopic_dev.json")


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex.build(bundled_document(), eager=True)


def squashed(text: str) -> str:
    return re.sub(r"[\W_]+", "", canonical(text))


def top1(index: FaqIndex, items: list[dict], lang: str) -> tuple[int, int, list[str]]:
    chosen = [i for i in items if i["lang"] == lang]
    misses = []
    for item in chosen:
        match = index.match(item["text"], lang, 1)
        if not match or match[0].entry_id != item["expected_id"]:
            misses.append(
                f"{item['text']!r}: expected {item['expected_id']}, got {match[0].entry_id if match else None}"
            )
    return len(chosen) - len(misses), len(chosen), misses


def answered(index: FaqIndex, items: list[dict], lang: str) -> tuple[float, float]:
    """Shares of `best` answering right and answering wrong (the rest: no answer)."""
    chosen = [i for i in items if i["lang"] == lang]
    results = [index.best(i["text"], lang) for i in chosen]
    right = sum(1 for i, m in zip(chosen, results, strict=True) if m and m.entry_id == i["expected_id"])
    wrong = sum(1 for i, m in zip(chosen, results, strict=True) if m and m.entry_id != i["expected_id"])
    return right / len(chosen), wrong / len(chosen)


# ----------------------------------------------------------------------------- the sets themselves


def test_paraphrase_set_is_large_bilingual_and_labelled():
    ids = {e.id for e in bundled_document().entries}
    assert len(PARAPHRASES) >= 160
    assert sum(p["lang"] == "en" for p in PARAPHRASES) >= 80
    assert sum(p["lang"] == "ja" for p in PARAPHRASES) >= 80
    for item in PARAPHRASES + HOLDOUT + HOLDOUT2:
        assert item["expected_id"] in ids, item


def test_second_holdout_asks_about_every_entry_in_both_languages():
    ids = {e.id for e in bundled_document().entries}
    for lang in ("en", "ja"):
        assert {i["expected_id"] for i in HOLDOUT2 if i["lang"] == lang} == ids, lang


def test_no_test_question_is_one_of_the_index_variants():
    variants = {squashed(q) for e in bundled_document().entries for lang in ("en", "ja") for q in e.questions[lang]}
    for item in PARAPHRASES + HOLDOUT + HOLDOUT2 + UNRELATED + OFFTOPIC_DEV:
        assert squashed(item["text"]) not in variants, item["text"]


def test_evaluation_and_development_sets_do_not_overlap():
    evaluation = [squashed(i["text"]) for i in PARAPHRASES + HOLDOUT + HOLDOUT2 + UNRELATED]
    assert len(set(evaluation)) == len(evaluation)  # no question counted twice
    assert not set(evaluation) & {squashed(i["text"]) for i in OFFTOPIC_DEV}
    assert len(UNRELATED) >= 40
    assert {i["lang"] for i in UNRELATED} == {"en", "ja"}


# ----------------------------------------------------------------------------- the figures


# Top-1 floors per set and language. Paraphrases: the goal, 90 % (per language, hence overall too). The hold-out
# sets: the figures measured after the generalisation pass, rounded down (docs/faq.md).
TOP1_FLOORS = {
    "paraphrases": (PARAPHRASES, {"en": 0.90, "ja": 0.90}),
    "holdout": (HOLDOUT, {"en": 0.88, "ja": 0.95}),
    "holdout2": (HOLDOUT2, {"en": 0.83, "ja": 0.89}),
}


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("name", list(TOP1_FLOORS))
def test_top1_accuracy_meets_its_floor(index, name, lang):
    items, floor = TOP1_FLOORS[name]
    hits, count, misses = top1(index, items, lang)
    right, wrong = answered(index, items, lang)
    print(
        f"\n{name} {lang}: top-1 {hits}/{count} = {hits / count:.1%}; "
        f"best(): right {right:.1%}, wrong {wrong:.1%}, no answer {1 - right - wrong:.1%}"
    )
    print("  misses:\n  " + "\n  ".join(misses))
    assert hits / count >= floor[lang]


def test_unrelated_questions_get_no_answer(index):
    for lang in ("en", "ja"):
        chosen = [u for u in UNRELATED if u["lang"] == lang]
        answered_anyway = [
            (u["text"], index.best(u["text"], lang).entry_id) for u in chosen if index.best(u["text"], lang)
        ]
        declined = len(chosen) - len(answered_anyway)
        share = declined / len(chosen)
        print(f"\nunrelated {lang}: no answer for {declined}/{len(chosen)} = {share:.1%}; answered: {answered_anyway}")
        assert share >= 0.95, answered_anyway


def test_thresholds_hold_their_calibration_target_on_the_development_set(index):
    # The thresholds were set so at most 1 in 40 off-topic development questions per language gets
    # through (python -m mangaassist.faq.calibration); this fails when a change moves them off it.
    for lang in ("en", "ja"):
        chosen = [o for o in OFFTOPIC_DEV if o["lang"] == lang]
        through = [o["text"] for o in chosen if index.best(o["text"], lang)]
        assert len(through) <= max(1, int(0.025 * len(chosen))), through
