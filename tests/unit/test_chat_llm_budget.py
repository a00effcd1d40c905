"""One client's Bedrock budget through the real handler: past it, templates answer as ``rate_limited``; others are
still served by Bedrock, and the fleet-wide llm circuit never hears of it."""

from __future__ import annotations

import copy
import json

import pytest

from mangaassist.breaker import CircuitState
from mangaassist.chat.api_models import ChatResponse
from mangaassist.chat.client_budget import ClientBudget
from mangaassist.chat.resolver import GUEST_CHAT_PATH
from mangaassist.client_limits import LLM_BUDGET
from tests.fakes import InMemoryBudgetStore
from tests.unit.chat_fakes import EN_REPLY, JA_REPLY, SHIPPING, FakeRuntime
from tests.unit.test_chat_api import event, invoke, load_handler, on_path

FLOODER = "203.0.113.77"
NEIGHBOUR = "198.51.100.9"
NOW = 1_790_000_400.0


@pytest.fixture
def handler(monkeypatch):
    monkeypatch.delenv("STATE_TABLE", raising=False)
    return load_handler()


@pytest.fixture
def store() -> InMemoryBudgetStore:
    return InMemoryBudgetStore()


@pytest.fixture
def fake(handler, monkeypatch, store) -> FakeRuntime:
    runtime = FakeRuntime(llm_budget=ClientBudget(store, lambda: b"unit-test-key", LLM_BUDGET, lambda: NOW))
    monkeypatch.setattr(handler, "runtime", runtime)
    return runtime


def from_address(name: str, address: str, path: str = GUEST_CHAT_PATH, message: str | None = None) -> dict:
    evt = on_path(event(name), path)
    evt["requestContext"]["identity"]["sourceIp"] = address
    if path == GUEST_CHAT_PATH:
        evt["requestContext"].pop("authorizer", None)
    if message is not None:
        evt["body"] = json.dumps({"message": message})
    return evt


def test_the_31st_guest_call_in_a_window_is_answered_from_templates_while_another_guest_gets_bedrock(
    handler, fake: FakeRuntime
) -> None:
    for _ in range(LLM_BUDGET.calls):
        status, body, _ = invoke(handler, from_address("chat_faq", FLOODER))
        assert (status, body["message"], body["degraded"]) == (200, JA_REPLY, False)
    assert fake.llm.reached == 30

    status, body, _ = invoke(handler, from_address("chat_faq", FLOODER))

    assert status == 200
    ChatResponse.model_validate(body)
    assert body["degraded"] is True
    assert body["degraded_reason"] == "rate_limited"
    assert body["message"] == SHIPPING.answer["ja"], "the FAQ's own answer, never an error"
    assert [s["faq_id"] for s in body["sources"]] == [SHIPPING.id]
    assert fake.llm.attempts == fake.llm.reached == 30, "Bedrock is not called past the budget"

    status, body, _ = invoke(handler, from_address("chat_faq", NEIGHBOUR))
    assert (status, body["message"], body["degraded"], body["degraded_reason"]) == (200, JA_REPLY, False, None)
    assert fake.llm.reached == 31
    assert fake.breakers.record("llm").state is CircuitState.CLOSED
    assert fake.breakers.record("llm").failure_buckets == {}, "a client's budget is not an llm failure"


def test_a_forwarded_for_header_does_not_buy_a_new_budget(handler, fake: FakeRuntime) -> None:
    for _ in range(LLM_BUDGET.calls):
        invoke(handler, from_address("chat_faq", FLOODER))
    evt = from_address("chat_faq", FLOODER)
    evt["headers"]["X-Forwarded-For"] = NEIGHBOUR
    evt["multiValueHeaders"]["X-Forwarded-For"] = [NEIGHBOUR]
    _, body, _ = invoke(handler, evt)
    assert body["degraded_reason"] == "rate_limited"


def test_open_ended_and_product_questions_past_the_budget_get_their_template_rows(handler, fake: FakeRuntime) -> None:
    for _ in range(LLM_BUDGET.calls):
        invoke(handler, from_address("chat_open_ended", FLOODER))
    _, open_ended, _ = invoke(handler, from_address("chat_open_ended", FLOODER))
    _, product, _ = invoke(handler, from_address("chat_faq", FLOODER, message="Is One Piece volume 107 in stock?"))

    assert (open_ended["intent"], open_ended["degraded_reason"]) == ("open_ended", "rate_limited")
    assert any(a["type"] == "escalation" for a in open_ended["actions"])
    assert (product["intent"], product["degraded_reason"]) == ("product_info", "rate_limited")
    assert [i["product_id"] for i in product["items"]][:1] == ["p-onepiece-107"], "catalog facts, by template"
    assert EN_REPLY not in open_ended["message"] + product["message"]


def test_a_signed_in_customer_is_counted_by_sub_not_by_the_shared_address(handler, fake: FakeRuntime) -> None:
    signed_in = from_address("chat_faq", FLOODER, path="/chat")
    signed_in["requestContext"]["authorizer"] = {"claims": {"sub": "cust-0007"}}
    for _ in range(LLM_BUDGET.calls):
        invoke(handler, copy.deepcopy(signed_in))
    _, over, _ = invoke(handler, copy.deepcopy(signed_in))
    _, guest_same_address, _ = invoke(handler, from_address("chat_faq", FLOODER))
    assert over["degraded_reason"] == "rate_limited"
    assert guest_same_address["degraded_reason"] is None
    assert guest_same_address["message"] == JA_REPLY


def test_a_budget_store_that_fails_lets_every_call_through(handler, fake: FakeRuntime, store) -> None:
    store.broken = True
    for _ in range(LLM_BUDGET.calls + 5):
        _, body, _ = invoke(handler, from_address("chat_faq", FLOODER))
        assert (body["message"], body["degraded_reason"]) == (JA_REPLY, None)
    assert store.writes == 35
