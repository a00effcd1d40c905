"""The /status body from the breaker snapshot, health summaries and the banner."""

from __future__ import annotations

import pytest

from mangaassist.breaker import Override
from mangaassist.chat.api_models import StatusResponse
from mangaassist.health import Banner, Banners, HealthStoreError, OperatorBanner, ServiceHealth
from mangaassist.registry import REGISTRY, SERVICE_NAMES
from mangaassist.status_view import status_body
from tests.unit.chat_fakes import breakers_with

NOW = 1_800_000_000.0


def health(service: str, status: str, latency: float | None, rate: float) -> ServiceHealth:
    return ServiceHealth(
        service=service,
        status=status,
        latency_ms=latency,
        error_rate=rate,
        checked_at=NOW - 30,
        consecutive_failures=0 if status == "ok" else 3,
    )


def test_rows_follow_the_registry_and_merge_circuit_and_ping_data() -> None:
    breakers = breakers_with({"order_service"}, quiet=True)
    pings = {
        "catalog": health("catalog", "ok", 45.2, 0.001),
        "returns_service": health("returns_service", "warn", 890.0, 0.05),
        "order_service": health("order_service", "down", None, 1.0),
    }
    body = status_body(breakers, lambda: pings, None, clock=lambda: NOW)
    StatusResponse.model_validate(body)
    rows = {row["name"]: row for row in body["services"]}
    assert [row["name"] for row in body["services"]] == list(SERVICE_NAMES)
    assert rows["catalog"] == {
        "name": "catalog",
        "display_name": REGISTRY["catalog"].display_name,
        "tier": 1,
        "status": "ok",
        "latency_ms": 45,
        "error_rate": 0.001,
        "circuit": "CLOSED",
        "override": "none",
        "checked_at": "2027-01-15T07:59:30Z",
    }
    assert rows["returns_service"]["status"] == "warn"
    assert rows["order_service"]["status"] == "down"
    assert rows["order_service"]["override"] == "forced_open"
    assert rows["recommendations"]["status"] == "unknown", "never pinged: say so rather than guess"
    assert body["capabilities"]["order_tracking"] == "unavailable"
    assert body["capabilities"]["return_requests"] == "degraded"
    assert body["capabilities"]["personalized_recommendations"] == "available"
    assert body["updated_at"] == "2027-01-15T08:00:00Z"
    assert body["banner"] is None
    assert body["health_pings"] == "ok"


def test_an_open_circuit_is_down_even_before_the_pings_notice() -> None:
    breakers = breakers_with(quiet=True)
    breakers.set_override("llm", Override.FORCED_OPEN)
    body = status_body(breakers, lambda: {"llm": health("llm", "ok", 1250.0, 0.003)}, None, clock=lambda: NOW)
    llm = next(row for row in body["services"] if row["name"] == "llm")
    assert llm["status"] == "down"
    assert llm["circuit"] == "CLOSED"
    assert llm["latency_ms"] == 1250
    assert body["capabilities"]["generated_answers"] == "unavailable"
    assert body["capabilities"]["faq"] == "degraded"


@pytest.mark.parametrize("active", [True, False])
def test_the_banner_is_shown_only_while_active(active: bool) -> None:
    banner = Banner(active=active, message_en="LLM down", message_ja="AI停止中", since=NOW - 400)
    body = status_body(breakers_with(quiet=True), dict, Banners(automatic=banner), clock=lambda: NOW)
    expected = (
        {"active": True, "message_en": "LLM down", "message_ja": "AI停止中", "sources": ["automatic"], "operator": None}
        if active
        else None
    )
    assert body["banner"] == expected


def posted(expires_at: float = NOW + 3600) -> OperatorBanner:
    return OperatorBanner(
        message_en="Order tracking is down; see your order history page.",
        message_ja="注文状況の確認が一時的にできません。注文履歴ページをご覧ください。",
        reason="INC-42 order_service outage",
        expires_at=expires_at,
        posted_at=NOW - 60,
        posted_by="oncall",
    )


def test_an_operator_banner_shows_who_posted_it_why_and_until_when() -> None:
    body = status_body(breakers_with(quiet=True), dict, Banners(operator=posted()), clock=lambda: NOW)
    StatusResponse.model_validate(body)
    assert body["banner"]["sources"] == ["operator"]
    assert body["banner"]["message_ja"] == posted().message_ja
    assert body["banner"]["operator"] == {
        "message_en": posted().message_en,
        "message_ja": posted().message_ja,
        "reason": "INC-42 order_service outage",
        "posted_by": "oncall",
        "posted_at": "2027-01-15T07:59:00Z",
        "expires_at": "2027-01-15T09:00:00Z",
    }


def test_both_banners_are_one_message_per_language_on_status() -> None:
    automatic = Banner(True, "LLM down", "AI停止中", since=NOW - 400)
    body = status_body(breakers_with(quiet=True), dict, Banners(automatic, posted()), clock=lambda: NOW)
    StatusResponse.model_validate(body)
    assert body["banner"]["sources"] == ["operator", "automatic"]
    assert body["banner"]["message_en"].startswith(posted().message_en)
    assert "AI" in body["banner"]["message_en"]
    assert "LLM down" not in body["banner"]["message_en"], "the long automatic text is replaced by one short clause"


def test_an_expired_operator_banner_is_not_on_status_even_if_still_cached() -> None:
    body = status_body(breakers_with(quiet=True), dict, Banners(operator=posted(NOW)), clock=lambda: NOW)
    assert body["banner"] is None


def test_unreadable_health_pings_still_show_the_circuits() -> None:
    def broken():
        raise HealthStoreError("throttled")

    body = status_body(breakers_with({"catalog"}, quiet=True), broken, None, clock=lambda: NOW)
    StatusResponse.model_validate(body)
    assert body["health_pings"] == "unreadable"
    rows = {row["name"]: row for row in body["services"]}
    assert rows["catalog"]["status"] == "down"
    assert rows["catalog"]["latency_ms"] is None
    assert body["capabilities"]["product_info"] == "unavailable"
