"""The breaker against moto in server mode: real HTTP, real DynamoDB condition semantics."""

from __future__ import annotations

import threading

import pytest

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyError,
    Override,
    ServiceUnavailableError,
)
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.breaker.model import CircuitRecord
from mangaassist.breaker.store import LostRaceError, NotClosedError
from mangaassist.breaker_factory import breakers_from_env
from mangaassist.registry import REGISTRY, STATE_CIRCUITS_PK
from tests.conftest import dynamodb_client
from tests.fakes import RecordingTelemetry

pytestmark = pytest.mark.integration


class CountingClient:
    """Wraps a real boto3 client and counts the requests that reach DynamoDB."""

    def __init__(self, client):
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        def counted(*args, **kwargs):
            self.calls.append(name)
            return attr(*args, **kwargs)

        return counted


def store_for(moto_server, table) -> DynamoCircuitStore:
    return DynamoCircuitStore(table, dynamodb_client(moto_server.url))


def failing():
    raise DependencyError("order_service", "503")


def test_failures_from_two_environments_add_up_and_open_once(moto_server, state_table):
    telemetry_a, telemetry_b = RecordingTelemetry(), RecordingTelemetry()
    a = CircuitBreakers(store_for(moto_server, state_table), telemetry=telemetry_a, owner_id="a")
    b = CircuitBreakers(store_for(moto_server, state_table), telemetry=telemetry_b, owner_id="b")
    for breakers in (a, b, a):  # 3 = order_service's threshold, spread over two environments
        with pytest.raises(ServiceUnavailableError):
            breakers.call("order_service", failing)
    stored = store_for(moto_server, state_table).load_all()["order_service"]
    assert stored.state is CircuitState.OPEN
    assert stored.reason == "error_threshold"
    assert len(telemetry_a.transitions) + len(telemetry_b.transitions) == 1


def test_add_failure_is_refused_once_open_and_returns_the_winner(moto_server, state_table):
    store = store_for(moto_server, state_table)
    rec = store.add_failure("catalog", 100, [], now=105.0)
    assert rec.failure_buckets == {100: 1}
    opened = store.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN, reason="t"))
    assert opened.version == rec.version + 1
    assert opened.failure_buckets == {}
    with pytest.raises(NotClosedError) as refused:
        store.add_failure("catalog", 100, [], now=106.0)
    assert refused.value.current.state is CircuitState.OPEN
    with pytest.raises(LostRaceError) as lost:
        store.compare_and_set(rec.version, rec.with_changes(state=CircuitState.HALF_OPEN))
    assert lost.value.current.version == opened.version


def test_stale_failure_buckets_are_removed_by_the_next_add(moto_server, state_table):
    store = store_for(moto_server, state_table)
    store.add_failure("catalog", 100, [], now=100.0)
    store.add_failure("catalog", 110, [], now=110.0)
    rec = store.add_failure("catalog", 200, [100, 110], now=200.0)
    assert rec.failure_buckets == {200: 1}


def test_concurrent_adds_never_lose_a_count(moto_server, state_table):
    store = store_for(moto_server, state_table)
    store.add_failure("promotions", 0, [], now=0.0)  # create the item first
    barrier = threading.Barrier(8)

    def add_many():
        barrier.wait()
        for _ in range(5):
            store.add_failure("promotions", 0, [], now=1.0)

    threads = [threading.Thread(target=add_many) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.load_all()["promotions"].failure_buckets == {0: 41}


def test_exactly_one_of_many_concurrent_probe_attempts_wins(moto_server, state_table):
    store = store_for(moto_server, state_table)
    rec = store.add_failure("llm", 0, [], now=0.0)
    opened = store.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN, open_until=1.0))
    barrier = threading.Barrier(8)
    winners = []

    def try_lease(i):
        barrier.wait()
        try:
            store.compare_and_set(
                opened.version, opened.with_changes(state=CircuitState.HALF_OPEN, probe_owner=f"env-{i}")
            )
            winners.append(i)
        except LostRaceError:
            pass

    threads = [threading.Thread(target=try_lease, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    assert store.load_all()["llm"].probe_owner == f"env-{winners[0]}"


def test_one_query_reads_every_circuit(moto_server, state_table):
    counting = CountingClient(dynamodb_client(moto_server.url))
    breakers = CircuitBreakers(DynamoCircuitStore(state_table, counting))
    for name in REGISTRY:
        breakers.set_override(name, Override.NONE)
    counting.calls.clear()
    snapshot = breakers.snapshot()
    assert set(snapshot) == set(REGISTRY)
    assert counting.calls == ["query"]
    items = dynamodb_client(moto_server.url).query(
        TableName=state_table,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": STATE_CIRCUITS_PK}},
    )["Items"]
    assert {i["sk"]["S"] for i in items} == set(REGISTRY)


def test_healthy_traffic_makes_no_writes(moto_server, state_table):
    counting = CountingClient(dynamodb_client(moto_server.url))
    breakers = CircuitBreakers(DynamoCircuitStore(state_table, counting), cache_ttl_s=1.0)
    for _ in range(200):
        assert breakers.call("catalog", lambda: "ok") == "ok"
    assert set(counting.calls) == {"query"}
    assert len(counting.calls) <= 2


def test_a_failure_on_an_item_the_query_showed_is_one_write_and_reads_are_eventually_consistent(
    moto_server, state_table
):
    store_for(moto_server, state_table).add_failure("order_service", 0, [], 1.0)  # the item exists
    counting = CountingClient(dynamodb_client(moto_server.url))
    queries: list[dict] = []
    counting._client.meta.events.register(
        "provide-client-params.dynamodb.Query", lambda params, **_: queries.append(params)
    )
    breakers = CircuitBreakers(DynamoCircuitStore(state_table, counting), telemetry=RecordingTelemetry())
    with pytest.raises(ServiceUnavailableError):
        breakers.call("order_service", failing)
    # At an outage's start every environment's first failure hits the same item: one write each, not two.
    assert counting.calls == ["query", "update_item"]
    assert queries[0]["ConsistentRead"] is False


def test_override_from_one_environment_reaches_another(moto_server, state_table):
    a = CircuitBreakers(store_for(moto_server, state_table), cache_ttl_s=0)
    b = CircuitBreakers(store_for(moto_server, state_table), cache_ttl_s=0)
    a.set_override("recommendations", Override.FORCED_OPEN)
    assert b.capability_map()["recommendations"] is False
    a.set_override("recommendations", Override.NONE)
    assert b.capability_map()["recommendations"] is True


def test_unreachable_store_never_takes_the_caller_down(monkeypatch):
    # A port nobody listens on: connection refused at once.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("STATE_TABLE", "missing")
    from mangaassist.aws_clients import client

    client.cache_clear()
    try:
        breakers = breakers_from_env()
        assert breakers.call("catalog", lambda: "answer") == "answer"
        assert breakers.state_store_degraded
        for _ in range(3):
            with pytest.raises(ServiceUnavailableError):
                breakers.call("order_service", failing)
        assert breakers.capability_map()["order_service"] is False
    finally:
        client.cache_clear()


def test_a_deleted_circuit_item_is_recreated_not_mistaken_for_an_outage(moto_server, state_table):
    client = dynamodb_client(moto_server.url)
    store = DynamoCircuitStore(state_table, client)
    store.add_failure("returns_service", 100, [], now=100.0)
    client.delete_item(TableName=state_table, Key={"pk": {"S": STATE_CIRCUITS_PK}, "sk": {"S": "returns_service"}})
    rec = store.add_failure("returns_service", 100, [], now=101.0)
    assert rec.failure_buckets == {100: 1}


def test_withdraw_takes_back_failures_only_while_nothing_transitioned(moto_server, state_table):
    store = store_for(moto_server, state_table)
    for now in (100.0, 101.0, 111.0):
        rec = store.add_failure("catalog", int(now // 10) * 10, [], now=now)
    rec = store.withdraw_failures("catalog", rec.version, {100: 2})
    assert rec.failure_buckets == {100: 0, 110: 1}
    with pytest.raises(LostRaceError):
        store.withdraw_failures("catalog", rec.version, {90: 1})  # pruned or never there: no negative count
    opened = store.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN))
    with pytest.raises(LostRaceError) as lost:
        store.withdraw_failures("catalog", rec.version, {110: 1})
    assert lost.value.current.version == opened.version
    assert store.load_all()["catalog"].failure_buckets == {}


def test_a_lone_environment_opens_for_itself_and_leaves_one_failure_in_the_store(moto_server, state_table):
    sick = CircuitBreakers(store_for(moto_server, state_table), telemetry=RecordingTelemetry(), owner_id="sick")
    for _ in range(REGISTRY["order_service"].breaker.failure_threshold):
        with pytest.raises(ServiceUnavailableError):
            sick.call("order_service", failing)
    assert sick.record("order_service").state is CircuitState.OPEN
    stored = store_for(moto_server, state_table).load_all()["order_service"]
    assert stored.state is CircuitState.CLOSED
    assert sum(stored.failure_buckets.values()) == 1


def copies_of(moto_server, table, copies: int = 3) -> list[DynamoCircuitStore]:
    return [
        DynamoCircuitStore(table, dynamodb_client(moto_server.url), read_copies=copies, copy=i) for i in range(copies)
    ]


def test_read_copies_move_with_every_transition_and_override_and_never_carry_the_count(moto_server, state_table):
    readers = copies_of(moto_server, state_table)
    writer = readers[0]
    rec = writer.add_failure("order_service", 100, [], now=101.0)
    assert all("order_service" not in r.load_all() for r in readers[1:])  # counting touches "circuits" only
    opened = writer.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN, open_until=161.0))
    writer.set_override("catalog", Override.FORCED_OPEN, now=102.0)
    for reader in readers:
        seen = reader.load_all()
        assert seen["order_service"].state is CircuitState.OPEN
        assert seen["order_service"].version == opened.version
        assert seen["order_service"].open_until == 161.0
        assert seen["catalog"].override is Override.FORCED_OPEN
    client = dynamodb_client(moto_server.url)
    for i in range(3):
        item = client.get_item(TableName=state_table, Key={"pk": {"S": f"circuits#{i}"}, "sk": {"S": "order_service"}})
        assert "fb" not in item["Item"]
    primary = store_for(moto_server, state_table).load_all()
    assert primary["order_service"] == readers[1].load_all()["order_service"]


def test_with_read_copies_a_transition_is_still_conditional_and_the_loser_learns_the_winner(moto_server, state_table):
    a, b, _ = copies_of(moto_server, state_table)
    rec = a.add_failure("llm", 0, [], now=0.0)
    opened = a.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN, reason="a"))
    with pytest.raises(LostRaceError) as lost:
        b.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN, reason="b"))
    assert lost.value.current.version == opened.version
    assert lost.value.current.reason == "a"
    assert {s.load_all()["llm"].reason for s in (a, b)} == {"a"}


def test_a_copy_reader_keeps_the_count_it_wrote_to_prune_stale_buckets(moto_server, state_table):
    store, _ = copies_of(moto_server, state_table, copies=2)
    store.add_failure("returns_service", 100, [], now=100.0)
    rec = store.compare_and_set(0, CircuitRecord(service="returns_service"))  # the copies exist now
    store.add_failure("returns_service", 110, [], now=110.0)
    assert store.load_all()["returns_service"].failure_buckets == {110: 1}
    assert rec.version == 1


def test_two_environments_reading_different_copies_open_the_circuit_once(moto_server, state_table):
    a_store, b_store = copies_of(moto_server, state_table, copies=2)
    a = CircuitBreakers(a_store, telemetry=RecordingTelemetry(), owner_id="a", cache_ttl_s=0)
    b = CircuitBreakers(b_store, telemetry=RecordingTelemetry(), owner_id="b", cache_ttl_s=0)
    for breakers in (a, b, a):
        with pytest.raises(ServiceUnavailableError):
            breakers.call("order_service", failing)
    assert a.record("order_service").state is CircuitState.OPEN
    assert b.record("order_service").state is CircuitState.OPEN
    assert len(a.telemetry.transitions) + len(b.telemetry.transitions) == 1
    assert b.call("order_service", failing, fallback=lambda info: "fallback") == "fallback"


def test_merged_failures_land_in_their_own_buckets_only_while_closed(moto_server, state_table):
    store = store_for(moto_server, state_table)
    store.add_failure("analytics", 90, [], now=95.0)
    rec = store.merge_failures("analytics", {100: 2, 110: 1}, [90], now=112.0)
    assert rec.failure_buckets == {100: 2, 110: 1}
    store.compare_and_set(rec.version, rec.with_changes(state=CircuitState.OPEN))
    with pytest.raises(NotClosedError):
        store.merge_failures("analytics", {110: 1}, [], now=113.0)
