"""Typed results of the downstream services (contracts in docs/downstream-contracts.md)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


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


class PingResult(_Model):
    """One health ping of a dependency, made without the breaker (the health pinger's raw observation)."""

    ok: bool
    latency_ms: float
    status_code: int | None = None
    error_class: str | None = None  # None when ok; else timeout | connection | throttled | http_<status> | ...
