"""The Llm port on Amazon Bedrock's Converse API, behind the llm circuit breaker, with a bounded throttle backoff.

botocore's own retries are off (total_max_attempts=1): a ThrottlingException is retried here, with full-jitter
exponential backoff, only while the request's deadline leaves room for another attempt; then the breaker
counts one failure and the caller gets ServiceUnavailableError("llm") and takes the template path.
Timeouts are the registry's llm timeout capped by the deadline; botocore fixes them per client, so clients
are kept per timeout bucket. The endpoint comes from AWS_ENDPOINT_URL_BEDROCK_RUNTIME / AWS_ENDPOINT_URL.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore import exceptions as bx
from botocore.config import Config
from botocore.parsers import ResponseParserError

from mangaassist import aws_clients
from mangaassist.breaker import CircuitBreakers, DependencyClientError, DependencyError, FailureKind, classify
from mangaassist.breaker.failure import dependency_error, failure_for_aws_code
from mangaassist.deadline import Deadline
from mangaassist.downstream.models import PingResult
from mangaassist.downstream.ports import elapsed_ms, refuse_without_time
from mangaassist.registry import ServiceSpec

logger = logging.getLogger("mangaassist.downstream")

LLM = "llm"
MODEL_ID_ENV = "BEDROCK_MODEL_ID"
BEDROCK_SERVICE = "bedrock-runtime"
TIMEOUT_STEP_S = 0.25  # client timeouts are rounded down to this step, so a handful of clients serve all deadlines
PING_PROMPT = "ping"
# A model that streams tokens slower than this is slow, whatever the answer's length: Haiku-class models give
# ~10 ms a token. Past the registry's slow_call_ms a call is slow only if it was also slow per token, so one
# client asking for long answers cannot make Bedrock look degraded to the fleet-wide breaker.
SLOW_MS_PER_OUTPUT_TOKEN = 40.0


def _bucket(timeout_s: float) -> float:
    return max(TIMEOUT_STEP_S, math.floor(timeout_s / TIMEOUT_STEP_S) * TIMEOUT_STEP_S)


def _converse_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accept {"role", "content": str} as well as Converse's content-block lists."""
    converted = []
    for message in messages:
        content = message["content"]
        if isinstance(content, str):
            content = [{"text": content}]
        converted.append({"role": message["role"], "content": content})
    return converted


def _answer_text(response: dict[str, Any]) -> str:
    try:
        blocks = response["output"]["message"]["content"]
        text = "".join(block.get("text", "") for block in blocks if isinstance(block, dict)).strip()
    except (KeyError, TypeError, AttributeError) as err:
        raise dependency_error(bedrock_failure(err), LLM, "malformed converse response") from err
    if not text:
        # A guardrail or filter stopped this answer; the model is fine, this prompt gets the template.
        raise DependencyClientError(LLM, 200, f"empty answer (stopReason {response.get('stopReason')})")
    return text


def _error_code(err: bx.ClientError) -> tuple[str, int]:
    code = err.response.get("Error", {}).get("Code", "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return code, status


def bedrock_failure(err: Exception) -> FailureKind | None:
    """This transport's one translation into the breaker's vocabulary, for converse and ping alike.

    Only a malformed request (ValidationException, a parameter botocore rejects) is our mistake. Every other
    error code (403 on a missing model grant, 404 on a disabled model, 424, 5xx) makes the LLM unusable for
    every customer and must open the circuit.
    """
    if isinstance(err, bx.ClientError):
        code, status = _error_code(err)
        return failure_for_aws_code(code, status, client_errors_are_outages=True)
    if isinstance(err, bx.ParamValidationError):
        return None
    # An answer without the promised shape is the endpoint breaking its contract.
    return classify(err) or FailureKind.ERROR


def _failure_word(err: Exception, kind: FailureKind | None) -> str:
    if kind is FailureKind.THROTTLED:
        return "throttled"
    if isinstance(err, bx.ClientError):
        return f"http_{_error_code(err)[1]}"
    if kind is FailureKind.TIMEOUT:
        return "timeout"
    return "connection" if isinstance(err, bx.ConnectionError | bx.HTTPClientError) else "request_error"


class BedrockLlm:
    """The orchestrator's Llm port. Create once per execution environment."""

    def __init__(
        self,
        breakers: CircuitBreakers,
        client: Any | None = None,
        model_id: str | None = None,
        *,
        max_attempts: int = 3,
        base_backoff_s: float = 0.2,
        max_backoff_s: float = 2.0,
        min_attempt_s: float = 0.5,
        temperature: float = 0.2,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.breakers = breakers
        self.max_attempts = max_attempts
        self.base_backoff_s = base_backoff_s
        self.max_backoff_s = max_backoff_s
        self.min_attempt_s = min_attempt_s  # time another throttled attempt needs to be worth making
        self.temperature = temperature
        self._fixed_client = client
        self._model_id = model_id
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._clients: dict[float, Any] = {}
        self._session: boto3.session.Session | None = None
        self._lock = threading.Lock()

    @property
    def spec(self) -> ServiceSpec:
        return self.breakers.registry[LLM]

    @property
    def model_id(self) -> str | None:
        return self._model_id or os.getenv(MODEL_ID_ENV) or None

    # ------------------------------------------------------------------ the Llm port

    def converse(self, system: str, messages: list[dict[str, Any]], deadline: Deadline, max_tokens: int = 400) -> str:
        refuse_without_time(LLM, deadline)
        request: dict[str, Any] = {
            "messages": _converse_messages(messages),
            "inferenceConfig": {"maxTokens": max_tokens, "temperature": self.temperature},
        }
        if system:
            request["system"] = [{"text": system}]
        text, _ = self.breakers.call(LLM, self._converse_within_deadline, request, deadline, is_slow=self._is_slow)
        return text

    def _is_slow(self, answer: tuple[str, int], elapsed_ms: float) -> bool:
        _, output_tokens = answer
        return elapsed_ms > self.spec.slow_call_ms and elapsed_ms / max(1, output_tokens) > SLOW_MS_PER_OUTPUT_TOKEN

    def _converse_within_deadline(self, request: dict[str, Any], deadline: Deadline) -> tuple[str, int]:
        """The answer and its output tokens (Converse's usage), which judge whether the call was slow."""
        model_id = self.model_id
        if not model_id:
            raise DependencyError(LLM, f"{MODEL_ID_ENV} is not set")
        attempt = 0
        while True:
            attempt += 1
            timeout_s = deadline.timeout_for(self.spec.timeout_ms)
            try:
                response = self._client_for(timeout_s).converse(modelId=model_id, **request)
            except bx.ClientError as err:
                kind = bedrock_failure(err)
                if kind is FailureKind.THROTTLED and attempt < self.max_attempts:
                    pause = self._backoff(attempt)
                    if deadline.remaining() - pause >= self.min_attempt_s:
                        logger.warning("llm_throttled_backoff", extra={"attempt": attempt, "pause_s": round(pause, 3)})
                        self._sleep(pause)
                        continue
                code, status = _error_code(err)
                if kind is None:
                    raise DependencyClientError(LLM, status, code) from err
                raise dependency_error(kind, LLM, code or f"HTTP {status}", status_code=status) from err
            except (bx.ConnectionError, bx.HTTPClientError) as err:  # the timeouts are both of these
                kind = bedrock_failure(err)
                if kind is FailureKind.TIMEOUT:
                    raise dependency_error(kind, LLM, f"no answer within {timeout_s:.2f}s") from err
                raise dependency_error(kind, LLM, f"connection failed ({type(err).__name__})") from err
            except bx.ParamValidationError as err:
                raise DependencyClientError(LLM, 400, "invalid converse request") from err
            except ResponseParserError as err:
                raise dependency_error(bedrock_failure(err), LLM, "malformed converse response") from err
            usage = response.get("usage") or {}
            output_tokens = usage.get("outputTokens") if isinstance(usage, dict) else None
            return _answer_text(response), output_tokens if isinstance(output_tokens, int) else 0

    def _backoff(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))], so throttled callers spread out."""
        return self._rng.uniform(0, min(self.max_backoff_s, self.base_backoff_s * 2 ** (attempt - 1)))

    # ------------------------------------------------------------------ health ping (no breaker)

    def ping(self, timeout_s: float) -> PingResult:
        """The cheapest real call: a one-token converse, outside the breaker."""
        model_id = self.model_id
        if not model_id:
            return PingResult(LLM, False, 0.0, detail="not_configured")
        started = time.perf_counter()
        try:
            response = self._client_for(timeout_s).converse(
                modelId=model_id,
                messages=[{"role": "user", "content": [{"text": PING_PROMPT}]}],
                inferenceConfig={"maxTokens": 1},
            )
        except (bx.ClientError, bx.BotoCoreError, ResponseParserError) as err:
            kind = bedrock_failure(err)
            status = (_error_code(err)[1] or None) if isinstance(err, bx.ClientError) else None
            return PingResult(LLM, False, elapsed_ms(started), status, failure=kind, detail=_failure_word(err, kind))
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        return PingResult(LLM, True, elapsed_ms(started), status)

    # ------------------------------------------------------------------ clients

    def _client_for(self, timeout_s: float) -> Any:
        if self._fixed_client is not None:
            return self._fixed_client
        bucket = _bucket(timeout_s)
        with self._lock:
            found = self._clients.get(bucket)
            if found is None:
                found = self._clients[bucket] = self._new_client(bucket)
            return found

    def _new_client(self, timeout_s: float) -> Any:
        # Region and the hot-path settings come from the shared factory's client; only the timeouts differ.
        base = aws_clients.client(BEDROCK_SERVICE)
        if self._session is None:
            self._session = boto3.session.Session()
        config = base.meta.config.merge(
            Config(
                connect_timeout=timeout_s,
                read_timeout=timeout_s,
                # botocore's "max_attempts" counts retries (1 = two attempts); exactly one attempt is wanted.
                retries={"total_max_attempts": 1, "mode": "standard"},
            )
        )
        return self._session.client(BEDROCK_SERVICE, region_name=base.meta.region_name, config=config)
