"""Calibrates the matcher's no-match thresholds on development data, never on the evaluation sets.

Three kinds of question, all from development material:
- answerable: each question variant of the FAQ held out in turn (k-fold) and asked of an index
  built without it;
- uncovered: every variant of an entry asked of an index built without that entry (a store
  question the FAQ has no answer for: the nearest neighbour is a plausible but wrong answer);
- off-topic: a development list of questions about other things (weather, coding, other shops).
The threshold per language is the lowest that lets through at most `accept` of the off-topic
questions; the figures for the other two kinds show what that costs and what it still lets by.

    python -m mangaassist.faq.calibration --offtopic tests/data/faq_offtopic_dev.json --accept 0.025
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, field
from pathlib import Path

from mangaassist.faq.bundled import bundled_document
from mangaassist.faq.matcher import FaqIndex, FaqMatch, MatcherSettings
from mangaassist.faq.model import LANGUAGES, FaqDocument, FaqEntry
from mangaassist.language import Language


@dataclass
class Calibration:
    lang: Language
    heldout_total: int = 0
    heldout_correct: int = 0
    answerable: list[float] = field(default_factory=list)  # decision scores of correct held-out matches
    uncovered: list[float] = field(default_factory=list)  # decision scores of left-out entries' variants
    offtopic: list[float] = field(default_factory=list)  # decision scores of off-topic questions

    @property
    def heldout_accuracy(self) -> float:
        return self.heldout_correct / max(self.heldout_total, 1)

    def threshold_for(self, accept: float) -> float:
        """Lowest threshold that lets through at most `accept` of the off-topic questions."""
        ranked = sorted(self.offtopic, reverse=True)
        if not ranked:
            return 0.0
        allowed = int(len(ranked) * accept)
        return round(ranked[min(allowed, len(ranked) - 1)] + 1e-3, 3)

    @staticmethod
    def share_at_or_above(scores: list[float], threshold: float) -> float:
        return sum(s >= threshold for s in scores) / max(len(scores), 1)


def _decision(index: FaqIndex, match: list[FaqMatch]) -> float:
    """The score `best` compares to the threshold, or 0 when the evidence rule already says no."""
    if not match or match[0].evidence < index.settings.min_evidence:
        return 0.0
    return match[0].score


def _without_variants(entries: list[FaqEntry], lang: Language, fold: int, folds: int):
    """Entries with every `folds`-th variant of `lang` removed (two kept), and the removed ones."""
    kept_entries, removed = [], []
    for entry in entries:
        variants = entry.questions[lang]
        drop = [i for i in range(len(variants)) if i % folds == fold][: max(len(variants) - 2, 0)]
        removed.extend((entry.id, variants[i]) for i in drop)
        questions = entry.questions.model_copy(update={lang: [v for i, v in enumerate(variants) if i not in drop]})
        kept_entries.append(entry.model_copy(update={"questions": questions}))
    return kept_entries, removed


def calibrate(
    document: FaqDocument,
    settings: MatcherSettings | None = None,
    offtopic: list[dict] | None = None,
    folds: int = 3,
    entry_step: int = 1,
) -> dict[Language, Calibration]:
    settings = settings or MatcherSettings()
    entries = list(document.entries)
    result = {lang: Calibration(lang) for lang in LANGUAGES}
    for lang, cal in result.items():
        for fold in range(folds):
            kept, removed = _without_variants(entries, lang, fold, folds)
            index = FaqIndex(document.model_copy(update={"entries": kept}), settings)
            for expected, question in removed:
                top = index.match(question, lang, 1)
                cal.heldout_total += 1
                if top and top[0].entry.id == expected:
                    cal.heldout_correct += 1
                    cal.answerable.append(_decision(index, top))
        for i in range(0, len(entries), entry_step):
            rest = entries[:i] + entries[i + 1 :]
            index = FaqIndex(document.model_copy(update={"entries": rest}), settings)
            cal.uncovered.extend(_decision(index, index.match(q, lang, 1)) for q in entries[i].questions[lang])
    full = FaqIndex(document, settings)
    for item in offtopic or ():
        result[item["lang"]].offtopic.append(_decision(full, full.match(item["text"], item["lang"], 1)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Calibrate the FAQ matcher's no-match thresholds.")
    parser.add_argument(
        "--offtopic", type=Path, required=True, help="JSON {items: [{lang, text}]} of off-topic dev questions"
    )
    parser.add_argument("--accept", type=float, default=0.025, help="share of off-topic questions let through")
    parser.add_argument("--entry-step", type=int, default=1, help="leave out every n-th entry only (faster)")
    args = parser.parse_args()
    settings = MatcherSettings()
    offtopic = json.loads(args.offtopic.read_text(encoding="utf-8"))["items"]
    for lang, cal in calibrate(bundled_document(), settings, offtopic, entry_step=args.entry_step).items():
        suggested = cal.threshold_for(args.accept)
        configured = settings.threshold[lang]
        print(
            f"{lang}: held-out variants top-1 {cal.heldout_accuracy:.1%} ({cal.heldout_correct}/{cal.heldout_total}); "
            f"suggested threshold {suggested} (configured {configured}); at the configured threshold: "
            f"answerable kept {cal.share_at_or_above(cal.answerable, configured):.1%}, "
            f"uncovered let through {cal.share_at_or_above(cal.uncovered, configured):.1%}, "
            f"off-topic let through {cal.share_at_or_above(cal.offtopic, configured):.1%} of {len(cal.offtopic)}"
        )


if __name__ == "__main__":
    main()
