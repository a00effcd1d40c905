"""The FAQ: bilingual templates in S3 (bundled copy as fallback) and a lexical matcher that needs no network."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mangaassist.faq.matcher import FaqIndex, FaqMatch
    from mangaassist.faq.store import FaqStore

__all__ = ["FaqIndex", "FaqMatch", "FaqStore"]


def __getattr__(name: str) -> Any:
    # Imported on first use: the matcher alone must not pull boto3 into a process that only matches.
    if name == "FaqStore":
        from mangaassist.faq.store import FaqStore

        return FaqStore
    if name in ("FaqIndex", "FaqMatch"):
        from mangaassist.faq import matcher

        return getattr(matcher, name)
    raise AttributeError(name)
