"""The chat API's request and response bodies (pydantic): what /chat, /feedback, /health and /status speak."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, field_validator

MESSAGE_MAX_CHARS = 2000


class ChatRequest(BaseModel):
    """A customer's message. Identity comes from the authorizer only; anything else in the body (a
    ``customer_id``, say, or megabytes of padding) is refused with a 422 rather than silently carried."""

    model_config = ConfigDict(extra="forbid")

    message: StrictStr = Field(min_length=1, max_length=MESSAGE_MAX_CHARS, description="1 to 2,000 characters")
    session_id: StrictStr | None = Field(default=None, min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")

    @field_validator("message")
    @classmethod
    def has_words(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("message must not contain NUL characters")
        if not value.strip():
            raise ValueError("message must not be blank")
        return value


class Action(BaseModel):
    type: Literal["link", "escalation", "suggestion"]
    label: str = Field(description="link text; for a suggestion, the FAQ entry's question in the customer's language")
    url: str | None = None
    message: str | None = Field(default=None, description="suggestion only: the message to send back when chosen")
    faq_id: str | None = Field(default=None, description="suggestion only: the FAQ entry it stands for")


class SourceView(BaseModel):
    """An FAQ entry the answer was built from (templates) or given to Bedrock to answer from."""

    faq_id: str
    title: str = Field(description="the entry's question in the customer's language")
    url: str | None = None


class OrderItemView(BaseModel):
    product_id: str
    title: str
    quantity: int


class OrderView(BaseModel):
    """An order exactly as the order service returned it (never filled in by the chat)."""

    order_id: str
    status: str
    ordered_at: str
    estimated_delivery: str | None = None
    tracking_url: str | None = None
    items: list[OrderItemView] = Field(default_factory=list)


class ItemView(BaseModel):
    product_id: str
    title: str
    title_ja: str
    author: str = ""
    volume: int | None = None
    price_jpy: int | None = None
    in_stock: bool = True
    format: str = "print"
    url: str = ""
    reason: str | None = None


class ChatResponse(BaseModel):
    message: str
    intent: Literal[
        "order_tracking", "recommendation", "product_info", "faq", "returns", "escalation", "greeting", "open_ended"
    ]
    language: Literal["en", "ja"]
    actions: list[Action]
    degraded: bool
    degraded_reason: str | None = Field(
        description="<service>_unavailable with the registry's service name; rate_limited when this client has "
        "used its budget of generated answers for now (templates and FAQ still answer); or null"
    )
    request_id: str
    session_id: str | None = None
    orders: list[OrderView] | None = Field(default=None, description="only for order tracking, from the order service")
    items: list[ItemView] | None = Field(default=None, description="only for product answers, from the catalog")
    banner: str | None = Field(
        default=None, description="the maintenance banner in the customer's language, while one is up (one message)"
    )
    sources: list[SourceView] = Field(
        default_factory=list, description="the FAQ entries the answer was built from; empty when none"
    )


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    request_id: StrictStr = Field(min_length=1, max_length=128, description="the request_id of the rated answer")
    rating: Literal["helpful", "not_helpful"]
    comment: StrictStr | None = Field(default=None, max_length=1000)


class FeedbackResponse(BaseModel):
    status: Literal["accepted"]


class ErrorDetail(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorDetail


class CheckResult(BaseModel):
    status: Literal["ok", "fail"]
    latency_ms: float | None = None


class HealthResponse(BaseModel):
    status: Literal["healthy", "unhealthy"]
    checks: dict[str, CheckResult]


class ServiceRow(BaseModel):
    name: str
    display_name: str
    tier: int
    status: Literal["ok", "warn", "down", "unknown"]
    latency_ms: int | None
    error_rate: float | None
    circuit: Literal["CLOSED", "OPEN", "HALF_OPEN"]
    override: Literal["none", "forced_open", "forced_closed", "disabled"]
    checked_at: str | None


class OperatorBannerView(BaseModel):
    """The banner on-call posted, as posted (the customer may see it joined with the automatic one)."""

    message_en: str
    message_ja: str
    reason: str
    posted_by: str
    posted_at: str
    expires_at: str = Field(description="when it comes down by itself (ISO 8601, UTC)")


class BannerView(BaseModel):
    active: bool
    message_en: str = Field(description="what an English-speaking customer sees: one message, both banners joined")
    message_ja: str = Field(description="what a Japanese-speaking customer sees")
    sources: list[Literal["operator", "automatic"]] = Field(
        default_factory=list, description="automatic: the health pinger's (Bedrock down); operator: posted by on-call"
    )
    operator: OperatorBannerView | None = None


class StatusResponse(BaseModel):
    services: list[ServiceRow]
    capabilities: dict[str, Literal["available", "degraded", "unavailable"]]
    banner: BannerView | None
    state_store: Literal["ok", "degraded"]
    health_pings: Literal["ok", "unreadable"]
    updated_at: str
