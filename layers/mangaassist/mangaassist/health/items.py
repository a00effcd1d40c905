"""How health summaries and banners look as items of the state table, and back.

Items (all carry the TTL attribute ``expires_at``):
- pk="health" sk=<service>: the summary `/status` shows (status, latency, error rate, consecutive
  failures, when the current failure streak began) plus the last ``HISTORY_LENGTH`` pings.
- pk="flags" sk="banner": the maintenance banner the chat shows while the LLM is down.
- pk="flags" sk="operator_banner": the banner on-call posts (``banners.OperatorBanner``); its TTL is its expiry.

Numbers are stored rounded to ``dynamo.STORED_DECIMALS`` places and read back as Decimal, so every reader
here turns them into the float or int its model holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mangaassist.breaker.failure import FailureKind
from mangaassist.downstream.models import PingResult
from mangaassist.dynamo import as_float, from_attribute, from_item, to_item
from mangaassist.health.banners import OPERATOR_BANNER_SK, OperatorBanner
from mangaassist.health.models import Banner, ServiceHealth
from mangaassist.health.status import ServiceStatus

HEALTH_PK = "health"
FLAGS_PK = "flags"
BANNER_SK = "banner"

Item = dict[str, dict[str, Any]]


def key(pk: str, sk: str) -> Item:
    return to_item({"pk": pk, "sk": sk})


def expires_at(item: Mapping[str, Any]) -> float | None:
    attr = item.get("expires_at")
    return as_float(from_attribute(attr)) if attr is not None else None


def _ping_values(result: PingResult) -> dict[str, Any]:
    return {
        "ok": result.ok,
        "latency_ms": result.latency_ms,
        "status_code": result.status_code,
        "failure": result.failure.value if result.failure else None,
        # Only for people; the name predates `failure` and is kept so older readers still find it.
        "error_class": result.detail or None,
        "at": result.at,
    }


def _ping_from_values(service: str, values: Mapping[str, Any]) -> PingResult:
    code = values.get("status_code")
    failure = values.get("failure")
    return PingResult(
        service=service,
        ok=values["ok"],
        latency_ms=as_float(values.get("latency_ms")),
        status_code=int(code) if code is not None else None,
        failure=FailureKind(failure) if failure is not None else None,
        at=as_float(values.get("at")) or 0.0,
        detail=values.get("error_class") or "",
    )


def health_to_item(health: ServiceHealth, expires_at: int) -> Item:
    return {
        **key(HEALTH_PK, health.service),
        **to_item(
            {
                "status": health.status.value,
                "latency_ms": health.latency_ms,
                "error_rate": float(health.error_rate),
                "checked_at": float(health.checked_at),
                "consecutive_failures": health.consecutive_failures,
                "failing_since": health.failing_since,
                "history": [_ping_values(r) for r in health.history],
                "version": health.version,
                "expires_at": expires_at,
            }
        ),
    }


def health_from_item(item: Mapping[str, Any]) -> ServiceHealth:
    values = from_item(item)
    service = values["sk"]
    return ServiceHealth(
        service=service,
        status=ServiceStatus(values.get("status", ServiceStatus.UNKNOWN)),
        latency_ms=as_float(values.get("latency_ms")),
        error_rate=as_float(values.get("error_rate")) or 0.0,
        checked_at=as_float(values.get("checked_at")) or 0.0,
        consecutive_failures=int(values.get("consecutive_failures") or 0),
        history=tuple(_ping_from_values(service, m) for m in values.get("history", [])),
        failing_since=as_float(values.get("failing_since")),
        version=int(values.get("version") or 0),
    )


def banner_to_item(banner: Banner, *, updated_at: float, expires_at: int) -> Item:
    return {
        **key(FLAGS_PK, BANNER_SK),
        **to_item(
            {
                "active": True,
                "message_en": banner.message_en,
                "message_ja": banner.message_ja,
                "since": float(banner.since),
                "reason": banner.reason,
                "updated_at": float(updated_at),
                "expires_at": expires_at,
            }
        ),
    }


def banner_from_item(item: Mapping[str, Any]) -> Banner:
    values = from_item(item)
    return Banner(
        active=values.get("active", False),
        message_en=values.get("message_en", ""),
        message_ja=values.get("message_ja", ""),
        since=as_float(values.get("since")) or 0.0,
        reason=values.get("reason", ""),
    )


def operator_banner_to_item(banner: OperatorBanner) -> Item:
    return {
        **key(FLAGS_PK, OPERATOR_BANNER_SK),
        **to_item(
            {
                "message_en": banner.message_en,
                "message_ja": banner.message_ja,
                "reason": banner.reason,
                "posted_at": float(banner.posted_at),
                "posted_by": banner.posted_by,
                # The TTL attribute is the banner's own end: DynamoDB removes it some time after, readers at once.
                "expires_at": float(banner.expires_at),
            }
        ),
    }


def operator_banner_from_item(item: Mapping[str, Any]) -> OperatorBanner:
    values = from_item(item)
    return OperatorBanner(
        message_en=values.get("message_en", ""),
        message_ja=values.get("message_ja", ""),
        reason=values.get("reason", ""),
        expires_at=as_float(values.get("expires_at")) or 0.0,
        posted_at=as_float(values.get("posted_at")) or 0.0,
        posted_by=values.get("posted_by", ""),
    )
