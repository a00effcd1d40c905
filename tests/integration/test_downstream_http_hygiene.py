"""What HttpDownstream keeps between customers and writes to logs: no cookies, no customer ids.

A simulator on 127.0.0.1 answers with Set-Cookie as a misbehaving dependency might; the session is the real
pooled one every chat execution environment shares between its customers.
"""

from __future__ import annotations

import json
import logging
import socket
import traceback

import pytest

from local.simulators.server import SimRequest, SimResponse, SimService, SimulatorServer, route
from mangaassist.breaker import CircuitBreakers, ServiceUnavailableError
from mangaassist.deadline import Deadline
from mangaassist.downstream.http_services import HttpDownstream
from tests.fakes import InMemoryCircuitStore, ManualClock

pytestmark = pytest.mark.integration

ORDERS = "order_service"
# Only ever passed by name: a traceback quotes the calling source line, and a literal there would be found.
CUSTOMER = "cust-" + "0042"


class CookieSettingOrders(SimService):
    """An order service that hands each caller a cookie naming the customer it just answered for."""

    name = ORDERS

    def __init__(self) -> None:
        self.cookies_received: list[str | None] = []

    def routes(self):
        return [route("GET", "/customers/{customer_id}/orders", self.orders)]

    def orders(self, req: SimRequest) -> SimResponse:
        customer = req.params["customer_id"]
        self.cookies_received.append(req.headers.get("cookie"))
        return SimResponse(200, {"orders": []}, headers={"Set-Cookie": f"session={customer}; Path=/"})


@pytest.fixture
def cookie_service():
    server = SimulatorServer(CookieSettingOrders()).start()
    try:
        yield server
    finally:
        server.stop()


def downstream_at(url: str) -> HttpDownstream:
    return HttpDownstream(CircuitBreakers(InMemoryCircuitStore()), base_urls={ORDERS: url})


def cookie_headers(server: SimulatorServer) -> list[str | None]:
    return server.service.cookies_received


def test_a_set_cookie_for_one_customer_is_never_sent_for_the_next(cookie_service):
    downstream = downstream_at(cookie_service.url)
    downstream.recent_orders("cust-0001", Deadline(5))
    downstream.recent_orders("cust-0002", Deadline(5))
    assert cookie_headers(cookie_service) == [None, None]
    assert len(downstream.session.cookies) == 0


def test_the_bench_sees_a_replayed_cookie_when_a_session_keeps_them(cookie_service):
    """The same exchange through a session that keeps cookies: proof the test above can fail."""
    import requests

    downstream = HttpDownstream(
        CircuitBreakers(InMemoryCircuitStore()), session=requests.Session(), base_urls={ORDERS: cookie_service.url}
    )
    downstream.recent_orders("cust-0001", Deadline(5))
    downstream.recent_orders("cust-0002", Deadline(5))
    assert cookie_headers(cookie_service) == [None, "session=cust-0001"]


class Lines(logging.Handler):
    """Every record with its extras, as a JSON log line would carry them."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def text(self) -> str:
        return "\n".join(json.dumps(vars(r), default=str, ensure_ascii=False) for r in self.records)


@pytest.fixture
def downstream_lines():
    log = logging.getLogger("mangaassist.downstream")
    lines = Lines()
    log.addHandler(lines)
    try:
        yield lines
    finally:
        log.removeHandler(lines)


def test_an_exhausted_deadline_is_logged_without_the_customers_id(cookie_service, downstream_lines):
    clock = ManualClock()
    spent = Deadline(0.01, clock=clock)
    clock.advance(0.02)
    with pytest.raises(ServiceUnavailableError):
        downstream_at(cookie_service.url).recent_orders(CUSTOMER, spent)
    (record,) = [r for r in downstream_lines.records if r.getMessage() == "deadline_exhausted"]
    assert record.service == ORDERS
    assert CUSTOMER not in downstream_lines.text()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_a_failed_call_leaves_no_url_in_its_traceback():
    # requests' ConnectionError names the URL, /customers/<id>/orders; a logged traceback prints every cause.
    with pytest.raises(ServiceUnavailableError) as raised:
        downstream_at(closed_port()).recent_orders(CUSTOMER, Deadline(5))
    printed = "".join(traceback.format_exception(raised.value))
    assert "connection failed (ConnectionError)" in printed
    assert CUSTOMER not in printed
