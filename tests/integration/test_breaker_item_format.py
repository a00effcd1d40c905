"""The circuit items exactly as DynamoCircuitStore writes them: what the dashboard, the pinger, operators' tools
and every deployed environment read, so a change to the adapter's marshalling must leave them identical."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.breaker.model import CircuitRecord, CircuitState, Override
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

# What the hand-written marshalling wrote, before it moved to mangaassist.dynamo: one item per primitive on
# "circuits", and the same transitions and overrides on each read copy.
PINNED = json.loads(Path(__file__).with_name("circuit_items_v1.json").read_text(encoding="utf-8"))
EXPECTED_PRIMARY: list[dict] = PINNED["primary"]
EXPECTED_COPIES: list[dict] = PINNED["copies"]


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
