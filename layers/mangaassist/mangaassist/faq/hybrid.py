"""Hybrid FAQ retrieval: the lexical matcher's score fused with the sentence encoder's cosine, in three bands.

- answer: the top entry is confidently the one (fused score over the answer band and clear of the runner-up);
- suggest: something is close but not certain: "Did you mean...?" with up to three entries;
- decline: nothing is close: the honest "I can't help with that", as before.

Neither channel is trusted alone: on independent questions the encoder alone ranks the right entry first
less often than the fusion does, and the lexical matcher alone declines too much (docs/faq.md has the
figures). The bands are calibrated per language on the development set (`make calibrate-faq`), never on
the hold-out. If the encoder cannot be loaded, the lexical matcher answers alone, exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from mangaassist.faq.matcher import FaqIndex, FaqMatch, confidence_at
from mangaassist.faq.model import LANGUAGES, FaqDocument, FaqEntry
from mangaassist.faq.vectors import FaqVectors
from mangaassist.language import Language, detect_language
from mangaassist.observability import logger

Outcome = Literal["answer", "suggest", "decline"]
OUTCOMES: tuple[Outcome, ...] = ("answer", "suggest", "decline")
SUGGESTIONS = 3


@dataclass(frozen=True)
class HybridSettings:
    # The fused score is lexical_weight x lexical decision score + (1 - lexical_weight) x dense score.
    lexical_weight: float = 0.6
    # The dense score: cosine to the closest question variant, plus this share of the cosine to the answer.
    answer_weight: float = 0.2
    # Cosines of unrelated sentences sit well above zero with this encoder: rescale so `dense_floor` is 0.
    dense_floor: float = 0.3
    # Bands per language, on the fused score.
    answer_band: dict[str, float] = field(default_factory=lambda: {"en": 0.47, "ja": 0.50})
    suggest_band: dict[str, float] = field(default_factory=lambda: {"en": 0.33, "ja": 0.35})
    # A confident answer also needs this lead over the runner-up; otherwise it is a close call.
    margin: dict[str, float] = field(default_factory=lambda: {"en": 0.03, "ja": 0.06})
    # ... or, a little lower, a clear lead: one entry far ahead of every other is not a close call.
    lead_band: dict[str, float] = field(default_factory=lambda: {"en": 0.38, "ja": 0.40})
    lead_margin: dict[str, float] = field(default_factory=lambda: {"en": 0.12, "ja": 0.15})
    # Entries considered: the best of each channel.
    candidates: int = 8


@dataclass(frozen=True)
class HybridMatch:
    entry: FaqEntry
    score: float  # fused, 0..1
    lexical: float
    dense: float
    confidence: float  # the score rescaled so the answer band sits at 0.5
    evidence: int = 0

    @property
    def entry_id(self) -> str:
        return self.entry.id


@dataclass(frozen=True)
class Retrieval:
    outcome: Outcome
    ranked: list[HybridMatch]

    @property
    def best(self) -> HybridMatch | None:
        return self.ranked[0] if self.outcome == "answer" and self.ranked else None

    @property
    def suggestions(self) -> list[HybridMatch]:
        return self.ranked[:SUGGESTIONS] if self.outcome == "suggest" else []


class HybridFaqIndex:
    """The lexical index plus the document's vectors and the encoder; answers ``retrieve``, ``best``, ``top``."""

    def __init__(
        self,
        lexical: FaqIndex,
        vectors: FaqVectors | None,
        encoder: Callable[[], Any] | None,
        settings: HybridSettings | None = None,
        document_sha256: str | None = None,
    ):
        """``vectors`` None (missing or stale) with a ``document_sha256``: embedded here on first use, once."""
        self.lexical = lexical
        self.document: FaqDocument = lexical.document
        self.settings = settings or HybridSettings()
        self._vectors = vectors
        self._document_sha256 = document_sha256
        self._embedding: threading.Thread | None = None
        self.vectors_ready = threading.Event()
        if vectors is not None:
            self.vectors_ready.set()
        self._encoder = encoder
        self._entries = list(lexical.document.entries)
        self._numbers = {e.id: no for no, e in enumerate(self._entries)}
        self._cache: dict[tuple[str, str], Retrieval] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def dense_available(self) -> bool:
        """Both channels can score: the encoder loads and the document's vectors are at hand."""
        if self._encoder is None:
            return False
        if self._vectors is None and self._document_sha256 is not None:
            self._embed_in_background()
        return self._vectors is not None

    def _embed_in_background(self) -> None:
        """Missing or stale vectors are computed once, off the request path: embedding the whole document takes
        seconds, more than a request's budget, and until it is done the lexical matcher answers alone."""
        with self._lock:
            if self._embedding is not None:
                return
            self._embedding = threading.Thread(target=self._embed, name="faq-vectors", daemon=True)
        logger.warning(
            "faq_vectors_stale", extra={"entries": len(self._entries), "document_sha256": self._document_sha256}
        )
        self._embedding.start()

    def _embed(self) -> None:
        from mangaassist.faq.vectors import embed_document

        try:
            self._vectors = embed_document(self.document, self._document_sha256 or "", self._encoder())
            self._cache.clear()  # what was decided without the vectors is decided again with them
        except Exception:
            logger.exception("faq_vectors_embedding_failed")
        finally:
            self.vectors_ready.set()

    def _dense_scores(self, text: str) -> Any | None:
        """Per entry: the rescaled dense score, or None when the encoder is unavailable."""
        if not self.dense_available:
            return None
        try:
            import numpy as np

            query = self._encoder().encode_one(text)
            v = self._vectors
        except Exception:  # the encoder is an optimisation of understanding, never a reason to fail it
            logger.exception("faq_encoder_failed")
            self._encoder = None
            return None
        cosines = v.vectors @ query
        n = len(self._entries)
        best_question = np.full(n, -1.0, dtype=np.float32)
        best_answer = np.full(n, -1.0, dtype=np.float32)
        q = ~v.is_answer
        np.maximum.at(best_question, v.entry_nos[q], cosines[q])
        np.maximum.at(best_answer, v.entry_nos[v.is_answer], cosines[v.is_answer])
        s = self.settings
        raw = (1 - s.answer_weight) * best_question + s.answer_weight * np.maximum(best_answer, 0.0)
        return np.clip((raw - s.dense_floor) / (1.0 - s.dense_floor), 0.0, 1.0)

    def rank(self, text: str, lang: Language | None = None, top_k: int = 5) -> list[HybridMatch]:
        text = text or ""
        lang = lang if lang in LANGUAGES else detect_language(text)
        s = self.settings
        # Every entry sharing a term with the question (the rest score 0): cheap at a few hundred entries.
        lexical = {m.entry.id: m for m in self.lexical.match(text, lang, top_k=len(self._entries))}
        dense = self._dense_scores(text)
        if dense is None:  # lexical only: its own decision score, its own calibrated threshold as the band
            return [self._from_lexical(m, lang) for m in lexical.values()][:top_k]
        candidates = {m.entry.id for m in list(lexical.values())[: s.candidates]}
        for no in dense.argsort()[::-1][: s.candidates]:
            candidates.add(self._entries[int(no)].id)
        matches = []
        for entry_id in candidates:
            no = self._numbers[entry_id]
            lex = lexical.get(entry_id)
            lex_score = lex.score if lex else 0.0
            fused = s.lexical_weight * lex_score + (1 - s.lexical_weight) * float(dense[no])
            matches.append(
                HybridMatch(
                    entry=self._entries[no],
                    score=round(fused, 4),
                    lexical=round(lex_score, 4),
                    dense=round(float(dense[no]), 4),
                    confidence=confidence_at(fused, s.answer_band[lang]),
                    evidence=lex.evidence if lex else 0,
                )
            )
        matches.sort(key=lambda m: (-m.score, m.entry.id))
        return matches[:top_k]

    def _from_lexical(self, match: FaqMatch, lang: str) -> HybridMatch:
        return HybridMatch(
            entry=match.entry,
            score=match.score,
            lexical=match.score,
            dense=0.0,
            confidence=match.confidence,
            evidence=match.evidence,
        )

    def retrieve(self, text: str, lang: Language | None = None) -> Retrieval:
        """Answer, suggest or decline, with the ranked candidates (at most five) that decided it."""
        lang = lang if lang in LANGUAGES else detect_language(text or "")
        key = (lang, text or "")
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ranked = self.rank(text, lang, top_k=5)
        outcome = self._outcome(ranked, lang)
        retrieval = Retrieval(outcome, ranked)
        with self._lock:
            if len(self._cache) > 256:  # one request asks several times; the cache is not a store
                self._cache.clear()
            self._cache[key] = retrieval
        return retrieval

    def _outcome(self, ranked: list[HybridMatch], lang: str) -> Outcome:
        if not ranked:
            return "decline"
        top = ranked[0]
        if not self.dense_available:
            return "answer" if self.lexical.confident(_as_lexical(top), lang) else "decline"
        s = self.settings
        runner_up = ranked[1].score if len(ranked) > 1 else 0.0
        lead = top.score - runner_up
        if top.score >= s.answer_band[lang] and lead >= s.margin[lang]:
            return "answer"
        if top.score >= s.lead_band[lang] and lead >= s.lead_margin[lang]:
            return "answer"
        if top.score >= s.suggest_band[lang]:
            return "suggest"
        return "decline"

    # ------------------------------------------------------------ the lexical index's interface

    def best(self, text: str, lang: Language | None = None) -> HybridMatch | None:
        return self.retrieve(text, lang).best

    def top(self, text: str, lang: Language | None = None, limit: int = 3) -> list[HybridMatch]:
        """Grounding for the LLM: up to ``limit`` entries at least as close as a suggestion, best first."""
        lang = lang if lang in LANGUAGES else detect_language(text or "")
        retrieval = self.retrieve(text, lang)
        if not self.dense_available:
            return [m for m in retrieval.ranked[:limit] if self.lexical.confident(_as_lexical(m), lang)]
        band = self.settings.suggest_band[lang]
        return [m for m in retrieval.ranked[:limit] if m.score >= band]


def _as_lexical(match: HybridMatch) -> FaqMatch:
    return FaqMatch(entry=match.entry, score=match.score, confidence=match.confidence, evidence=match.evidence)
