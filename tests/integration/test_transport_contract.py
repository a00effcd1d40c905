"""One contract for every transport: the same failures, over real sockets, mean the same FailureKind on the call
path, in the health ping and when the raw client's exception reaches the breaker untranslated, and the breaker's
metric names follow that kind (`<Prefix>Timeout` for a timeout or a slow call, `<Prefix>Error` otherwise).

The simulators (local/) provide the faults they have (reset, hang, 429, 5xx, a request the service refuses, a slow
answer); the rest are set up here: a listener whose backlog is full (a connect that never completes), and a scripted
answer on the local stack's HttpServer that sends its headers and then stalls, or sends a body that breaks the
contract.
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
from werkzeug.wrappers import Request, Response

from local.serving import STOPPING, HttpServer, Reset
from mangaassist.aws_clients import client as shared_client
from mangaassist.breaker import (
    CircuitBreakers,
    DependencyClientError,
    FailureKind,
    ServiceUnavailableError,
)
from mangaassist.deadline import Deadline
from mangaassist.downstream.bedrock import BedrockLlm
from mangaassist.downstream.http_services import HttpDownstream
from mangaassist.downstream.models import PingResult
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore, RecordingTelemetry

pytestmark = pytest.mark.integration

TIMEOUT_MS = 1000
SLOW_CALL_MS = 300
SLOW_ANSWER_MS = 550  # past the slow-call threshold, well inside the timeout
HTTP = "order_service"
LLM = "llm"
# Same services, thresholds and metric names as production; only the clocks are shortened.
REGISTRY_COPY = {
    name: dataclasses.replace(spec, timeout_ms=TIMEOUT_MS, slow_call_ms=SLOW_CALL_MS) for name, spec in REGISTRY.items()
}
OK = None  # the ping answered


@dataclass(frozen=True)
class Case:
    name: str
    call: FailureKind | None  # what the breaker counts for a call; None: not an outage, nothing counted
    ping: FailureKind | None  # the ping's failure; None: the ping answered
    ping_bedrock: FailureKind | str | None = "same"  # where Bedrock's ping sees more than an HTTP health check


def expected_ping(case: Case, transport: str) -> FailureKind | None:
    return case.ping_bedrock if transport == "bedrock" and case.ping_bedrock != "same" else case.ping


CASES = [
    Case("connect timeout", FailureKind.TIMEOUT, FailureKind.TIMEOUT),
    Case("read timeout", FailureKind.TIMEOUT, FailureKind.TIMEOUT),  # no headers ever come
    # Headers came, the body stalls: requests raises ConnectionError(ReadTimeoutError), not Timeout.
    Case("read timeout mid-body", FailureKind.TIMEOUT, FailureKind.TIMEOUT),
    Case("reset", FailureKind.ERROR, FailureKind.ERROR),
    Case("429", FailureKind.THROTTLED, FailureKind.THROTTLED),
    Case("5xx", FailureKind.ERROR, FailureKind.ERROR),
    # The service refuses this one request; it is up, so its ping answers.
    Case("4xx", None, OK),
    # An HTTP health check does not read a body; botocore parses every Bedrock answer, the ping's too.
    Case("malformed body", FailureKind.ERROR, OK, ping_bedrock=FailureKind.ERROR),
    Case("slow success", FailureKind.SLOW, OK),
]
SIMULATOR_FAULTS = {"read timeout": "hang", "reset": "down", "429": "throttle", "5xx": "error", "slow success": "slow"}


# ---------------------------------------------------------------------- sockets the simulators cannot be


@pytest.fixture(scope="module")
def unanswered_connect() -> Iterator[str]:
    """A listener that never accepts, its backlog filled: a new connection's handshake never completes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}"
    for sock in [*fillers, listener]:
        sock.close()


def scripted_answer(body: bytes, stall: bool) -> Callable[..., Any]:
    """Answers 200 with ``body``; with ``stall``, promises more body than it sends and holds the rest back until
    the server stops, then resets the connection."""

    @Request.application
    def answer(request: Request) -> Response:
        def stalled() -> Iterator[bytes]:
            yield body
            request.environ[STOPPING].wait()
            raise Reset

        promised = len(body) + (4096 if stall else 0)
        content = stalled() if stall else body
        return Response(content, 200, {"Content-Length": str(promised)}, mimetype="application/json")

    return answer


@pytest.fixture
def scripted() -> Iterator[Callable[..., str]]:
    servers: list[HttpServer] = []

    def start(body: bytes, stall: bool = False) -> str:
        servers.append(HttpServer(scripted_answer(body, stall), "scripted-answer").start())
        return servers[-1].url

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="module")
def simulated_services() -> tuple[str, ...]:
    return (HTTP, LLM)


@pytest.fixture(autouse=True)
def healthy(healthy_fleet) -> Iterator[None]:
    yield
    shared_client.cache_clear()


# ---------------------------------------------------------------------- the two transports


@dataclass
class Transport:
    """One transport pointed at one endpoint, with the breaker it reports to."""

    service: str
    breakers: CircuitBreakers
    telemetry: RecordingTelemetry
    call: Callable[[bool], Any]  # the port's call path; True: a request the service refuses
    ping: Callable[[], PingResult]
    raw: Callable[[], Any]  # the same exchange through the bare client, nothing translated


def _breakers() -> tuple[CircuitBreakers, RecordingTelemetry]:
    telemetry = RecordingTelemetry()
    return CircuitBreakers(InMemoryCircuitStore(), registry=REGISTRY_COPY, telemetry=telemetry), telemetry


def http_transport(url: str, monkeypatch: pytest.MonkeyPatch) -> Transport:
    breakers, telemetry = _breakers()
    downstream = HttpDownstream(breakers, base_urls={HTTP: url})
    timeout_s = TIMEOUT_MS / 1000

    def call(refused: bool) -> Any:
        return downstream.recent_orders("cust-unknown" if refused else "cust-0001", Deadline(5))

    return Transport(
        HTTP,
        breakers,
        telemetry,
        call,
        lambda: downstream.ping(HTTP, timeout_s),
        lambda: requests.get(f"{url}/customers/cust-0001/orders", timeout=(timeout_s, timeout_s)),
    )


def bedrock_transport(url: str, monkeypatch: pytest.MonkeyPatch) -> Transport:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", url)
    monkeypatch.setenv("BEDROCK_MODEL_ID", "anthropic.claude-3-haiku-20240307-v1:0")
    shared_client.cache_clear()
    breakers, telemetry = _breakers()
    # One attempt: the throttle backoff is its own test; here a 429 must reach the breaker once.
    llm = BedrockLlm(breakers, max_attempts=1)
    timeout_s = TIMEOUT_MS / 1000

    def call(refused: bool) -> Any:
        # A conversation may not open with the assistant: Bedrock answers ValidationException (400).
        role = "assistant" if refused else "user"
        # A short answer: a slow call counts only when it was slow per output token too (a sick model, not a
        # long answer), and 8 tokens in SLOW_ANSWER_MS is that.
        return llm.converse("", [{"role": role, "content": "hi"}], Deadline(5), max_tokens=8)

    def raw() -> Any:
        messages = [{"role": "user", "content": [{"text": "hi"}]}]
        return llm._client_for(timeout_s).converse(modelId=llm.model_id, messages=messages)

    return Transport(LLM, breakers, telemetry, call, lambda: llm.ping(timeout_s), raw)


TRANSPORTS = {"http": http_transport, "bedrock": bedrock_transport}
MALFORMED = {"http": b"<html>maintenance</html>", "bedrock": b'{"output": {"message": null}}'}


@pytest.fixture
def endpoint(request, fleet, unanswered_connect, scripted) -> Callable[[str, Case], str]:
    def url_for(transport: str, case: Case) -> str:
        service = HTTP if transport == "http" else LLM
        if case.name == "connect timeout":
            return unanswered_connect
        if case.name == "read timeout mid-body":
            return scripted(b'{"orders": [', stall=True)
        if case.name == "malformed body":
            return scripted(MALFORMED[transport])
        if case.name in SIMULATOR_FAULTS:
            latency = {"latency_ms": SLOW_ANSWER_MS} if case.name == "slow success" else {}
            fleet.set_fault(service, SIMULATOR_FAULTS[case.name], **latency)
        return fleet.urls()[service]

    return url_for


def failure_metrics(transport: Transport) -> set[str]:
    spec = REGISTRY[transport.service]
    return {name for _, name, _ in transport.telemetry.events if name in (spec.error_metric, spec.timeout_metric)}


def counted(transport: Transport) -> int:
    return sum(transport.breakers.record(transport.service).failure_buckets.values())


# ---------------------------------------------------------------------- the contract


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("transport_name", TRANSPORTS)
def test_every_transport_names_each_failure_the_same_way(transport_name, case, endpoint, monkeypatch):
    transport = TRANSPORTS[transport_name](endpoint(transport_name, case), monkeypatch)
    spec = REGISTRY[transport.service]

    if case.call is None:
        with pytest.raises(DependencyClientError):
            transport.call(True)
    elif case.call is FailureKind.SLOW:
        transport.call(False)  # the answer is used; the breaker still counts the slowness
    else:
        with pytest.raises(ServiceUnavailableError) as outage:
            transport.call(False)
        assert outage.value.kind is case.call
    assert counted(transport) == (0 if case.call is None else 1)
    expected_metric = {
        None: set(),
        FailureKind.TIMEOUT: {spec.timeout_metric},
        FailureKind.SLOW: {spec.timeout_metric},
    }.get(case.call, {spec.error_metric})
    assert failure_metrics(transport) == expected_metric

    pinged = transport.ping()
    ping_failure = expected_ping(case, transport_name)
    assert (pinged.ok, pinged.failure) == (ping_failure is None, ping_failure)
    assert counted(transport) == (0 if case.call is None else 1), "a ping never counts on its own"


EXCEPTION_CASES = {
    "http": ["connect timeout", "read timeout", "read timeout mid-body", "reset"],
    "bedrock": ["connect timeout", "read timeout", "read timeout mid-body", "reset", "429", "5xx", "malformed body"],
}


@pytest.mark.parametrize(
    ("transport_name", "case"),
    [(t, c) for t, names in EXCEPTION_CASES.items() for c in CASES if c.name in names],
    ids=lambda v: v if isinstance(v, str) else v.name,
)
def test_an_untranslated_exception_reaching_the_breaker_is_counted_as_the_transport_counts_it(
    transport_name, case, endpoint, monkeypatch
):
    """What a new adapter or a guard()-decorated function would hand the breaker: the client's own exception."""
    transport = TRANSPORTS[transport_name](endpoint(transport_name, case), monkeypatch)
    with pytest.raises(ServiceUnavailableError) as outage:
        transport.breakers.call(transport.service, transport.raw)
    assert outage.value.kind is case.call
    assert counted(transport) == 1
