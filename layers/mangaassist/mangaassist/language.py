"""Which language a customer wrote in: Japanese or English, decided from the scripts the text uses."""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

Language = Literal["ja", "en"]

_CJK = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z]+", re.IGNORECASE)

# Japanese packs roughly two to three characters into what English spells as one word, so a
# title such as "鬼滅の刃" inside an English sentence does not flip the sentence to Japanese,
# while "PayPay使えないの？" (one Latin word, five Japanese characters) reads as Japanese.
CJK_CHARS_PER_WORD = 2.5


def detect_language(text: str, default: Language = "ja") -> Language:
    """ "ja" when Japanese script outweighs Latin words, "en" otherwise; `default` when neither appears."""
    normalized = unicodedata.normalize("NFKC", text or "")
    cjk_words = len(_CJK.findall(normalized)) / CJK_CHARS_PER_WORD
    latin_words = len(_LATIN_WORD.findall(normalized))
    if cjk_words == 0 and latin_words == 0:
        return default
    return "ja" if cjk_words > latin_words else "en"
