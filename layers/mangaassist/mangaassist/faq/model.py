"""The FAQ document's schema: bilingual entries with question variants, a canned answer and help links."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from mangaassist.language import Language, detect_language

LANGUAGES: tuple[Language, ...] = ("ja", "en")
FaqIntent = Literal["faq", "returns", "order_tracking"]

_SLUG = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
_PLACEHOLDER = re.compile(r"\{[a-z_]+\}|<[a-z_]+>|\bTODO\b|\bXXX\b", re.IGNORECASE)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Localized(_Frozen):
    """Read like a mapping too (`.get(lang)`, `[lang]`), which is how the chat flows pick a language."""

    def get(self, lang: str, default=None):
        return getattr(self, lang, default) if lang in LANGUAGES else default

    def __getitem__(self, lang: str):
        if lang not in LANGUAGES:
            raise KeyError(lang)
        return getattr(self, lang)


def _check_language(text: str, lang: Language, what: str) -> str:
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{what} is empty")
    if detect_language(stripped) != lang:
        raise ValueError(f"{what} is not written in {lang}: {stripped[:40]!r}")
    if _PLACEHOLDER.search(stripped):
        # A template slot would reach a customer verbatim: canned answers are sent as they are.
        raise ValueError(f"{what} contains a placeholder: {stripped[:40]!r}")
    return stripped


class FaqQuestions(_Localized):
    en: list[str] = Field(min_length=3, max_length=6)
    ja: list[str] = Field(min_length=3, max_length=6)

    @model_validator(mode="after")
    def _variants_are_distinct_and_in_their_language(self) -> FaqQuestions:
        for lang in LANGUAGES:
            variants = [_check_language(v, lang, f"question ({lang})") for v in self[lang]]
            if len({v.casefold() for v in variants}) != len(variants):
                raise ValueError(f"duplicate {lang} question variants")
        return self


class FaqAnswer(_Localized):
    en: str = Field(min_length=20, max_length=1200)
    ja: str = Field(min_length=10, max_length=600)

    @model_validator(mode="after")
    def _in_their_language(self) -> FaqAnswer:
        for lang in LANGUAGES:
            _check_language(self[lang], lang, f"answer ({lang})")
        return self


class FaqLink(_Frozen):
    label_en: str = Field(min_length=1, max_length=80)
    label_ja: str = Field(min_length=1, max_length=80)
    url: str = Field(pattern=r"^https://[a-z0-9.-]+\.[a-z]{2,}(/\S*)?$", max_length=300)

    @property
    def label(self) -> dict[str, str]:
        """The label per language, the shape the chat's link actions read."""
        return {"en": self.label_en, "ja": self.label_ja}


class FaqEntry(_Frozen):
    id: str = Field(pattern=_SLUG, max_length=64)
    category: str = Field(pattern=_SLUG, max_length=40)
    intent: FaqIntent = "faq"
    questions: FaqQuestions
    answer: FaqAnswer
    links: list[FaqLink] = Field(default_factory=list, max_length=5)


class FaqDocument(_Frozen):
    version: str = Field(min_length=1, max_length=40)
    locale_default: Language = "ja"
    entries: list[FaqEntry] = Field(min_length=1)

    @field_validator("entries")
    @classmethod
    def _unique_ids(cls, entries: list[FaqEntry]) -> list[FaqEntry]:
        seen: set[str] = set()
        dupes = sorted({e.id for e in entries if e.id in seen or seen.add(e.id)})
        if dupes:
            raise ValueError(f"duplicate entry ids: {', '.join(dupes)}")
        return entries

    def entry(self, entry_id: str) -> FaqEntry | None:
        return next((e for e in self.entries if e.id == entry_id), None)
