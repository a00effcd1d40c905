"""BedrockLlm through real boto3 against the Bedrock simulator: answers, bounded throttle backoff, outages,
the breaker, and the one-token ping. Calls are counted at the simulator."""

from __future__ import annotations

import dataclasses
import random
import time

import pytest

from mangaassist.aws_clients import client as shared_client
from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyClientError,
    FailureKind,
)
from mangaassist.deadline import Deadline
from mangaassist.downstream.bedrock import BedrockLlm
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore, ManualClock
from tests.integration.breaker_checks import counted, outage, with_timeout

pytestmark = pytest.mark.integration

LLM_TIMEOUT_MS = 500
FAST_REGISTRY = {
    **REGISTRY,
    "llm": with_timeout(REGISTRY["llm"], LLM_TIMEOUT_MS),
}
THRESHOLD = FAST_REGISTRY["llm"].breaker.failure_threshold
CONTEXT = "<context>\nPre-orders are charged on the release date.\n予約商品のお支払いは発売日に確定します。\n</context>"


class MaxJitter(random.Random):
    """The top of every jitter range, so the number of attempts a deadline allows is exact."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.fixture(scope="module")
def simulated_services() -> tuple[str, ...]:
    return ("llm",)


@pytest.fixture(autouse=True)
def bedrock_env(healthy_fleet, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", healthy_fleet.urls()["llm"])
    monkeypatch.setenv("BEDROCK_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    shared_client.cache_clear()
    yield
    shared_client.cache_clear()


@pytest.fixture
def breakers() -> CircuitBreakers:
    return CircuitBreakers(InMemoryCircuitStore(), registry=FAST_REGISTRY)


@pytest.fixture
def llm(breakers) -> BedrockLlm:
    return BedrockLlm(breakers, rng=MaxJitter())


def ask(llm: BedrockLlm, text: str, deadline: Deadline | None = None) -> str:
    return llm.converse(
        f"You are MangaAssist.\n{CONTEXT}", [{"role": "user", "content": text}], deadline or Deadline(5)
    )


def test_a_grounded_answer_in_the_customers_language(llm, fleet):
    assert "release date" in ask(llm, "When is a pre-order charged?")
    assert "発売日" in ask(llm, "予約の支払いはいつですか？")
    sent = fleet.requests("llm")[0]["json"]
    assert sent["messages"] == [{"role": "user", "content": [{"text": "When is a pre-order charged?"}]}]
    assert sent["inferenceConfig"]["maxTokens"] == 400
    assert fleet.stats()["llm"] == {"calls": 2, "failures": 0}


class Pauses:
    """BedrockLlm's sleep: records each backoff pause and moves the deadline's clock by it, in no real time."""

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.taken: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.taken.append(seconds)
        self.clock.advance(seconds)


def test_throttling_is_retried_at_most_three_times_then_counted_once(breakers, fleet):
    clock = ManualClock()
    pauses = Pauses(clock)
    llm = BedrockLlm(breakers, rng=MaxJitter(), sleep=pauses)
    fleet.set_fault("llm", "throttle")
    assert outage(lambda: ask(llm, "hi", Deadline(5, clock=clock))).kind is FailureKind.THROTTLED
    assert fleet.stats()["llm"]["calls"] == 3
    assert pauses.taken == pytest.approx([0.2, 0.4])  # exponential backoff between them, none after the last
    assert counted(breakers, "llm") == 1


def test_throttle_backoff_stops_where_the_deadline_leaves_no_room(breakers, fleet):
    clock = ManualClock()
    pauses = Pauses(clock)
    llm = BedrockLlm(breakers, rng=MaxJitter(), max_attempts=10, min_attempt_s=0.3, sleep=pauses)
    fleet.set_fault("llm", "throttle")
    # Pauses 0.2 s, 0.4 s, 0.8 s...: within 1.5 s a third pause would leave less than 0.3 s for its attempt.
    outage(lambda: ask(llm, "hi", Deadline(1.5, clock=clock)))
    assert fleet.stats()["llm"]["calls"] == 3
    assert pauses.taken == pytest.approx([0.2, 0.4])  # the 0.8 s pause was not taken: it did not fit

    fleet.reset_stats()
    clock = ManualClock()
    pauses = Pauses(clock)
    # 0.6 s and the default 0.5 s per attempt: even the first pause does not fit.
    llm = BedrockLlm(breakers, rng=MaxJitter(), sleep=pauses)
    outage(lambda: llm.converse("", [{"role": "user", "content": "hi"}], Deadline(0.6, clock=clock)))
    assert fleet.stats()["llm"]["calls"] == 1
    assert pauses.taken == []


def test_a_throttle_that_clears_during_backoff_still_answers(llm, breakers, fleet):
    llm.ping(LLM_TIMEOUT_MS / 1000)  # builds the boto3 client first, outside the breaker
    fleet.reset_stats()
    fleet.set_fault("llm", "throttle", expires_in_s=0.1)
    assert "release date" in ask(llm, "When is a pre-order charged?")
    assert fleet.stats()["llm"]["calls"] == 2
    assert counted(breakers, "llm") == 0


def test_service_unavailable_is_counted_with_exactly_one_request(llm, breakers, fleet):
    fleet.set_fault("llm", "error")
    assert outage(lambda: ask(llm, "hi")).kind is FailureKind.ERROR
    assert fleet.stats()["llm"] == {"calls": 1, "failures": 1}  # botocore did not retry behind our back
    assert counted(breakers, "llm") == 1


def test_down_is_a_counted_error(llm, breakers, fleet):
    fleet.set_fault("llm", "down")
    assert outage(lambda: ask(llm, "hi")).kind is FailureKind.ERROR
    assert fleet.stats()["llm"]["calls"] == 1
    assert counted(breakers, "llm") == 1


def test_hang_is_bounded_by_the_registry_timeout(llm, breakers, fleet):
    llm.ping(LLM_TIMEOUT_MS / 1000)
    fleet.set_fault("llm", "hang")
    started = time.perf_counter()
    assert outage(lambda: ask(llm, "hi", Deadline(5))).kind is FailureKind.TIMEOUT
    assert LLM_TIMEOUT_MS / 1000 <= time.perf_counter() - started < LLM_TIMEOUT_MS / 1000 + 1.0
    assert counted(breakers, "llm") == 1


def test_the_deadline_caps_the_timeout(fleet):
    registry = {**REGISTRY, "llm": dataclasses.replace(REGISTRY["llm"], timeout_ms=3000)}
    llm = BedrockLlm(CircuitBreakers(InMemoryCircuitStore(), registry=registry))
    llm.ping(0.5)
    fleet.set_fault("llm", "hang")
    started = time.perf_counter()
    assert outage(lambda: ask(llm, "hi", Deadline(0.6))).kind is FailureKind.TIMEOUT
    # Real sockets, so real time; 1.5 s of slack for a busy machine still falls well short of the 3 s timeout.
    assert time.perf_counter() - started < 0.6 + 1.5


def test_the_circuit_opens_and_then_nothing_reaches_bedrock(llm, breakers, fleet):
    fleet.set_fault("llm", "error")
    for _ in range(THRESHOLD):
        outage(lambda: ask(llm, "hi"))
    assert breakers.record("llm").state is CircuitState.OPEN
    fleet.clear_faults()
    fleet.reset_stats()
    assert outage(lambda: ask(llm, "hi")).kind is FailureKind.CIRCUIT_OPEN
    assert fleet.stats()["llm"]["calls"] == 0


def test_a_malformed_conversation_is_a_client_error_and_not_counted(llm, breakers):
    for _ in range(THRESHOLD + 1):
        with pytest.raises(DependencyClientError) as err:
            llm.converse("", [{"role": "assistant", "content": "I start"}], Deadline(5))
        assert err.value.status_code == 400
    assert counted(breakers, "llm") == 0
    assert breakers.record("llm").state is CircuitState.CLOSED


def test_ping_is_a_one_token_converse_outside_the_breaker(llm, breakers, fleet):
    result = llm.ping(1.0)
    assert (result.ok, result.status_code, result.failure) == (True, 200, None)
    assert fleet.requests("llm")[-1]["json"]["inferenceConfig"] == {"maxTokens": 1}

    observed = {}
    for mode in ("throttle", "error", "down", "hang"):
        fleet.set_fault("llm", mode)
        ping = llm.ping(0.3)
        observed[mode] = (ping.ok, ping.status_code, ping.failure, ping.detail)
    assert observed == {
        "throttle": (False, 429, FailureKind.THROTTLED, "throttled"),
        "error": (False, 503, FailureKind.ERROR, "http_503"),
        "down": (False, None, FailureKind.ERROR, "connection"),
        "hang": (False, None, FailureKind.TIMEOUT, "timeout"),
    }
    assert counted(breakers, "llm") == 0

    fleet.clear_faults()
    breakers.force_open("llm", "test")
    assert llm.ping(1.0).ok  # the pinger must see recovery while the circuit is open


def test_ping_without_a_model_id_is_not_configured(breakers, monkeypatch):
    monkeypatch.delenv("BEDROCK_MODEL_ID")
    result = BedrockLlm(breakers).ping(1.0)
    assert (result.ok, result.failure, result.detail) == (False, FailureKind.ERROR, "not_configured")
