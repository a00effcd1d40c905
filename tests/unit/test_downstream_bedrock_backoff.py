"""BedrockLlm's retry and error mapping, against an in-memory Converse client (no network)."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyClientError,
    FailureKind,
    ServiceUnavailableError,
)
from mangaassist.deadline import Deadline
from mangaassist.downstream.bedrock import BedrockLlm
from tests.fakes import InMemoryCircuitStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


class MaxJitter(random.Random):
    """Always draws the top of the jitter range: the worst case for the deadline."""

    def uniform(self, a: float, b: float) -> float:
        return b


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse"
    )


def answer(text: str) -> dict:
    return {"output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": "end_turn"}


class ScriptedConverse:
    """Plays back a list of outcomes (an exception to raise or a response to return), one per call."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.requests: list[dict] = []

    def converse(self, **request):
        self.requests.append(request)
        outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breakers(clock) -> CircuitBreakers:
    return CircuitBreakers(InMemoryCircuitStore(), clock=clock)


def make_llm(breakers, client, clock, **kwargs) -> BedrockLlm:
    return BedrockLlm(breakers, client=client, model_id="test-model", sleep=clock.sleep, **kwargs)


def failures_counted(breakers: CircuitBreakers) -> int:
    return sum(breakers.record("llm").failure_buckets.values())


def test_throttling_is_retried_at_most_max_attempts_then_counted_once(breakers, clock):
    client = ScriptedConverse(client_error("ThrottlingException", 429))
    llm = make_llm(breakers, client, clock, rng=MaxJitter())
    with pytest.raises(ServiceUnavailableError) as err:
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(30, clock=clock))
    assert err.value.kind is FailureKind.THROTTLED
    assert err.value.degraded_reason == "llm_unavailable"
    assert len(client.requests) == 3
    assert failures_counted(breakers) == 1
    # Full jitter, exponential: the pauses are bounded by base * 2^(attempt - 1).
    assert clock.now - 1000.0 == pytest.approx(0.2 + 0.4)


def test_no_retry_when_the_deadline_has_no_room_for_another_attempt(breakers, clock):
    client = ScriptedConverse(client_error("ThrottlingException", 429))
    llm = make_llm(breakers, client, clock, rng=MaxJitter(), min_attempt_s=0.5)
    with pytest.raises(ServiceUnavailableError):
        # 0.6 s left, a 0.2 s pause would leave 0.4 s: less than an attempt needs.
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(0.6, clock=clock))
    assert len(client.requests) == 1
    assert clock.now == 1000.0


def test_retries_stop_as_the_deadline_runs_out(breakers, clock):
    client = ScriptedConverse(client_error("ThrottlingException", 429))
    llm = make_llm(breakers, client, clock, rng=MaxJitter(), min_attempt_s=0.5, max_attempts=10)
    with pytest.raises(ServiceUnavailableError):
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(2.0, clock=clock))
    # Pauses 0.2, 0.4 leave 1.4 s; the next pause of 0.8 would leave 0.6 >= 0.5; then 1.6 would not fit.
    assert len(client.requests) == 4
    assert clock.now - 1000.0 <= 2.0


def test_a_throttle_that_clears_returns_the_answer_uncounted(breakers, clock):
    client = ScriptedConverse(client_error("ThrottlingException", 429), answer("はい、どうぞ。"))
    llm = make_llm(breakers, client, clock)
    text = llm.converse("system", [{"role": "user", "content": "こんにちは"}], Deadline(10, clock=clock))
    assert text == "はい、どうぞ。"
    assert len(client.requests) == 2
    assert failures_counted(breakers) == 0


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ServiceUnavailableException", 503, FailureKind.ERROR),
        ("InternalServerException", 500, FailureKind.ERROR),
        ("AccessDeniedException", 403, FailureKind.ERROR),
        ("ResourceNotFoundException", 404, FailureKind.ERROR),
        ("ModelNotReadyException", 429, FailureKind.ERROR),
        ("ModelTimeoutException", 408, FailureKind.TIMEOUT),
    ],
)
def test_outages_are_counted_without_retry(breakers, clock, code, status, kind):
    client = ScriptedConverse(client_error(code, status))
    llm = make_llm(breakers, client, clock)
    with pytest.raises(ServiceUnavailableError) as err:
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert err.value.kind is kind
    assert len(client.requests) == 1
    assert failures_counted(breakers) == 1


def test_a_read_timeout_is_a_counted_timeout(breakers, clock):
    client = ScriptedConverse(ReadTimeoutError(endpoint_url="http://bedrock"))
    llm = make_llm(breakers, client, clock)
    with pytest.raises(ServiceUnavailableError) as err:
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert err.value.kind is FailureKind.TIMEOUT
    assert failures_counted(breakers) == 1


def test_a_validation_error_is_the_callers_problem_and_not_counted(breakers, clock):
    client = ScriptedConverse(client_error("ValidationException", 400))
    llm = make_llm(breakers, client, clock)
    for _ in range(5):
        with pytest.raises(DependencyClientError):
            llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert breakers.record("llm").state is CircuitState.CLOSED
    assert failures_counted(breakers) == 0


def test_an_empty_answer_is_not_an_outage(breakers, clock):
    empty = {"output": {"message": {"role": "assistant", "content": []}}, "stopReason": "guardrail_intervened"}
    llm = make_llm(breakers, ScriptedConverse(empty), clock)
    with pytest.raises(DependencyClientError):
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert failures_counted(breakers) == 0


def test_a_malformed_answer_is_counted(breakers, clock):
    llm = make_llm(breakers, ScriptedConverse({"unexpected": True}), clock)
    with pytest.raises(ServiceUnavailableError):
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert failures_counted(breakers) == 1


def test_an_exhausted_deadline_sends_nothing_and_counts_nothing(breakers, clock):
    client = ScriptedConverse(answer("never"))
    llm = make_llm(breakers, client, clock)
    deadline = Deadline(1, clock=clock)
    clock.now += 1
    with pytest.raises(ServiceUnavailableError) as err:
        llm.converse("", [{"role": "user", "content": "hi"}], deadline)
    assert err.value.kind is FailureKind.TIMEOUT
    assert client.requests == []
    assert failures_counted(breakers) == 0


def test_a_missing_model_id_is_a_counted_outage(breakers, clock, monkeypatch):
    monkeypatch.delenv("BEDROCK_MODEL_ID", raising=False)
    client = ScriptedConverse(answer("never"))
    llm = BedrockLlm(breakers, client=client, sleep=clock.sleep)
    with pytest.raises(ServiceUnavailableError):
        llm.converse("", [{"role": "user", "content": "hi"}], Deadline(10, clock=clock))
    assert client.requests == []
    assert failures_counted(breakers) == 1


def test_the_request_is_converse_shaped(breakers, clock, monkeypatch):
    monkeypatch.setenv("BEDROCK_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    client = ScriptedConverse(answer("ok"))
    llm = BedrockLlm(breakers, client=client, sleep=clock.sleep)
    messages = [
        {"role": "user", "content": "plain text"},
        {"role": "assistant", "content": [{"text": "blocks"}]},
        {"role": "user", "content": "again"},
    ]
    llm.converse("be brief", messages, Deadline(10, clock=clock), max_tokens=50)
    (sent,) = client.requests
    assert sent["modelId"] == "anthropic.claude-3-haiku-20240307-v1:0"
    assert sent["system"] == [{"text": "be brief"}]
    assert sent["messages"][0] == {"role": "user", "content": [{"text": "plain text"}]}
    assert sent["messages"][1] == {"role": "assistant", "content": [{"text": "blocks"}]}
    assert sent["inferenceConfig"]["maxTokens"] == 50


def test_backoff_is_full_jitter_under_an_exponential_cap(breakers, clock):
    llm = make_llm(breakers, ScriptedConverse(answer("x")), clock, rng=random.Random(3))
    for attempt in range(1, 8):
        ceiling = min(llm.max_backoff_s, llm.base_backoff_s * 2 ** (attempt - 1))
        draws = [llm._backoff(attempt) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # spread over the whole range, not a fixed delay
        assert min(draws) < ceiling * 0.2


# ---------------------------------------------------------------- slow means slow per token, not long


def with_usage(text: str, output_tokens: int) -> dict:
    return {
        **answer(text),
        "usage": {"inputTokens": 10, "outputTokens": output_tokens, "totalTokens": 10 + output_tokens},
    }


@pytest.mark.parametrize(
    ("elapsed_ms", "output_tokens", "slow"),
    [
        (5500.0, 400, False),  # a long answer at ~14 ms a token: Bedrock is fine, the answer was long
        (5500.0, 50, True),  # 110 ms a token: Bedrock is slow
        (17000.0, 400, True),  # long and slow per token
        (4900.0, 1, False),  # under the registry's slow_call_ms nothing is slow
        (5500.0, 0, True),  # no usage reported: judged by total time as before
    ],
)
def test_a_bedrock_call_is_slow_by_its_time_per_output_token_past_the_slow_call_threshold(
    breakers, clock, elapsed_ms, output_tokens, slow
):
    llm = make_llm(breakers, ScriptedConverse(answer("x")), clock)
    assert llm.spec.slow_call_ms == 5000
    assert llm._is_slow(("x", output_tokens), elapsed_ms) is slow


def test_the_breaker_counts_what_the_judge_calls_slow_and_only_that(breakers):
    for _ in range(2):
        assert breakers.call("llm", lambda: ("fast", 400), is_slow=lambda result, elapsed_ms: False) == ("fast", 400)
    assert breakers.record("llm").state is CircuitState.CLOSED
    for _ in range(3):
        breakers.call("llm", lambda: ("slow", 5), is_slow=lambda result, elapsed_ms: result[1] < 10)
    assert breakers.record("llm").state is CircuitState.OPEN


def test_converse_returns_the_text_and_hands_the_output_tokens_to_the_judge(breakers, clock):
    judged = []
    llm = make_llm(breakers, ScriptedConverse(with_usage("A long answer.", 380)), clock)
    llm._is_slow = lambda result, elapsed_ms: judged.append(result) or False
    assert llm.converse("system", [{"role": "user", "content": "hi"}], Deadline(6.0, clock=clock)) == "A long answer."
    assert judged == [("A long answer.", 380)]
