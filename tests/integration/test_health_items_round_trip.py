"""Health and banner items read and write exactly as the store wrote them before its marshalling moved to boto3.

``health_items_v1.json`` holds what the hand-written encoder put in a moto table for the writes below; the
store must keep writing those attributes (numbers rounded to 3 places, ints as ints, NULL for missing) and
must read those items back into the same values and types, or health history already in a table would change.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mangaassist.breaker import FailureKind
from mangaassist.health import Banner, HealthStore, OperatorBanner, PingResult, ServiceHealth, ServiceStatus
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

WRITTEN_BEFORE = json.loads(Path(__file__).with_name("health_items_v1.json").read_text(encoding="utf-8"))


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


def scan(client, table) -> list[dict]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def write_every_kind_of_item(client, table) -> dict[str, list[dict]]:
    """Each write path once: first and later pings, put/refresh/clear of the banner, the operator's banner."""
    clock = Clock(1_799_999_880.9)
    store = HealthStore(table, client, clock=clock)
    store.record(
        [
            PingResult("catalog", True, 45.12345, 200, None, 1_799_999_880.4567),
            PingResult("order_service", False, None, 503, FailureKind.ERROR, 1_799_999_880.5, "http_503"),
        ]
    )
    clock.now = 1_799_999_940.5
    store.record(
        [
            PingResult("catalog", True, 61, 200, None, 1_799_999_940.25),
            PingResult("order_service", False, 3000.0, None, FailureKind.TIMEOUT, 1_799_999_940.0, ""),
        ]
    )
    store.set_banner(Banner(True, "AI answers are down", "AIは停止中", 1_799_999_700.125, "llm down 5 min"))
    clock.now = 1_799_999_970.75
    store.set_banner(Banner(True, "ignored while active", "無視", 1_799_999_960.0, "later"))
    store.put_operator_banner(
        OperatorBanner(
            "Orders are slow", "注文が遅い", "order_service outage", 1_800_003_600.5, 1_799_999_990.25, "oncall@x"
        )
    )
    active = scan(client, table)
    clock.now = 1_800_000_030.125
    store.clear_banner()
    return {"active": active, "cleared": scan(client, table)}


def test_the_store_writes_the_same_attributes_as_before(moto_server, state_table):
    client = dynamodb_client(moto_server.url)
    assert write_every_kind_of_item(client, state_table) == WRITTEN_BEFORE


def test_items_written_before_read_back_as_the_same_values_and_types(moto_server, state_table):
    client = dynamodb_client(moto_server.url)
    for item in WRITTEN_BEFORE["active"]:
        client.put_item(TableName=state_table, Item=item)
    store = HealthStore(state_table, client, clock=Clock(1_800_000_000.0))

    health = store.load_all()
    assert health == {
        "catalog": ServiceHealth(
            service="catalog",
            status=ServiceStatus.OK,
            latency_ms=53.061,
            error_rate=0.0,
            checked_at=1_799_999_940.25,
            consecutive_failures=0,
            history=(
                PingResult("catalog", True, 45.123, 200, None, 1_799_999_880.457, ""),
                PingResult("catalog", True, 61.0, 200, None, 1_799_999_940.25, ""),
            ),
            failing_since=None,
            version=2,
        ),
        "order_service": ServiceHealth(
            service="order_service",
            status=ServiceStatus.WARN,
            latency_ms=None,
            error_rate=1.0,
            checked_at=1_799_999_940.0,
            consecutive_failures=2,
            history=(
                PingResult("order_service", False, None, 503, FailureKind.ERROR, 1_799_999_880.5, "http_503"),
                PingResult("order_service", False, 3000.0, None, FailureKind.TIMEOUT, 1_799_999_940.0, ""),
            ),
            failing_since=1_799_999_880.5,
            version=2,
        ),
    }
    # Equality alone would let Decimal or int through where callers do float arithmetic and JSON.
    catalog = health["catalog"]
    assert [type(v) for v in (catalog.latency_ms, catalog.checked_at, catalog.error_rate)] == [float] * 3
    assert [type(v) for v in (catalog.consecutive_failures, catalog.version)] == [int, int]
    assert [type(p.latency_ms) for p in catalog.history] == [float, float]
    assert type(catalog.history[0].status_code) is int
    assert type(catalog.history[0].at) is float
    assert health["order_service"].history[0].failure is FailureKind.ERROR

    banners = store.load_banners()
    assert banners.automatic == Banner(True, "AI answers are down", "AIは停止中", 1_799_999_700.125, "llm down 5 min")
    assert type(banners.automatic.since) is float
    assert banners.operator == OperatorBanner(
        "Orders are slow", "注文が遅い", "order_service outage", 1_800_003_600.5, 1_799_999_990.25, "oncall@x"
    )
    assert type(banners.operator.expires_at) is float
    assert type(banners.operator.posted_at) is float
