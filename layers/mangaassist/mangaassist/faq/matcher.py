"""Lexical FAQ matching that needs no network: TF-IDF over question variants, answers and concepts.

Every entry is scored in two channels and the two are blended:
- words: English stemmed words without stopwords (misspellings corrected against the FAQ's own
  vocabulary); Japanese character n-grams taken within runs of one script (kanji, katakana,
  hiragana), so no n-gram glues a noun to the particle after it;
- concepts: the store's vocabulary (lexicon.py) joining the many ways customers name one thing,
  pooled across both languages of an entry.
Within a channel an entry's score mixes cosine similarity (closest variant, all variants, answer)
with coverage (how much of the question the entry explains). A confident answer (`best`) also
needs a score above the calibrated threshold and at least one store topic in common; questions
about things the FAQ never mentions, or mostly about another entry's topics, are marked down.
Everything runs in-process, so the FAQ still answers when the LLM and its embeddings are the thing
that is down.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from mangaassist.faq.english import Spelling, lemma, surface
from mangaassist.faq.lexicon import CONCEPT_PREFIX, CONCEPTS, GENERIC_CONCEPTS, ConceptTagger
from mangaassist.faq.model import LANGUAGES, FaqDocument, FaqEntry
from mangaassist.language import Language, detect_language


def canonical(text: str) -> str:
    """NFKC and lower case: full-width letters, half-width katakana and case stop mattering."""
    return unicodedata.normalize("NFKC", text).lower()


# ----------------------------------------------------------------------------- English words

_STOPWORD_TEXT = """a about above after again all am an and any are as at be been before being below between both but by
    can could did do does doing down during each few for from further had has have having he her here hers
    him his how i if in into is it its itself me more most my myself no nor not now of off on once only
    or other our ours out over own same she should so some such than that the their them then there these
    they this those through to too under until up very was we were what when where which while who whom why
    will with would you your yours yourself hi hello please pls plz thanks thank u ur ok okay hey lol
    also just still really get got want wanna need
    im ive id youre thats theres whats wheres hows whos dont cant wont didnt doesnt isnt wasnt arent
    havent wouldnt couldnt shouldnt ca wo
    make made know let say said tell go going goes went look like thing things something anything everything
    someone anyone"""
STOPWORDS = frozenset(_STOPWORD_TEXT.split())

# Words joined in the word channel only: the concept channel already knows an e-book is digital.
EN_SPELLINGS: dict[str, str] = {"ebook": "digital", "ebooks": "digital"}


def _english_terms(text: str) -> list[str]:
    return [lemma(EN_SPELLINGS.get(w, w)) for w in surface(text) if w not in STOPWORDS]


# ----------------------------------------------------------------------------- Japanese n-grams

_CJK = r"\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆ー"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_SCRIPT_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff々〆]+|[\u30a0-\u30ffー]+|[\u3040-\u309f]+")
_HIRAGANA_ONLY = re.compile(r"^[\u3040-\u309fー]+$")


def _japanese_terms(text: str) -> list[str]:
    """Character n-grams within runs of one script. Kanji compounds and katakana loanwords carry the
    meaning, hiragana runs are mostly particles and endings; an n-gram spanning two scripts ("方を",
    "を教") would make "猫の飼い方を教えて" look like "アカウントの作り方を教えて". Katakana is not
    folded into hiragana: folded, "タイ" (Thailand) is every "〜したい"."""
    found: list[str] = []
    for run in _SCRIPT_RUN.findall(text):
        first = run[0]
        if "\u3040" <= first <= "\u309f":  # hiragana: bigrams, weighted down later
            found.extend([run] if len(run) == 1 else (run[i : i + 2] for i in range(len(run) - 1)))
        elif "\u30a0" <= first <= "\u30ff" or first == "ー":  # katakana: bi- and tri-grams
            if len(run) <= 2:
                found.append(run)
            else:
                found.extend(run[i : i + 2] for i in range(len(run) - 1))
                found.extend(run[i : i + 3] for i in range(len(run) - 2))
        else:  # kanji: single characters and bigrams (a kanji alone often is a word: 箱, 本, 届)
            found.extend(run)
            found.extend(run[i : i + 2] for i in range(len(run) - 1))
    # Latin words inside Japanese text ("PayPay", "Android", "Kindle") carry meaning of their own.
    found.extend(_english_terms(_CJK_RUN.sub(" ", text)))
    return found


@functools.cache
def concept_tagger() -> ConceptTagger:
    """Built on first use (a few milliseconds), so importing the matcher stays cheap."""
    return ConceptTagger(CONCEPTS, canonical)


def terms(text: str, lang: Language, concepts: bool = True, spelling: Spelling | None = None) -> list[str]:
    """The features a text is compared by, in the given language: words or n-grams, plus concepts."""
    plain = canonical(text)
    if lang == "ja":
        found = _japanese_terms(plain)
        return found + concept_tagger().japanese(plain) if concepts else found
    if spelling is not None:
        plain = spelling.fix(plain)
    found = _english_terms(plain)
    return found + concept_tagger().english(plain) if concepts else found


# ----------------------------------------------------------------------------- settings


@dataclass(frozen=True)
class MatcherSettings:
    """How scores are made. The defaults were chosen as docs/faq.md describes; `threshold` comes from
    `python -m mangaassist.faq.calibration`, which sets it on development data, not on the test sets."""

    # Within a channel: cosine to the closest variant, to all variants together, to the answer.
    variant_weight: float = 0.4
    entry_weight: float = 0.3
    answer_weight: float = 0.3
    # ... mixed with coverage: the share of the question's weight the entry explains, a term found
    # only in the entry's answer earning answer_credit.
    coverage_share: float = 0.5
    answer_credit: float = 0.5
    # The concepts' share of the final score, per language (Japanese words are the noisier channel).
    concept_share: dict[str, float] = field(default_factory=lambda: {"en": 0.7, "ja": 0.5})
    # Concepts are language-neutral: an entry's concept profile pools both languages' variants and answers.
    pool_concepts: bool = True
    # Japanese n-grams made only of hiragana (particles, endings) count this much.
    hiragana_weight: float = 0.35
    # A query word no entry uses still weighs in the query's length, at this share of the rarest
    # known word: a question about something else does not match on its one familiar word.
    unknown_weight: float = 0.5
    # Document frequency from questions only: answers repeat the store's vocabulary everywhere.
    answers_in_idf: bool = False
    # Correct English words the FAQ never uses to one it does, one edit away.
    spelling: bool = True
    # The decision score is the final score times (1 - unknown share) ** unknown_penalty, the unknown
    # share being the part of the question's content that no entry mentions (elections, curry recipes).
    unknown_penalty: float = 1.0
    # ... and times (1 - unexplained_penalty x the share of its content the FAQ knows but the entry
    # does not mention): one store word in a question about something else is not a match.
    unexplained_penalty: dict[str, float] = field(default_factory=lambda: {"en": 0.3, "ja": 0.0})
    # `best` also needs this many store topics (non-generic concepts) in common with the entry.
    min_evidence: int = 1
    # Below these decision scores `best` says "no match" (calibrated: docs/faq.md).
    threshold: dict[str, float] = field(default_factory=lambda: {"en": 0.529, "ja": 0.511})


# ----------------------------------------------------------------------------- the index


@dataclass(frozen=True)
class FaqMatch:
    entry: FaqEntry
    score: float  # decision score, 0..1: blended similarity marked down for unknown content
    confidence: float  # the score rescaled so the no-match threshold sits at 0.5; 0..1
    evidence: int = 0  # store topics the question and the entry have in common

    @property
    def entry_id(self) -> str:
        return self.entry.id


def _normalized(vector: dict[str, float]) -> dict[str, float]:
    norm = math.sqrt(math.fsum(w * w for w in vector.values()))
    if not norm:
        return {}
    scale = 1.0 / norm
    return {t: w * scale for t, w in vector.items()}


class _Channel:
    """TF-IDF vectors of one kind of feature over variants, whole entries and answers, inverted."""

    def __init__(
        self,
        variant_counts: list[list[Counter[str]]],
        answer_counts: list[Counter[str]],
        settings: MatcherSettings,
        term_weight: Callable[[str], float],
    ):
        self.settings = settings
        self.term_weight = term_weight
        entry_counts = []
        for per_entry in variant_counts:
            together: Counter[str] = Counter()
            for counts in per_entry:
                together.update(counts)
            entry_counts.append(together)
        df: Counter[str] = Counter()
        for questions, answer in zip(entry_counts, answer_counts, strict=True):
            df.update(questions.keys() | answer.keys() if settings.answers_in_idf else questions.keys())
        n = len(entry_counts)
        self.unknown_idf = math.log(n + 1) + 1.0
        self.idf = {t: math.log((n + 1) / (c + 1)) + 1.0 for t, c in df.items()}
        for answer in answer_counts:
            for term in answer.keys() - self.idf.keys():
                self.idf[term] = self.unknown_idf  # only in answers: as rare as a term can be
        # idf x the term's own weight, once per term: every vector below is built from it.
        self._weights = {t: term_weight(t) for t in self.idf}
        self._weighted_idf = {t: idf * self._weights[t] for t, idf in self.idf.items()}
        # Which entries' questions (credit 1) or answers (answer_credit) hold each term.
        self.credit: dict[str, dict[int, float]] = defaultdict(dict)
        for entry_no, answer in enumerate(answer_counts):
            for term in answer:
                self.credit[term][entry_no] = settings.answer_credit
        for entry_no, questions in enumerate(entry_counts):
            for term in questions:
                self.credit[term][entry_no] = 1.0
        self.variant_entry: list[int] = []
        self.variants: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.entries: dict[str, list[tuple[int, float]]] = defaultdict(list)
        self.answers: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for entry_no, per_entry in enumerate(variant_counts):
            for counts in per_entry:
                self._post(counts, self.variants, len(self.variant_entry))
                self.variant_entry.append(entry_no)
            self._post(entry_counts[entry_no], self.entries, entry_no)
            self._post(answer_counts[entry_no], self.answers, entry_no)

    def _post(self, counts: Counter[str], postings: dict[str, list[tuple[int, float]]], key: int) -> None:
        """Append the unit TF-IDF vector of `counts` to the postings under `key`."""
        weighted = self._weighted_idf
        log = math.log
        items = [(t, weighted[t] if c == 1 else (1.0 + log(c)) * weighted[t]) for t, c in counts.items()]
        norm = math.sqrt(math.fsum(w * w for _, w in items))
        if not norm:
            return
        scale = 1.0 / norm
        for term, w in items:
            postings[term].append((key, w * scale))

    def vector(self, counts: Counter[str], query: bool = False) -> dict[str, float]:
        vector = {}
        for term, count in counts.items():
            weighted = self._weighted_idf.get(term)
            if weighted is None:
                if not query:
                    continue
                weighted = self.unknown_idf * self.settings.unknown_weight * self.term_weight(term)
            vector[term] = weighted if count == 1 else (1.0 + math.log(count)) * weighted
        return _normalized(vector)

    def scores(self, counts: Counter[str]) -> dict[int, float]:
        query = self.vector(counts, query=True)
        if not query:
            return {}
        s = self.settings
        cosine = self._cosine(query)
        mass = sum(query.values())
        covered: dict[int, float] = defaultdict(float)
        for term, q in query.items():
            for entry_no, credit in self.credit.get(term, {}).items():
                covered[entry_no] += q * credit
        return {
            no: (1 - s.coverage_share) * cosine.get(no, 0.0) + s.coverage_share * covered.get(no, 0.0) / mass
            for no in cosine.keys() | covered.keys()
        }

    def _cosine(self, query: dict[str, float]) -> dict[int, float]:
        per_variant: dict[int, float] = defaultdict(float)
        per_entry: dict[int, float] = defaultdict(float)
        per_answer: dict[int, float] = defaultdict(float)
        for term, q in query.items():
            for variant_no, w in self.variants.get(term, ()):
                per_variant[variant_no] += q * w
            for entry_no, w in self.entries.get(term, ()):
                per_entry[entry_no] += q * w
            for entry_no, w in self.answers.get(term, ()):
                per_answer[entry_no] += q * w
        best_variant: dict[int, float] = defaultdict(float)
        for variant_no, score in per_variant.items():
            entry_no = self.variant_entry[variant_no]
            best_variant[entry_no] = max(best_variant[entry_no], score)
        s = self.settings
        return {
            no: s.variant_weight * best_variant.get(no, 0.0)
            + s.entry_weight * per_entry.get(no, 0.0)
            + s.answer_weight * per_answer.get(no, 0.0)
            for no in per_entry.keys() | per_answer.keys()
        }


def _split(counts: Counter[str]) -> tuple[Counter[str], Counter[str]]:
    words, concepts = Counter(), Counter()
    for term, count in counts.items():
        if term[0] == CONCEPT_PREFIX:
            concepts[term] = count
        else:
            words[term] = count
    return words, concepts


# Per entry: (the question variants' term counts, the answer's term counts), in one language.
_Analysis = list[tuple[list[Counter[str]], Counter[str]]]


def _analyse(entries: list[FaqEntry], lang: Language, with_concepts: bool) -> _Analysis:
    return [
        (
            [Counter(terms(q, lang, with_concepts)) for q in e.questions[lang]],
            Counter(terms(e.answer[lang], lang, with_concepts)),
        )
        for e in entries
    ]


def _concepts_only(entries: list[FaqEntry], lang: Language) -> _Analysis:
    """Just the concepts of each entry in `lang`: what pooling borrows from the other language."""
    tag = concept_tagger().japanese if lang == "ja" else concept_tagger().english
    return [
        ([Counter(tag(canonical(q))) for q in e.questions[lang]], Counter(tag(canonical(e.answer[lang]))))
        for e in entries
    ]


class _LanguageIndex:
    """One language's two channels (words or n-grams, and concepts) over every entry."""

    def __init__(self, entries: list[FaqEntry], lang: Language, settings: MatcherSettings):
        self.lang = lang
        self.settings = settings
        self.share = settings.concept_share.get(lang, 0.5)
        self.spelling = None
        if lang == "en" and settings.spelling:
            tagger = concept_tagger()
            self.spelling = Spelling(
                [canonical(q) for e in entries for q in e.questions[lang]]
                + [canonical(e.answer[lang]) for e in entries]
                + [canonical(english) for english, _ in CONCEPTS.values()],
                known=tagger.knows,
            )
        own = [
            ([_split(v) for v in variants], _split(answer))
            for variants, answer in _analyse(entries, lang, self.share > 0)
        ]
        concept_variants = [[concepts for _, concepts in variants] for variants, _ in own]
        concept_answers = [answer[1] for _, answer in own]
        if self.share > 0 and settings.pool_concepts:
            for no, (variants, answer) in enumerate(_concepts_only(entries, "en" if lang == "ja" else "ja")):
                concept_variants[no] = concept_variants[no] + variants
                concept_answers[no] = concept_answers[no] + answer
        self.words = _Channel(
            [[words for words, _ in variants] for variants, _ in own],
            [answer[0] for _, answer in own],
            settings,
            self._weight,
        )
        self.concepts = _Channel(concept_variants, concept_answers, settings, self._weight)

    def _weight(self, term: str) -> float:
        if self.lang == "ja" and _HIRAGANA_ONLY.match(term):
            return self.settings.hiragana_weight
        return 1.0

    def query_terms(self, text: str) -> Counter[str]:
        return Counter(terms(text, self.lang, self.share > 0, self.spelling))

    def scores(self, counts: Counter[str]) -> dict[int, float]:
        """Blended similarity per entry number (only entries sharing at least one term)."""
        words, concepts = _split(counts)
        by_words = self.words.scores(words)
        by_concepts = self.concepts.scores(concepts) if concepts else {}
        return {
            no: (1 - self.share) * by_words.get(no, 0.0) + self.share * by_concepts.get(no, 0.0)
            for no in by_words.keys() | by_concepts.keys()
        }

    def unknown_share(self, counts: Counter[str]) -> float:
        """Share of the question's content terms (particles and endings aside) that no entry uses."""
        content = [t for t in counts if not t.startswith(CONCEPT_PREFIX) and not _HIRAGANA_ONLY.match(t)]
        if not content:
            return 0.0
        return sum(t not in self.words.idf for t in content) / len(content)

    def unexplained_share(self, counts: Counter[str], entry_no: int) -> float:
        """Share of the question's content terms that the FAQ uses elsewhere but this entry never does
        ("apply for a Japanese visa" shares only "visa" with the credit card entry)."""
        content = [t for t in counts if not t.startswith(CONCEPT_PREFIX) and not _HIRAGANA_ONLY.match(t)]
        if not content:
            return 0.0
        credit = self.words.credit
        return sum(t in self.words.idf and entry_no not in credit.get(t, ()) for t in content) / len(content)

    def evidence(self, counts: Counter[str], entry_no: int) -> int:
        """Store topics (non-generic concepts) of the question that the entry is about too."""
        return sum(
            1
            for t in counts
            if t.startswith(CONCEPT_PREFIX)
            and t not in GENERIC_CONCEPTS
            and entry_no in self.concepts.credit.get(t, {})
        )


class FaqIndex:
    """Answers "which FAQ entry is this question about, if any" in both languages."""

    def __init__(self, document: FaqDocument, settings: MatcherSettings | None = None):
        self.document = document
        self.settings = settings or MatcherSettings()
        self.threshold = self.settings.threshold
        self._entries = list(document.entries)
        # Each language is indexed on its first question: a customer writes in one of them, and a
        # cold start that builds one language's index answers sooner than one that builds both.
        self._by_lang: dict[str, _LanguageIndex] = {}
        self._lock = threading.Lock()

    @classmethod
    def build(cls, document: FaqDocument, settings: MatcherSettings | None = None, eager: bool = False) -> FaqIndex:
        index = cls(document, settings)
        if eager:
            index.warm()
        return index

    def warm(self, langs: Iterable[str] = LANGUAGES) -> FaqIndex:
        """Index these languages now rather than on their first question."""
        for lang in langs:
            self._language(lang)
        return self

    def _language(self, lang: str) -> _LanguageIndex:
        index = self._by_lang.get(lang)
        if index is None:
            with self._lock:
                index = self._by_lang.get(lang)
                if index is None:
                    index = self._by_lang[lang] = _LanguageIndex(self._entries, lang, self.settings)
        return index

    def __len__(self) -> int:
        return len(self._entries)

    def match(self, text: str, lang: Language | None = None, top_k: int = 3) -> list[FaqMatch]:
        """The top_k entries by decision score, best first, whether or not they clear the threshold."""
        text = text or ""
        lang = lang if lang in LANGUAGES else detect_language(text)
        index = self._language(lang)
        counts = index.query_terms(text)
        familiar = (1.0 - index.unknown_share(counts)) ** self.settings.unknown_penalty
        scores = index.scores(counts)
        ranked = sorted(scores.items(), key=lambda item: (-item[1], item[0]))[: max(top_k, 0)]
        threshold = self.threshold[lang]
        penalty = self.settings.unexplained_penalty.get(lang, 0.0)
        matches = []
        for no, score in ranked:
            decision = score * familiar
            if penalty:
                decision *= 1.0 - penalty * index.unexplained_share(counts, no)
            matches.append(
                FaqMatch(
                    entry=self._entries[no],
                    score=round(decision, 4),
                    confidence=confidence_at(decision, threshold),
                    evidence=index.evidence(counts, no),
                )
            )
        return matches

    def confident(self, match: FaqMatch, lang: Language) -> bool:
        return match.score >= self.threshold[lang] and match.evidence >= self.settings.min_evidence

    def top(self, text: str, lang: Language | None = None, limit: int = 3) -> list[FaqMatch]:
        """Up to `limit` confident matches (grounding for the LLM), best first."""
        lang = lang if lang in LANGUAGES else detect_language(text or "")
        return [m for m in self.match(text, lang, limit) if self.confident(m, lang)]

    def best(self, text: str, lang: Language | None = None) -> FaqMatch | None:
        """The one entry to answer with, or None when nothing is close enough to answer honestly."""
        matches = self.top(text, lang, 1)
        return matches[0] if matches else None


def confidence_at(score: float, threshold: float) -> float:
    """Piecewise-linear map of the score: 0 -> 0, threshold -> 0.5, 1 -> 1."""
    if score <= 0:
        return 0.0
    if score < threshold:
        return round(0.5 * score / threshold, 4)
    return round(min(1.0, 0.5 + 0.5 * (score - threshold) / max(1.0 - threshold, 1e-9)), 4)
