"""The understanding step of one message: language, intent, and what the FAQ offers for it.

Runs entirely in-process (rules, the embedded encoder, the lexical and dense FAQ indexes), so the answer
to "what did the customer ask" is the same whether Bedrock is up or down.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mangaassist.chat.intents import Intent
from mangaassist.faq.hybrid import Retrieval


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    decided_by: str
    retrieval: Retrieval | None  # None when no FAQ index is loaded


def understand(text: str, lang: str, classifier: Any, faq_index: Any | None) -> Understanding:
    decision = classifier.classify(text, lang, faq_index)
    retrieval = faq_index.retrieve(text, lang) if faq_index is not None and hasattr(faq_index, "retrieve") else None
    return Understanding(decision.intent, decision.decided_by, retrieval)
