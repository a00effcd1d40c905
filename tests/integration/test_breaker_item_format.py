"""The circuit items exactly as DynamoCircuitStore writes them: what the dashboard, the pinger, operators' tools
and every deployed environment read, so a change to the adapter's marshalling must leave them identical."""

from __future__ import annotations

import pytest

from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.breaker.model import CircuitRecord, CircuitState, Override
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration


def write_every_kind_of_item(store: DynamoCircuitStore) -> None:
    """Each primitive once, with values that exercise every attribute (fractions, big epochs, empty strings)."""
    rec = store.add_failure("order_service", 1_800_000_000, [], now=1_800_000_001.25)
    rec = store.merge_failures("order_service", {1_800_000_010: 2, 1_800_000_020: 1}, [], now=1_800_000_021.0)
    store.withdraw_failures("order_service", rec.version, {1_800_000_010: 1})
    rec = store.add_failure("returns_service", 1_800_000_000, [], now=1_800_000_002.0)
    store.compare_and_set(
        rec.version,
        rec.with_changes(
            state=CircuitState.OPEN,
            opened_at=1_800_000_021.5,
            open_until=1_800_000_081.5,
            reopen_count=2,
            reason="timeout_threshold",
            updated_at=1_800_000_021.5,
        ),
    )
    rec = store.add_failure("catalog", 1_800_000_000, [], now=1_800_000_003.0)
    store.compare_and_set(
        rec.version,
        rec.with_changes(
            state=CircuitState.HALF_OPEN,
            probe_owner="2026/12/06[$LATEST]abc:42:deadbeef",
            lease_until=1_800_000_013.123456,
            probe_successes=1,
            reason="probe",
            updated_at=1_800_000_003.0,
        ),
    )
    store.set_override("llm", Override.FORCED_OPEN, now=1_800_000_004.5)
    store.compare_and_set(0, CircuitRecord(service="promotions", reason="health_ping", updated_at=1_800_000_005.0))


def raw_items(endpoint: str, table: str) -> list[dict]:
    items = dynamodb_client(endpoint).scan(TableName=table)["Items"]
    return sorted(items, key=lambda item: (item["pk"]["S"], item["sk"]["S"]))


@pytest.mark.parametrize("copies", [1, 2])
def test_the_items_are_exactly_these(moto_server, state_table, copies):
    store = DynamoCircuitStore(state_table, dynamodb_client(moto_server.url), read_copies=copies, copy=0)
    write_every_kind_of_item(store)
    expected = EXPECTED_PRIMARY + (EXPECTED_COPIES if copies == 2 else [])
    assert raw_items(moto_server.url, state_table) == sorted(expected, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_the_items_read_back_as_these_records(moto_server, state_table):
    store = DynamoCircuitStore(state_table, dynamodb_client(moto_server.url))
    write_every_kind_of_item(store)
    records = DynamoCircuitStore(state_table, dynamodb_client(moto_server.url)).load_all()
    assert records["order_service"] == CircuitRecord(
        service="order_service",
        failure_buckets={1_800_000_000: 1, 1_800_000_010: 1, 1_800_000_020: 1},
        updated_at=1_800_000_001.25,  # the creating PutItem's
    )
    assert records["returns_service"] == CircuitRecord(
        service="returns_service",
        state=CircuitState.OPEN,
        version=1,
        opened_at=1_800_000_021.5,
        open_until=1_800_000_081.5,
        reopen_count=2,
        reason="timeout_threshold",
        updated_at=1_800_000_021.5,
    )
    assert records["catalog"] == CircuitRecord(
        service="catalog",
        state=CircuitState.HALF_OPEN,
        version=1,
        probe_owner="2026/12/06[$LATEST]abc:42:deadbeef",
        lease_until=1_800_000_013.123,
        probe_successes=1,
        reason="probe",
        updated_at=1_800_000_003.0,
    )
    assert records["llm"] == CircuitRecord(service="llm", override=Override.FORCED_OPEN, updated_at=1_800_000_004.5)
    assert records["promotions"] == CircuitRecord(
        service="promotions", version=1, reason="health_ping", updated_at=1_800_000_005.0
    )


EXPECTED_PRIMARY: list[dict] = [
    {
        "fb": {"M": {}},
        "lease_until": {"N": "1800000013.123"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "override": {"S": "none"},
        "pk": {"S": "circuits"},
        "probe_owner": {"S": "2026/12/06[$LATEST]abc:42:deadbeef"},
        "probe_successes": {"N": "1"},
        "reason": {"S": "probe"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "catalog"},
        "state": {"S": "HALF_OPEN"},
        "updated_at": {"N": "1800000003.0"},
        "version": {"N": "1"},
    },
    {
        "fb": {"M": {}},
        "override": {"S": "forced_open"},
        "pk": {"S": "circuits"},
        "sk": {"S": "llm"},
        "state": {"S": "CLOSED"},
        "updated_at": {"N": "1800000004.5"},
        "version": {"N": "0"},
    },
    {
        "fb": {"M": {"1800000000": {"N": "1"}, "1800000010": {"N": "1"}, "1800000020": {"N": "1"}}},
        "override": {"S": "none"},
        "pk": {"S": "circuits"},
        "sk": {"S": "order_service"},
        "state": {"S": "CLOSED"},
        "updated_at": {"N": "1800000001.25"},
        "version": {"N": "0"},
    },
    {
        "fb": {"M": {}},
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "pk": {"S": "circuits"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "health_ping"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "promotions"},
        "state": {"S": "CLOSED"},
        "updated_at": {"N": "1800000005.0"},
        "version": {"N": "1"},
    },
    {
        "fb": {"M": {}},
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "1800000081.5"},
        "opened_at": {"N": "1800000021.5"},
        "override": {"S": "none"},
        "pk": {"S": "circuits"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "timeout_threshold"},
        "reopen_count": {"N": "2"},
        "sk": {"S": "returns_service"},
        "state": {"S": "OPEN"},
        "updated_at": {"N": "1800000021.5"},
        "version": {"N": "1"},
    },
]
EXPECTED_COPIES: list[dict] = [
    {
        "lease_until": {"N": "1800000013.123"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#0"},
        "probe_owner": {"S": "2026/12/06[$LATEST]abc:42:deadbeef"},
        "probe_successes": {"N": "1"},
        "reason": {"S": "probe"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "catalog"},
        "state": {"S": "HALF_OPEN"},
        "updated_at": {"N": "1800000003.0"},
        "version": {"N": "1"},
    },
    {
        "override": {"S": "forced_open"},
        "pk": {"S": "circuits#0"},
        "sk": {"S": "llm"},
        "updated_at": {"N": "1800000004.5"},
    },
    {
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#0"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "health_ping"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "promotions"},
        "state": {"S": "CLOSED"},
        "updated_at": {"N": "1800000005.0"},
        "version": {"N": "1"},
    },
    {
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "1800000081.5"},
        "opened_at": {"N": "1800000021.5"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#0"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "timeout_threshold"},
        "reopen_count": {"N": "2"},
        "sk": {"S": "returns_service"},
        "state": {"S": "OPEN"},
        "updated_at": {"N": "1800000021.5"},
        "version": {"N": "1"},
    },
    {
        "lease_until": {"N": "1800000013.123"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#1"},
        "probe_owner": {"S": "2026/12/06[$LATEST]abc:42:deadbeef"},
        "probe_successes": {"N": "1"},
        "reason": {"S": "probe"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "catalog"},
        "state": {"S": "HALF_OPEN"},
        "updated_at": {"N": "1800000003.0"},
        "version": {"N": "1"},
    },
    {
        "override": {"S": "forced_open"},
        "pk": {"S": "circuits#1"},
        "sk": {"S": "llm"},
        "updated_at": {"N": "1800000004.5"},
    },
    {
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "0.0"},
        "opened_at": {"N": "0.0"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#1"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "health_ping"},
        "reopen_count": {"N": "0"},
        "sk": {"S": "promotions"},
        "state": {"S": "CLOSED"},
        "updated_at": {"N": "1800000005.0"},
        "version": {"N": "1"},
    },
    {
        "lease_until": {"N": "0.0"},
        "open_until": {"N": "1800000081.5"},
        "opened_at": {"N": "1800000021.5"},
        "override": {"S": "none"},
        "pk": {"S": "circuits#1"},
        "probe_owner": {"S": ""},
        "probe_successes": {"N": "0"},
        "reason": {"S": "timeout_threshold"},
        "reopen_count": {"N": "2"},
        "sk": {"S": "returns_service"},
        "state": {"S": "OPEN"},
        "updated_at": {"N": "1800000021.5"},
        "version": {"N": "1"},
    },
]
