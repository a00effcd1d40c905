"""The internal services are IAM-authorised: over real HTTP, the simulators answer 403 JSON to a request that is
unsigned or signed with a wrong key and 200 to the chat's own signature; HttpDownstream turns the 403 into a
client error the breaker never counts, and pings sign like calls."""

from __future__ import annotations

import logging

import pytest
import requests

from mangaassist.breaker import CircuitBreakers, CircuitState, DependencyClientError
from mangaassist.deadline import Deadline
from mangaassist.downstream.http_services import HttpDownstream
from mangaassist.downstream.sigv4 import SigV4RequestAuth
from mangaassist.registry import REGISTRY
from tests.fakes import InMemoryCircuitStore

pytestmark = pytest.mark.integration

ORDERS = "order_service"
WRONG_SECRET = "a-secret-the-service-does-not-trust"


@pytest.fixture(autouse=True)
def fresh(healthy_fleet, monkeypatch):
    for key, value in healthy_fleet.env().items():
        monkeypatch.setenv(key, value)


@pytest.fixture
def breakers() -> CircuitBreakers:
    return CircuitBreakers(InMemoryCircuitStore())


def orders_url(fleet) -> str:
    return fleet.urls()[ORDERS] + "/customers/cust-0001/orders"


def test_the_order_service_answers_200_to_the_chats_signature(fleet) -> None:
    response = requests.get(orders_url(fleet), params={"limit": 5}, auth=SigV4RequestAuth(), timeout=5)
    assert response.status_code == 200
    assert response.json()["orders"]


def test_the_order_service_answers_403_json_without_a_signature(fleet) -> None:
    response = requests.get(orders_url(fleet), timeout=5)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"]["code"] == "missing_authentication"
    assert "orders" not in response.json()


def test_the_order_service_answers_403_json_to_a_wrong_key(fleet, monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    response = requests.get(orders_url(fleet), auth=SigV4RequestAuth(), timeout=5)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "invalid_signature"
    assert "orders" not in response.json()


@pytest.mark.parametrize("service", [name for name, spec in REGISTRY.items() if spec.kind == "http"])
def test_every_store_service_and_its_health_path_refuse_an_unsigned_call(fleet, service: str) -> None:
    unsigned = requests.get(fleet.urls()[service] + REGISTRY[service].health_path, timeout=5)
    signed = requests.get(fleet.urls()[service] + REGISTRY[service].health_path, auth=SigV4RequestAuth(), timeout=5)
    assert (unsigned.status_code, signed.status_code) == (403, 200)


def test_a_403_is_a_client_error_the_breaker_never_counts_and_is_logged_without_secrets(
    fleet, breakers, monkeypatch, caplog
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    downstream = HttpDownstream(breakers)
    threshold = REGISTRY[ORDERS].breaker.failure_threshold
    with caplog.at_level(logging.INFO):
        for _ in range(threshold * 2):
            with pytest.raises(DependencyClientError) as err:
                downstream.recent_orders("cust-0001", Deadline(10))
            assert err.value.status_code == 403
    assert fleet.stats()[ORDERS]["calls"] == threshold * 2  # each one reached the service and was refused there
    record = breakers.record(ORDERS)
    assert sum(record.failure_buckets.values()) == 0
    assert record.state is CircuitState.CLOSED
    forbidden = [r for r in caplog.records if r.getMessage() == "downstream_forbidden"]
    assert len(forbidden) == threshold * 2
    assert (forbidden[0].service, forbidden[0].status, forbidden[0].code) == (ORDERS, 403, "invalid_signature")
    logged = caplog.text + " ".join(str(vars(r)) for r in caplog.records)
    for secret in (WRONG_SECRET, "Signature=", "AWS4-HMAC-SHA256", "cust-0001"):
        assert secret not in logged


def test_pings_are_signed_like_calls_and_fail_on_a_wrong_key(fleet, breakers, monkeypatch) -> None:
    downstream = HttpDownstream(breakers)
    assert downstream.ping(ORDERS, 2.0).ok
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", WRONG_SECRET)
    refused = downstream.ping(ORDERS, 2.0)
    assert (refused.ok, refused.status_code, refused.detail) == (False, 403, "http_403")
