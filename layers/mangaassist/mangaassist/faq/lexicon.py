"""The manga store's vocabulary: the many ways customers name one concept, in English and Japanese.

Customers write "postage", "letterbox", "クレカ" or "着く" where the FAQ says "shipping fee",
"mailbox", "クレジットカード" and "届く". Both the index and each question get a concept token for
every surface form found, so the matcher compares meanings a thesaurus can join, not only strings.

English forms are words or phrases of words; a trailing "*" matches any ending ("deliver*").
Japanese forms are plain substrings after NFKC, compared without folding katakana into hiragana:
folded, "タイ" (Thailand) would match every "〜したい".
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from mangaassist.faq.english import surface

# Data, not code: lexicon.json beside this module, concept -> [English forms, Japanese forms], each a
# "|"-separated list, grouped by topic; "everyday" holds the forms the generalisation pass added.
LEXICON_PATH = Path(__file__).with_name("lexicon.json")


def _load(path: Path = LEXICON_PATH) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    document = json.loads(path.read_text(encoding="utf-8"))
    base = {name: tuple(forms) for group in document["concepts"].values() for name, forms in group.items()}
    everyday = {name: tuple(forms) for name, forms in document["everyday"].items()}
    unknown = set(everyday) - set(base)
    if unknown:
        raise ValueError(f"lexicon.json: everyday forms for unknown concepts: {sorted(unknown)}")
    return base, everyday


_BASE, _EVERYDAY = _load()


def _merged(base: dict[str, tuple[str, str]], more: dict[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Each concept's forms with the extra ones appended (duplicates dropped, order kept)."""
    merged = {}
    for name, (english, japanese) in base.items():
        extra_en, extra_ja = more.get(name, ("", ""))
        merged[name] = tuple(
            "|".join(dict.fromkeys(filter(None, f"{old}|{new}".split("|"))))
            for old, new in ((english, extra_en), (japanese, extra_ja))
        )
    return merged


CONCEPTS: dict[str, tuple[str, str]] = _merged(_BASE, _EVERYDAY)


CONCEPT_PREFIX = "~"  # concept tokens never collide with words or n-grams, which hold no "~"

# Concepts that say what kind of question it is, not what it is about: "how do I change a car tire"
# shares "how" and "change" with the FAQ, yet no store topic. They count for ranking, not as evidence.
_GENERIC_NAMES = (
    "ask_when ask_cost ask_why ask_how ask_meaning ask_what problem obtain change partial multiple quantity"
)
GENERIC_CONCEPTS = frozenset(CONCEPT_PREFIX + name for name in _GENERIC_NAMES.split())


def en_tokens(normalized: str) -> list[str]:
    """Words as the English side of the lexicon sees them: surface forms (english.surface), because
    the lexicon lists the inflections it means; a lemma would join "packaging" with "package"."""
    return surface(normalized)


class ConceptTagger:
    """Finds the lexicon's concepts in normalized text; built once per process (a few milliseconds)."""

    def __init__(self, concepts: dict[str, tuple[str, str]], normalize: Callable[[str], str]):
        exact: dict[str, list[tuple[tuple[str, ...], bool, str]]] = defaultdict(list)
        self._prefix: dict[str, list[str]] = defaultdict(list)
        ja_literals: dict[str, set[str]] = defaultdict(set)
        for concept, (english, japanese) in concepts.items():
            token = CONCEPT_PREFIX + concept
            for form in filter(None, english.split("|")):
                is_prefix = form.endswith("*")
                words = en_tokens(normalize(form.rstrip("*")))
                if not words:
                    continue
                if is_prefix and len(words) == 1:
                    self._prefix[words[0]].append(token)
                else:
                    exact[words[0]].append((tuple(words[1:]), is_prefix, token))
            for form in filter(None, japanese.split("|")):
                ja_literals[normalize(form)].add(token)
        # Phrases (two words or more) by their first word; single words resolved once per distinct
        # word and remembered, since the same few hundred words make up nearly every question.
        self._phrases = {w: [p for p in pats if p[0]] for w, pats in exact.items() if any(p[0] for p in pats)}
        self._first_words = frozenset(w for pats in exact.values() for p in pats for w in p[0]) | set(exact)
        self._single = {w: [p[2] for p in pats if not p[0]] for w, pats in exact.items()}
        self._prefix_lengths = sorted({len(p) for p in self._prefix})
        self._word_tokens: dict[str, tuple[str, ...]] = {}
        self._ja_tokens = {literal: sorted(tokens) for literal, tokens in ja_literals.items()}
        # Leftmost-longest, without overlap, for the same reason as English phrases: "お届け先" is an
        # address, not a delivery; "電子マネー" is a way to pay, not a digital edition.
        self._ja_scan = re.compile(_trie_pattern(ja_literals)) if ja_literals else None

    def _tokens_of_word(self, word: str) -> tuple[str, ...]:
        tokens = self._word_tokens.get(word)
        if tokens is None:
            found = list(self._single.get(word, ()))
            for length in self._prefix_lengths:
                if length > len(word):
                    break
                found.extend(self._prefix.get(word[:length], ()))
            tokens = self._word_tokens[word] = tuple(found)
        return tokens

    def knows(self, word: str) -> bool:
        """Whether a word (NFKC, lower case) is part of some English form of the lexicon."""
        found = surface(word)
        return len(found) == 1 and (bool(self._tokens_of_word(found[0])) or found[0] in self._first_words)

    def english(self, normalized: str) -> list[str]:
        words = en_tokens(normalized)
        found: list[str] = []
        covered: set[int] = set()
        # Phrases first, and the words inside a phrase do not count again on their own: "cash on
        # delivery" is a way to pay, not a delivery; "American Express" is a card, not express shipping.
        for i, word in enumerate(words):
            for rest, last_is_prefix, token in self._phrases.get(word, ()):
                end = i + 1 + len(rest)
                if end > len(words):
                    continue
                following = words[i + 1 : end]
                if last_is_prefix:
                    matched = following[:-1] == list(rest[:-1]) and following[-1].startswith(rest[-1])
                else:
                    matched = following == list(rest)
                if matched:
                    found.append(token)
                    covered.update(range(i, end))
        for i, word in enumerate(words):
            if i not in covered:
                found.extend(self._tokens_of_word(word))
        return found

    def japanese(self, normalized: str) -> list[str]:
        if self._ja_scan is None:
            return []
        found: list[str] = []
        for literal in self._ja_scan.findall(normalized):
            found.extend(self._ja_tokens[literal])
        return found


def _trie_pattern(literals: Iterable[str]) -> str:
    """One regular expression for many literals, factored as a trie so a scan tests few branches."""
    trie: dict = {}
    for literal in literals:
        node = trie
        for char in literal:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        # Greedy optional tail: the longest literal wins, a shorter one still matches on its own.
        return f"(?:{body})?" if "" in node else body

    return build(trie)
