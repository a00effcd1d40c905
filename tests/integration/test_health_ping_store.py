"""The health store against moto in server mode: TTLs, conditional writes under concurrency, the banner item."""

from __future__ import annotations

import threading

import pytest

from mangaassist.breaker import FailureKind
from mangaassist.health import Banner, HealthStore, PingResult
from mangaassist.health.items import HEALTH_PK
from mangaassist.health.status import ServiceStatus
from mangaassist.health.status_rules import HISTORY_LENGTH
from mangaassist.health.store import BANNER_TTL_S, HEALTH_TTL_S
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

NOW = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def store_for(moto_server, table, clock=None) -> HealthStore:
    return HealthStore(table, dynamodb_client(moto_server.url), clock=clock or Clock())


def raw_item(moto_server, table, pk, sk) -> dict:
    return dynamodb_client(moto_server.url).get_item(
        TableName=table, Key={"pk": {"S": pk}, "sk": {"S": sk}}, ConsistentRead=True
    )["Item"]


def test_results_persist_with_ttl_and_read_back(moto_server, state_table):
    store = store_for(moto_server, state_table)
    written = store.record(
        [
            PingResult("catalog", True, 45.0, 200, None, NOW - 1),
            PingResult("order_service", False, None, 503, FailureKind.ERROR, NOW - 1, "http_503"),
        ],
        NOW,
    )
    item = raw_item(moto_server, state_table, HEALTH_PK, "order_service")
    assert int(item["expires_at"]["N"]) == int(NOW + HEALTH_TTL_S)
    assert item["status"]["S"] == ServiceStatus.WARN
    assert item["history"]["L"][0]["M"]["status_code"]["N"] == "503"
    loaded = store_for(moto_server, state_table).load_all()
    assert loaded == written
    assert loaded["catalog"].latency_ms == 45.0
    assert loaded["order_service"].history[0].failure is FailureKind.ERROR
    assert loaded["order_service"].history[0].detail == "http_503"


def test_expired_items_are_not_trusted_before_dynamodb_deletes_them(moto_server, state_table):
    clock = Clock()
    store = store_for(moto_server, state_table, clock)
    store.record([PingResult("feedback", True, 5.0, 200, None, NOW)], NOW)
    assert "feedback" in store.load_all()
    clock.now = NOW + HEALTH_TTL_S + 1
    assert "feedback" not in store.load_all()


def test_concurrent_writers_all_land_in_one_consistent_history(moto_server, state_table):
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(i: int) -> None:
        store = store_for(moto_server, state_table)
        barrier.wait()
        try:
            store.record([PingResult("catalog", i % 2 == 0, 10.0 + i, 200, None, NOW + i)], NOW + i)
        except BaseException as err:  # surfaced below; a thread must not swallow the failure
            errors.append(err)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    health = store_for(moto_server, state_table).load_all(consistent=True)["catalog"]
    assert [r.at for r in health.history] == [NOW + i for i in range(writers)]
    assert health.version == writers
    assert health.error_rate == 0.5
    assert health.checked_at == NOW + writers - 1
    assert health.consecutive_failures == 1  # the newest ping (i = 7) failed, whatever order they landed in
    assert health.failing_since == NOW + writers - 1


def test_history_is_bounded(moto_server, state_table):
    store = store_for(moto_server, state_table)
    for i in range(HISTORY_LENGTH + 3):
        store.record([PingResult("analytics", True, 3.0, 200, None, NOW + 60 * i)], NOW + 60 * i)
    health = store.load_all()["analytics"]
    assert len(health.history) == HISTORY_LENGTH
    assert health.history[0].at == NOW + 60 * 3


def test_banner_lifecycle(moto_server, state_table):
    clock = Clock()
    store = store_for(moto_server, state_table, clock)
    assert store.get_banner() is None
    assert store.clear_banner() is False

    store.set_banner(Banner(True, "limited mode", "一部制限中", NOW - 400, "llm_unavailable"))
    item = raw_item(moto_server, state_table, "flags", "banner")
    assert int(item["expires_at"]["N"]) == int(NOW + BANNER_TTL_S)

    # A second writer (an overlapping run) refreshes the TTL but cannot move the start of the outage.
    clock.now = NOW + 60
    again = store.set_banner(Banner(True, "other text", "別の文", NOW, "llm_unavailable"))
    assert again.since == NOW - 400
    assert again.message_en == "limited mode"
    stored = store.get_banner()
    assert stored.active
    assert stored.message_ja == "一部制限中"
    refreshed = raw_item(moto_server, state_table, "flags", "banner")
    assert int(refreshed["expires_at"]["N"]) == int(clock.now + BANNER_TTL_S)

    assert store.clear_banner() is True
    assert store.clear_banner() is False
    assert store.get_banner().active is False

    # The next outage gets its own start.
    store.set_banner(Banner(True, "limited mode", "一部制限中", NOW + 1000, "llm_unavailable"))
    assert store.get_banner().since == NOW + 1000


def test_a_banner_whose_ttl_passed_is_gone_and_the_next_one_starts_fresh(moto_server, state_table):
    clock = Clock()
    store = store_for(moto_server, state_table, clock)
    store.set_banner(Banner(True, "a", "あ", NOW, "llm_unavailable"))
    clock.now = NOW + BANNER_TTL_S + 1
    assert store.get_banner() is None
    store.set_banner(Banner(True, "b", "い", clock.now, "llm_unavailable"))
    assert store.get_banner().since == clock.now
    assert store.get_banner().message_en == "b"
