"""HttpDownstream over real HTTP against the simulators, through a real breaker: every fault mode as the
orchestrator sees it, and what the breaker counts. Timeouts come from a registry copy, never edited."""

from __future__ import annotations

import dataclasses
import time

import pytest
from werkzeug.wrappers import Request, Response

from local.serving import HttpServer
from mangaassist.breaker import (
    CircuitBreakers,
    CircuitState,
    DependencyClientError,
    FailureKind,
    ServiceUnavailableError,
)
from mangaassist.deadline import Deadline
from mangaassist.downstream.http_services import HttpDownstream
from mangaassist.downstream.models import Order, Product
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore, ManualClock
from tests.integration.breaker_checks import counted, outage, with_timeout

pytestmark = pytest.mark.integration

TIMEOUT_MS = 250
# Same services, thresholds and names as production; only the clocks are shortened so the suite stays fast.
FAST_REGISTRY = {name: with_timeout(spec, TIMEOUT_MS) for name, spec in REGISTRY.items()}
ORDERS = "order_service"
THRESHOLD = FAST_REGISTRY[ORDERS].breaker.failure_threshold


@pytest.fixture(autouse=True)
def healthy(healthy_fleet):
    return healthy_fleet


@pytest.fixture
def breakers() -> CircuitBreakers:
    return CircuitBreakers(InMemoryCircuitStore(), registry=FAST_REGISTRY)


@pytest.fixture
def downstream(fleet, breakers, monkeypatch) -> HttpDownstream:
    for key, value in fleet.env().items():
        monkeypatch.setenv(key, value)
    return HttpDownstream(breakers)


def deadline() -> Deadline:
    return Deadline(10)


# ---------------------------------------------------------------------- healthy services


def test_every_port_method_returns_typed_results(downstream, fleet):
    orders = downstream.recent_orders("cust-0003", deadline(), limit=2)
    assert len(orders) == 2
    assert all(isinstance(o, Order) for o in orders)
    found = downstream.search_products("呪術廻戦", "ja", deadline())
    assert found
    assert all(isinstance(p, Product) and "呪術廻戦" in p.title_ja for p in found)
    assert len(downstream.popular_products(deadline(), limit=4)) == 4
    assert downstream.product(found[0].product_id, deadline()) == found[0]
    recs = downstream.recommendations("cust-0001", deadline(), limit=3)
    assert len(recs) == 3
    assert all(p.reason for p in recs)
    assert downstream.recommendations(None, deadline(), limit=2)[0].reason == "trending"
    assert downstream.returns("cust-0001", deadline())[0].return_id
    assert downstream.promotions(None, "en", deadline())
    assert downstream.profile("cust-0002", deadline()).preferred_language == "en"
    downstream.record_event({"type": "chat_turn", "intent": "faq"}, deadline())
    downstream.send_feedback({"rating": 5, "comment": "助かりました"}, deadline())
    assert fleet.requests("feedback")[-1]["json"] == {"rating": 5, "comment": "助かりました"}
    assert all(stats["failures"] == 0 for stats in fleet.stats().values())


def test_customer_ids_are_sent_as_one_path_segment(downstream, fleet):
    with pytest.raises(DependencyClientError):
        downstream.recent_orders("../../products/popular", deadline())
    assert fleet.requests(ORDERS)[-1]["path"] == "/customers/..%2F..%2Fproducts%2Fpopular/orders"


# ---------------------------------------------------------------------- each fault mode, counted


def test_down_is_a_counted_error_and_opens_the_circuit_at_the_threshold(downstream, breakers, fleet):
    fleet.set_fault(ORDERS, "down")
    for n in range(1, THRESHOLD + 1):
        err = outage(lambda: downstream.recent_orders("cust-0001", deadline()))
        assert err.kind is FailureKind.ERROR
        assert err.degraded_reason == "order_service_unavailable"
        if n < THRESHOLD:
            assert counted(breakers, ORDERS) == n
    assert breakers.record(ORDERS).state is CircuitState.OPEN
    assert fleet.stats()[ORDERS] == {"calls": THRESHOLD, "failures": THRESHOLD}


def test_error_is_a_counted_error(downstream, breakers, fleet):
    fleet.set_fault(ORDERS, "error")
    assert outage(lambda: downstream.recent_orders("cust-0001", deadline())).kind is FailureKind.ERROR
    assert counted(breakers, ORDERS) == 1


def test_slow_beyond_the_timeout_is_a_counted_timeout_bounded_by_the_timeout(downstream, breakers, fleet):
    fleet.set_fault(ORDERS, "slow", latency_ms=TIMEOUT_MS * 4)
    started = time.perf_counter()
    assert outage(lambda: downstream.recent_orders("cust-0001", deadline())).kind is FailureKind.TIMEOUT
    assert TIMEOUT_MS / 1000 <= time.perf_counter() - started < TIMEOUT_MS / 1000 + 1.0
    assert counted(breakers, ORDERS) == 1


def test_slow_within_the_timeout_but_past_the_slow_call_threshold_answers_and_counts(fleet, monkeypatch):
    registry = {**FAST_REGISTRY, ORDERS: dataclasses.replace(FAST_REGISTRY[ORDERS], slow_call_ms=50)}
    breakers = CircuitBreakers(InMemoryCircuitStore(), registry=registry)
    monkeypatch.setenv("ORDER_SERVICE_URL", fleet.urls()[ORDERS])
    fleet.set_fault(ORDERS, "slow", latency_ms=100)
    orders = HttpDownstream(breakers).recent_orders("cust-0001", deadline())
    assert orders  # the customer still gets the answer
    assert counted(breakers, ORDERS) == 1


def test_hang_is_bounded_by_the_timeout_and_counted(downstream, breakers, fleet):
    fleet.set_fault(ORDERS, "hang")
    started = time.perf_counter()
    assert outage(lambda: downstream.recent_orders("cust-0001", deadline())).kind is FailureKind.TIMEOUT
    assert time.perf_counter() - started < TIMEOUT_MS / 1000 + 1.0
    assert counted(breakers, ORDERS) == 1


def test_flaky_lets_some_calls_through(fleet, monkeypatch):
    # promotions tolerates 10 failures; a fresh breaker per call keeps the circuit out of the picture.
    monkeypatch.setenv("PROMOTIONS_URL", fleet.urls()["promotions"])
    fleet.set_fault("promotions", "flaky", rate=0.5, seed=3)
    outcomes = []
    for _ in range(12):
        try:
            HttpDownstream(CircuitBreakers(InMemoryCircuitStore(), registry=FAST_REGISTRY)).promotions(
                None, "ja", deadline()
            )
            outcomes.append("ok")
        except ServiceUnavailableError:
            outcomes.append("failed")
    assert set(outcomes) == {"ok", "failed"}
    assert fleet.stats()["promotions"] == {"calls": 12, "failures": outcomes.count("failed")}


def test_throttle_is_a_counted_throttle(downstream, breakers, fleet):
    fleet.set_fault("catalog", "throttle")
    assert outage(lambda: downstream.popular_products(deadline())).kind is FailureKind.THROTTLED
    assert counted(breakers, "catalog") == 1


def test_an_unknown_customer_is_a_client_error_that_never_opens_the_circuit(downstream, breakers, fleet):
    for _ in range(THRESHOLD * 3):
        with pytest.raises(DependencyClientError) as err:
            downstream.recent_orders("cust-9999", deadline())
        assert err.value.status_code == 404
    assert counted(breakers, ORDERS) == 0
    assert breakers.record(ORDERS).state is CircuitState.CLOSED


def test_an_open_circuit_sends_nothing_to_the_service(downstream, breakers, fleet):
    fleet.set_fault(ORDERS, "error")
    for _ in range(THRESHOLD):
        outage(lambda: downstream.recent_orders("cust-0001", deadline()))
    fleet.clear_faults()
    fleet.reset_stats()
    for _ in range(5):
        assert outage(lambda: downstream.recent_orders("cust-0001", deadline())).kind is FailureKind.CIRCUIT_OPEN
    assert fleet.stats()[ORDERS] == {"calls": 0, "failures": 0}


# ---------------------------------------------------------------------- deadline and configuration


def test_the_deadline_caps_the_timeout(fleet, monkeypatch):
    # A 3 s registry timeout against a 0.08 s deadline: real sockets, so real time, but the two are far enough
    # apart for a generous bound (1.5 s of scheduling slack on a busy 2-core machine) to still tell them apart.
    registry = {**FAST_REGISTRY, ORDERS: dataclasses.replace(FAST_REGISTRY[ORDERS], timeout_ms=3000)}
    monkeypatch.setenv("ORDER_SERVICE_URL", fleet.urls()[ORDERS])
    downstream = HttpDownstream(CircuitBreakers(InMemoryCircuitStore(), registry=registry))
    fleet.set_fault(ORDERS, "hang")
    started = time.perf_counter()
    assert outage(lambda: downstream.recent_orders("cust-0001", Deadline(0.08))).kind is FailureKind.TIMEOUT
    assert time.perf_counter() - started < 0.08 + 1.5


def test_an_exhausted_deadline_sends_nothing_and_counts_nothing(downstream, breakers, fleet):
    clock = ManualClock()
    spent = Deadline(0.01, clock=clock)
    clock.advance(0.02)
    assert outage(lambda: downstream.recent_orders("cust-0001", spent)).kind is FailureKind.TIMEOUT
    assert fleet.stats()[ORDERS]["calls"] == 0
    assert counted(breakers, ORDERS) == 0


def test_a_missing_base_url_is_a_counted_outage(breakers, monkeypatch):
    monkeypatch.delenv("ORDER_SERVICE_URL", raising=False)
    assert outage(lambda: HttpDownstream(breakers).recent_orders("cust-0001", deadline())).kind is FailureKind.ERROR
    assert counted(breakers, ORDERS) == 1


BROKEN_BODIES = {
    "/customers/c/orders": b"<html>maintenance</html>",
    "/profiles/c": b'{"customer_id": 42, "points": "many"}',
    "/products/popular": b'{"items": "none"}',
}


@Request.application
def broken_service_app(request: Request) -> Response:
    """A service that answers 200 with a body that breaks its contract."""
    return Response(BROKEN_BODIES.get(request.path, b"{}"), mimetype="application/json")


@pytest.fixture
def broken_service():
    server = HttpServer(broken_service_app, "broken-service").start()
    yield server.url
    server.stop()


def test_a_malformed_body_is_a_counted_error(breakers, broken_service):
    names = ("order_service", "user_profile", "catalog")
    downstream = HttpDownstream(breakers, base_urls=dict.fromkeys(names, broken_service))
    for call in (
        lambda: downstream.recent_orders("c", deadline()),
        lambda: downstream.profile("c", deadline()),
        lambda: downstream.popular_products(deadline()),
    ):
        assert outage(call).kind is FailureKind.ERROR
    assert [counted(breakers, name) for name in names] == [1, 1, 1]


# ---------------------------------------------------------------------- health pings (no breaker)


def test_ping_reports_each_fault_without_touching_the_breaker(downstream, breakers, fleet):
    assert downstream.ping(ORDERS, 1).ok
    observed = {}
    for mode in ("down", "error", "throttle", "hang"):
        fleet.set_fault(ORDERS, mode)
        result = downstream.ping(ORDERS, 0.2)
        observed[mode] = (result.ok, result.status_code, result.failure, result.detail)
        assert result.latency_ms < 200 + 400
    assert observed == {
        "down": (False, None, FailureKind.ERROR, "connection"),
        "error": (False, 503, FailureKind.ERROR, "http_503"),
        "throttle": (False, 429, FailureKind.THROTTLED, "throttled"),
        "hang": (False, None, FailureKind.TIMEOUT, "timeout"),
    }
    assert counted(breakers, ORDERS) == 0
    assert breakers.record(ORDERS).state is CircuitState.CLOSED


def test_ping_still_reaches_a_service_whose_circuit_is_open(downstream, breakers, fleet):
    breakers.force_open(ORDERS, "test")
    result = downstream.ping(ORDERS, 1)
    assert result.ok
    assert result.status_code == 200
    assert result.failure is None
    assert fleet.stats()[ORDERS]["calls"] == 1


def test_ping_without_a_base_url_is_not_configured(breakers, monkeypatch):
    monkeypatch.delenv("CATALOG_URL", raising=False)
    result = HttpDownstream(breakers).ping("catalog", 1)
    assert (result.ok, result.failure, result.detail) == (False, FailureKind.ERROR, "not_configured")
