"""English words as the FAQ matcher compares them: tokens, spelling variants, lemmas and typo repair.

Customers type "didnt", "recieved", "came", "parcels" and "e-book"; the FAQ says "did not",
"received", "come", "parcel" and "ebook". Every English text, the FAQ's own and the customer's,
goes through the same `words()`, so both sides meet on one form of each word.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterable

TOKEN = re.compile(r"[a-z0-9]+")
_NEGATION = re.compile(r"n['’]t\b")
_CLITIC = re.compile(r"['’](?:s|re|ve|ll|d|m)\b")
# "e-book", "pre-order", "re-deliver", "co-op": one word however it is hyphenated or spaced.
_JOINED_PREFIX = re.compile(r"\b(e|pre|re)[- ](book|books|order|orders|ordered|ordering|deliver\w*|stock\w*)\b")

# Negations written without their apostrophe, as customers type them on phones.
_BARE_NEGATION_TEXT = "isnt arent wasnt werent dont doesnt didnt cant wont havent hasnt hadnt couldnt wouldnt shouldnt"
BARE_NEGATIONS: dict[str, tuple[str, ...]] = {
    word: ({"cant": "can", "wont": "will"}.get(word, word[:-2]), "not") for word in _BARE_NEGATION_TEXT.split()
}

# Other spellings of one word: chat shorthand, British and American spelling, abbreviations.
VARIANTS: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "r": "are",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "ty": "thanks",
    "wanna": "want",
    "gonna": "going",
    "gotta": "have",
    "cuz": "because",
    "cos": "because",
    "bc": "because",
    "b4": "before",
    "asap": "urgent",
    "tmrw": "tomorrow",
    "tmr": "tomorrow",
    "thru": "through",
    "acct": "account",
    "pw": "password",
    "pwd": "password",
    "pkg": "package",
    "pkgs": "packages",
    "addr": "address",
    "msg": "message",
    "info": "information",
    "qty": "quantity",
    "approx": "about",
    "vol": "volume",
    "vols": "volumes",
    "volumn": "volume",
    "colour": "color",
    "favourite": "favorite",
    "cancelled": "canceled",
    "cancelling": "canceling",
    "jpy": "yen",
}

# Irregular forms of the verbs and nouns customers use about orders, to their base form; regular
# inflections are left to each side (the lexicon lists them, `lemma` strips them for the words).
_IRREGULAR_TEXT = """came:come went:go gone:go got:get gotten:get bought:buy brought:bring sent:send paid:pay
    took:take taken:take gave:give given:give lost:lose sold:sell told:tell thought:think found:find
    made:make kept:keep spent:spend held:hold tore:tear torn:tear wore:wear worn:wear chose:choose
    chosen:choose wrote:write written:write forgot:forget forgotten:forget began:begin begun:begin
    ran:run saw:see seen:see knew:know known:know children:child bent:bend stuck:stick fell:fall
    shown:show"""
IRREGULAR: dict[str, str] = dict(pair.split(":") for pair in _IRREGULAR_TEXT.split())


@functools.lru_cache(maxsize=16384)
def lemma(word: str) -> str:
    """A light, deterministic lemmatiser: irregular forms by table, then plural, -ing, -ed, final e.
    Deliberately conservative: joining "delivery" and "deliver" is the lexicon's job, not this one's,
    and "-ly" stays ("weekly" is a magazine, "week" is not; "apply" is not "app")."""
    if len(word) <= 3 or not word.isalpha():
        return word
    for suffix, keep in (
        ("ies", "y"),
        ("ied", "y"),
        ("sses", "ss"),
        ("ings", ""),
        ("ing", ""),
        ("ed", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)] + keep
            break
    else:
        if word.endswith("es") and word[-3] in "sxz" and not word.endswith("sses"):
            word = word[:-2]  # boxes -> box, taxes -> tax
        elif word.endswith("ches") or word.endswith("shes"):
            word = word[:-2]
        elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
            word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]  # shipp(ing) -> ship; cancell(ed) keeps its ll, as "cancellation" does
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


def surface(normalized: str) -> list[str]:
    """The tokens of NFKC-lower-cased text: negations spelled out, clitics dropped, variants joined,
    irregular forms to their base. The lexicon's phrases are matched on these."""
    text = normalized.replace("’", "'")
    text = _CLITIC.sub("", _NEGATION.sub(" not", text))
    text = _JOINED_PREFIX.sub(r"\1\2", text.replace("e-mail", "email"))
    found: list[str] = []
    for token in TOKEN.findall(text.replace("'", "")):
        for part in BARE_NEGATIONS.get(token, (token,)):
            part = VARIANTS.get(part, part)
            found.append(IRREGULAR.get(part, part))
    return found


def words(normalized: str) -> list[str]:
    """Every token of the text as a lemma, stopwords included (phrases such as "how much" need them)."""
    return [lemma(token) for token in surface(normalized)]


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _plausible_typo(word: str, candidate: str) -> bool:
    """One edit away is not enough: "flight" is not "slight", "table" not "tablet", "market" not
    "marked". Typing slips rarely hit the first letter, and in a short word the last letter only moves
    by a swap ("cancle")."""
    if word[0] != candidate[0]:
        return False
    return len(word) >= 7 or word[-1] == candidate[-1] or sorted(word) == sorted(candidate)


class Spelling:
    """Corrects a misspelt English word to a word the FAQ or the lexicon uses, one edit away ("adress",
    "pasword", "recieve"), by symmetric deletes: cheap to build, one dictionary probe per deletion.
    Short words are left alone: one edit turns "cats" into "cash" and "flight" into "light". A word
    `known` recognises (a lexicon form such as "hacked" for "hack*") is never corrected."""

    def __init__(
        self,
        texts: Iterable[str],
        min_length: int = 5,
        min_length_substitution: int = 6,
        known: Callable[[str], bool] | None = None,
    ):
        self.min_length = min_length
        self.min_length_substitution = min_length_substitution
        self._is_known = known or (lambda word: False)
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(w for w in TOKEN.findall(text) if len(w) >= min_length and w.isalpha())
        self.known = counts
        self._corrected: dict[str, str] = {}
        self._by_deletion: dict[str, str] = {}
        for word, _ in counts.most_common():  # the more frequent word wins a shared deletion
            for deleted in _deletions(word):
                self._by_deletion.setdefault(deleted, word)

    def correct(self, word: str) -> str:
        corrected = self._corrected.get(word)
        if corrected is None:
            if len(self._corrected) > 8192:  # bounded: customers' words are not a fixed vocabulary
                self._corrected.clear()
            corrected = self._corrected[word] = self._correct(word)
        return corrected

    def _correct(self, word: str) -> str:
        if len(word) < self.min_length or word in self.known or not word.isalpha() or self._is_known(word):
            return word
        candidates = []
        if word in self._by_deletion:  # a letter missing: "adress" -> "address"
            candidates.append(self._by_deletion[word])
        deletions = sorted(_deletions(word))
        candidates.extend(d for d in deletions if d in self.known)  # a letter too many: "shippping"
        if len(word) >= self.min_length_substitution:  # a letter wrong or two swapped: "recieve"
            candidates.extend(self._by_deletion[d] for d in deletions if d in self._by_deletion)
        return next((c for c in candidates if _plausible_typo(word, c)), word)

    def fix(self, text: str) -> str:
        return TOKEN.sub(lambda m: self.correct(m.group()), text)
