"""The operator's banner, its input rules, and the one message a customer sees beside the pinger's banner.

Two banners can be up at once: the health pinger's automatic one (Bedrock down for more than five minutes,
``models.Banner``) and one that on-call posts (an order_service outage expected to last, a sale that breaks
something, ...). They live in two items of the state table's "flags" partition, so the pinger, which sets
and clears only its own, can never take the operator's down. The customer reads one short message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mangaassist.health.models import Banner

OPERATOR_BANNER_SK = "operator_banner"
MAX_TEXT_CHARS = 300  # the chat shows it above every answer; longer belongs on the store's status page
MAX_REASON_CHARS = 300
MAX_LIFETIME_S = 7 * 24 * 3600  # a forgotten banner must not outlive a week of customers
# What the pinger's banner adds when an operator's is up too: the operator's text already says the chat is
# limited, so only the missing fact is appended, keeping one message instead of two paragraphs.
LLM_DOWN_SUFFIX = {
    "en": "AI-written answers are also temporarily unavailable.",
    "ja": "また、AIによる回答は一時的にご利用いただけません。",
}


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class BannerInputError(ValueError):
    """An operator banner that breaks the rules; ``problems`` lists every broken rule, in words on-call reads."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))


@dataclass(frozen=True)
class OperatorBanner:
    """A banner on-call posted: both languages, why, and when it comes down by itself."""

    message_en: str
    message_ja: str
    reason: str
    expires_at: float  # epoch seconds; readers ignore the banner from then on
    posted_at: float
    posted_by: str = ""

    def problems(self, now: float) -> list[str]:
        """Every rule this banner breaks at ``now``; empty when it may be written."""
        found = []
        for field, language in (("message_en", "English"), ("message_ja", "Japanese")):
            value = getattr(self, field)
            if not isinstance(value, str) or not value.strip():
                found.append(f"{field}: the {language} text is missing or empty; customers read both languages")
            elif len(value) > MAX_TEXT_CHARS:
                found.append(f"{field}: {len(value)} characters, at most {MAX_TEXT_CHARS}")
        if not isinstance(self.reason, str) or not self.reason.strip():
            found.append("reason: say why (an incident id, the outage), so the next on-call knows whether to keep it")
        elif len(self.reason) > MAX_REASON_CHARS:
            found.append(f"reason: {len(self.reason)} characters, at most {MAX_REASON_CHARS}")
        if self.expires_at <= now:
            found.append("expires_at: already in the past; a banner must end in the future")
        elif self.expires_at > now + MAX_LIFETIME_S:
            found.append("expires_at: more than 7 days ahead; post a new banner when it runs out instead")
        return found

    def as_dict(self) -> dict[str, str]:
        """For people and JSON: times as ISO 8601 UTC."""
        return {
            "message_en": self.message_en,
            "message_ja": self.message_ja,
            "reason": self.reason,
            "posted_by": self.posted_by,
            "posted_at": _iso(self.posted_at),
            "expires_at": _iso(self.expires_at),
        }

    def is_live(self, now: float) -> bool:
        return self.expires_at > now

    def message(self, lang: str) -> str:
        return self.message_ja if lang == "ja" else self.message_en


def operator_banner(
    *,
    message_en: Any,
    message_ja: Any,
    reason: Any,
    expires_at: float,
    now: float,
    posted_by: str = "",
) -> OperatorBanner:
    """A valid banner from operator input (texts stripped), or BannerInputError naming every problem."""

    def clean(value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    banner = OperatorBanner(
        message_en=clean(message_en),
        message_ja=clean(message_ja),
        reason=clean(reason),
        expires_at=float(expires_at),
        posted_at=now,
        posted_by=posted_by,
    )
    problems = banner.problems(now)
    if problems:
        raise BannerInputError(problems)
    return banner


@dataclass(frozen=True)
class Banners:
    """Both banner items as read together (one Query of the "flags" partition); either may be absent."""

    automatic: Banner | None = None  # the pinger's; shown while ``active``
    operator: OperatorBanner | None = None

    def live_operator(self, now: float) -> OperatorBanner | None:
        # Checked here as well as at read time: an environment keeps its last read while the store is down.
        return self.operator if self.operator is not None and self.operator.is_live(now) else None

    def automatic_active(self) -> bool:
        return self.automatic is not None and bool(getattr(self.automatic, "active", False))

    def sources(self, now: float) -> list[str]:
        """Whose banners a customer sees now, the operator's first (its text leads the message)."""
        shown = [("operator", self.live_operator(now) is not None), ("automatic", self.automatic_active())]
        return [name for name, up in shown if up]

    def customers_see(self, now: float) -> dict[str, Any]:
        return {"en": self.message("en", now), "ja": self.message("ja", now), "sources": self.sources(now)}

    def message(self, lang: str, now: float) -> str | None:
        """The one banner text a customer writing in ``lang`` sees, or None."""
        operator = self.live_operator(now)
        if operator is None:
            if not self.automatic_active():
                return None
            return self.automatic.message_ja if lang == "ja" else self.automatic.message_en
        if not self.automatic_active():
            return operator.message(lang)
        key = "ja" if lang == "ja" else "en"
        return _joined(operator.message(key), LLM_DOWN_SUFFIX[key], key)


def _joined(first: str, second: str, lang: str) -> str:
    """Two sentences as one message: the first closed with its language's full stop if the operator left it open."""
    if lang == "ja":
        return f"{first}{'' if first.endswith(('。', '！', '？', '!', '?')) else '。'}{second}"
    return f"{first}{'' if first.endswith(('.', '!', '?')) else '.'} {second}"
