"""Intent: the precise rules of ``chat.intents`` plus nearest-example scoring with the embedded encoder.

The example set (``intent_examples.json``, 60 hand-written messages per intent and language) is data, not
code; its vectors ship beside it (``intent_examples.vectors.npz``) so a cold start never embeds it. Per
intent, the score is the mean cosine of the message to its ``neighbours`` closest examples; the rules add
a little on top, enough to settle close calls ("返品" is returns even when the nearest examples disagree).

Two things never depend on the encoder:
- a request for a person (the escalation rules) wins over everything;
- without the encoder (a broken pack, a bug), the rules and the FAQ decide, exactly as before.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mangaassist.chat.intents import PRECEDENCE, Intent, detect_intent_with_faq, normalise, scores
from mangaassist.observability import logger
from mangaassist.understanding import vector_file

EXAMPLES_PATH = Path(__file__).with_name("intent_examples.json")
VECTORS_PATH = EXAMPLES_PATH.with_name("intent_examples.vectors.npz")


@dataclass(frozen=True)
class IntentSettings:
    neighbours: int = 3
    # Added per rule weight point (STRONG = 3 adds 0.03): rules break ties, the examples decide.
    rule_weight: float = 0.01
    # A message no example is this close to, and that no rule recognises, is open-ended.
    open_floor: float = 0.40


@dataclass(frozen=True)
class IntentDecision:
    intent: Intent
    scores: dict[str, float]  # per intent, combined; empty when the rules decided alone
    decided_by: str  # "escalation_rule", "examples", "floor", "rules"


def example_texts(raw: bytes) -> tuple[list[str], list[str]]:
    document = json.loads(raw)
    texts, labels = [], []
    for intent, by_lang in document["examples"].items():
        Intent(intent)  # an unknown intent in the data is a bug in the data: fail loudly at build time
        for examples in by_lang.values():
            texts.extend(examples)
            labels.extend([intent] * len(examples))
    return texts, labels


@dataclass(frozen=True)
class ExampleIndex:
    vectors: Any  # float32 (n, dims)
    labels: Any  # str (n,)

    @classmethod
    def from_files(cls, encoder: Any, examples: Path = EXAMPLES_PATH, vectors: Path = VECTORS_PATH) -> ExampleIndex:
        import numpy as np

        raw = examples.read_bytes()
        texts, labels = example_texts(raw)
        expected = vector_file.sha256_of(raw)
        try:
            stored = vector_file.load(vectors.read_bytes())
        except (OSError, ValueError, KeyError):
            stored = None
        if (
            stored is None
            or stored["source_sha256"] != expected
            or stored["encoder_id"] != encoder.encoder_id
            or len(stored["vectors"]) != len(texts)
        ):
            logger.warning("intent_example_vectors_stale", extra={"examples": len(texts)})
            return cls(np.asarray(encoder.encode(texts), dtype=np.float32), np.asarray(labels))
        return cls(stored["vectors"], np.asarray(labels))

    def scores(self, query: Any, neighbours: int) -> dict[str, float]:
        import numpy as np

        cosines = self.vectors @ query
        result = {}
        for intent in np.unique(self.labels):
            mine = cosines[self.labels == intent]
            k = min(neighbours, len(mine))
            result[str(intent)] = float(np.partition(mine, len(mine) - k)[-k:].mean())
        return result


def write_example_vectors(encoder: Any, examples: Path = EXAMPLES_PATH, target: Path = VECTORS_PATH) -> Path:
    raw = examples.read_bytes()
    texts, labels = example_texts(raw)
    target.write_bytes(
        vector_file.dump(encoder.encoder_id, vector_file.sha256_of(raw), encoder.encode(texts), labels=labels)
    )
    return target


# "#JP-483920", "112-3344556-7788990", "注文番号 250001234": an order number means the customer's own order.
ORDER_NUMBER = re.compile(
    r"(#\s?[a-z]{0,4}-?\d{4,}|\b\d{3}-\d{7}-\d{7}\b|\border\s*(no\.?|number|#)?\s*[a-z]{0,4}-?\d{5,}|注文番号)"
)


class IntentClassifier:
    def __init__(
        self,
        encoder: Callable[[], Any] | None,
        examples: Callable[[], ExampleIndex] | None,
        settings: IntentSettings | None = None,
    ):
        self._encoder = encoder
        self._examples = examples
        self.settings = settings or IntentSettings()

    def classify(self, text: str, lang: str, faq_index: Any | None = None) -> IntentDecision:
        rules = {str(intent): weight for intent, weight in scores(text).items()}
        if ORDER_NUMBER.search(normalise(text)):
            rules[str(Intent.ORDER_TRACKING)] = rules.get(str(Intent.ORDER_TRACKING), 0) + 3
        if rules.get(str(Intent.ESCALATION), 0) > 0:
            return IntentDecision(Intent.ESCALATION, {}, "escalation_rule")
        examples = self._example_scores(text)
        if examples is None:
            return IntentDecision(detect_intent_with_faq(text, lang, faq_index), {}, "rules")
        s = self.settings
        if max(examples.values()) < s.open_floor and not any(rules.values()):
            return IntentDecision(Intent.OPEN_ENDED, examples, "floor")
        combined = {intent: score + s.rule_weight * rules.get(intent, 0) for intent, score in examples.items()}
        order = {str(intent): no for no, intent in enumerate(PRECEDENCE)}
        winner = max(combined, key=lambda i: (combined[i], -order.get(i, len(order))))
        return IntentDecision(Intent(winner), combined, "examples")

    def _example_scores(self, text: str) -> dict[str, float] | None:
        if self._encoder is None or self._examples is None:
            return None
        try:
            query = self._encoder().encode_one(text)
            return self._examples().scores(query, self.settings.neighbours)
        except Exception:  # the encoder refines understanding; the rules must still answer without it
            logger.exception("intent_encoder_failed")
            self._encoder = None
            return None


@functools.cache
def shared_classifier() -> IntentClassifier:
    from mangaassist.understanding.encoder import shared_encoder

    return IntentClassifier(shared_encoder, functools.cache(lambda: ExampleIndex.from_files(shared_encoder())))
