"""The per-client Bedrock budget's rule: fixed windows, keyed by a keyed hash of the sub or the address, fail open."""

from __future__ import annotations

import json

import pytest

from mangaassist.chat.client_budget import ClientBudget, client_hash
from mangaassist.client_limits import LLM_BUDGET, LlmBudget
from tests.fakes import InMemoryBudgetStore

KEY = b"test-hmac-key-not-a-real-one"
GUEST_IP = "203.0.113.77"
OTHER_IP = "198.51.100.9"
SUB = "0b7c6a52-1111-4c2e-9a55-3c1f0d6e8a01"
WINDOW_START = 1_790_000_400  # a multiple of 600: the start of a fixed window


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def logged_text(caplog) -> str:
    return json.dumps([vars(r) for r in caplog.records], default=str)


def budget(store: InMemoryBudgetStore, clock: Clock, key: bytes | None = KEY) -> ClientBudget:
    return ClientBudget(store, lambda: key, LlmBudget(calls=30, window_s=600), clock)


def test_the_31st_call_in_a_window_is_refused_and_another_client_still_spends() -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START + 5)
    limits = budget(store, clock)
    assert [limits.spend(None, GUEST_IP) for _ in range(30)] == [True] * 30
    assert limits.spend(None, GUEST_IP) is False
    assert limits.spend(None, OTHER_IP) is True
    assert limits.spend(SUB, GUEST_IP) is True, "a signed-in customer is counted by sub, not by the address"


def test_a_new_window_gives_the_client_its_budget_back() -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START + 590)
    limits = budget(store, clock)
    for _ in range(30):
        limits.spend(SUB, None)
    assert limits.spend(SUB, None) is False
    clock.now = WINDOW_START + 600
    assert limits.spend(SUB, None) is True


def test_guests_are_counted_by_address_and_customers_by_sub_wherever_they_come_from() -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START)
    limits = budget(store, clock)
    for _ in range(20):
        limits.spend(SUB, GUEST_IP)
    for _ in range(10):
        limits.spend(SUB, OTHER_IP)
    assert limits.spend(SUB, "192.0.2.1") is False
    assert limits.spend(None, GUEST_IP) is True


def test_the_store_sees_neither_the_address_nor_the_sub_and_counters_expire_a_window_after_theirs() -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START + 123)
    limits = budget(store, clock)
    limits.spend(None, GUEST_IP)
    limits.spend(SUB, None)
    keys = list(store.counts)
    assert all(GUEST_IP not in h and SUB not in h for h, _ in keys)
    assert {h for h, _ in keys} == {client_hash(KEY, None, GUEST_IP), client_hash(KEY, SUB, None)}
    assert {w for _, w in keys} == {WINDOW_START}
    assert set(store.expires_at.values()) == {WINDOW_START + 1200}


def test_the_hash_depends_on_the_key_so_a_table_reader_cannot_enumerate_addresses() -> None:
    assert client_hash(KEY, None, GUEST_IP) != client_hash(b"another-key", None, GUEST_IP)
    assert client_hash(KEY, None, GUEST_IP) != client_hash(KEY, GUEST_IP, None), "an address is never a sub"
    assert len(client_hash(KEY, None, GUEST_IP) or "") == 64


def test_every_call_past_the_budget_is_one_refused_write_and_never_counted() -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START)
    limits = budget(store, clock)
    for _ in range(31 + 5):
        limits.spend(None, GUEST_IP)
    assert store.writes == 36
    assert store.counts == {(client_hash(KEY, None, GUEST_IP), WINDOW_START): 30}


@pytest.mark.parametrize("broken", ["store", "key", "key_error", "no_client"])
def test_the_budget_fails_open_and_says_so_when_it_cannot_count(broken: str, caplog) -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START)
    store.broken = broken == "store"

    def key() -> bytes | None:
        if broken == "key_error":
            raise ConnectionError("secretsmanager unreachable")
        return None if broken == "key" else KEY

    limits = ClientBudget(store, key, LlmBudget(calls=1, window_s=600), clock)
    ip = None if broken == "no_client" else GUEST_IP
    assert [limits.spend(None, ip) for _ in range(3)] == [True] * 3
    assert [r.getMessage() for r in caplog.records] == ["llm_budget_not_enforced"] * 3
    assert GUEST_IP not in logged_text(caplog)


def test_the_exhausted_log_line_names_a_hash_prefix_never_the_client(caplog) -> None:
    store, clock = InMemoryBudgetStore(), Clock(WINDOW_START)
    limits = ClientBudget(store, lambda: KEY, LlmBudget(calls=1, window_s=600), clock)
    limits.spend(SUB, GUEST_IP)
    limits.spend(SUB, GUEST_IP)
    [exhausted] = [r for r in caplog.records if r.getMessage() == "llm_budget_exhausted"]
    assert exhausted.client_hash == (client_hash(KEY, SUB, None) or "")[:12]
    assert SUB not in logged_text(caplog)
    assert GUEST_IP not in logged_text(caplog)


def test_the_shipped_budget_is_thirty_calls_in_ten_minutes() -> None:
    assert (LLM_BUDGET.calls, LLM_BUDGET.window_s) == (30, 600)
