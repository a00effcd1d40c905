"""Typed results of the downstream services (contracts in docs/downstream-contracts.md)."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

from mangaassist.breaker.failure import FailureKind


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Product(_Model):
    product_id: str
    title: str
    title_ja: str
    author: str = ""
    volume: int | None = None
    price_jpy: int | None = None
    in_stock: bool = True
    format: str = "print"  # "print" | "digital"
    url: str = ""
    genres: list[str] = Field(default_factory=list)
    reason: str | None = None  # set by the recommender


class OrderItem(_Model):
    product_id: str
    title: str
    quantity: int = 1


class Order(_Model):
    order_id: str
    status: str  # processing | shipped | delivered | cancelled
    ordered_at: str
    estimated_delivery: str | None = None
    items: list[OrderItem] = Field(default_factory=list)
    tracking_url: str | None = None


class ReturnCase(_Model):
    return_id: str
    order_id: str
    status: str
    label_url: str | None = None


class Promotion(_Model):
    promotion_id: str
    text_en: str
    text_ja: str
    url: str = ""


class Profile(_Model):
    customer_id: str
    display_name: str = ""
    preferred_language: str | None = None
    favorite_genres: list[str] = Field(default_factory=list)
    points: int = 0


@dataclass(frozen=True)
class PingResult:
    """One health ping of one dependency, made without the breaker: the pinger's raw observation.

    ``failure`` is in the breaker's own vocabulary, so a failed ping that serves as the fleet's probe is
    counted exactly like the same failure on a chat request; ``detail`` is only for people reading it.
    """

    service: str
    ok: bool
    latency_ms: float | None  # None when nothing answered (timeout, connection refused)
    status_code: int | None = None  # HTTP status of the health endpoint or Bedrock's answer; None if none came
    failure: FailureKind | None = None  # None exactly when ok
    at: float = 0.0  # epoch seconds when the ping started; the pinger stamps it
    detail: str = ""  # what went wrong in a word: "connection", "http_503", "not_configured", an exception's class

    def __post_init__(self) -> None:
        if self.ok and self.failure is not None:
            raise ValueError(f"a ping that answered cannot also have failed ({self.failure})")
        if not self.ok and self.failure is None:
            # A dependency that does not answer its ping properly is down for whatever reason it gives.
            object.__setattr__(self, "failure", FailureKind.ERROR)
