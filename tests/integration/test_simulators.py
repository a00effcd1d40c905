"""The downstream simulators over real HTTP: their contracts, sample data and every fault mode."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

from local.simulators import SimulatorFleet
from mangaassist.downstream.sigv4 import SigV4RequestAuth
from mangaassist.registry import REGISTRY, SERVICE_NAMES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def fleet():
    with SimulatorFleet() as running:
        yield running


@pytest.fixture(autouse=True)
def healthy(fleet):
    fleet.clear_faults()
    fleet.reset_stats()
    yield
    fleet.clear_faults()


@pytest.fixture
def http():
    with requests.Session() as session:
        session.auth = SigV4RequestAuth()  # the store's services are IAM-authorised, as the chat calls them
        yield session


def get(http, fleet, service, path, **params):
    return http.get(fleet.urls()[service] + path, params=params, timeout=5)


def test_one_simulator_per_registry_service_with_the_registry_env_names(fleet):
    assert set(fleet.urls()) == set(SERVICE_NAMES)
    assert len(set(fleet.urls().values())) == len(SERVICE_NAMES)
    env = fleet.env()
    for spec in REGISTRY.values():
        key = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME" if spec.kind == "bedrock" else spec.url_env
        assert env[key] == fleet.urls()[spec.name]


def test_every_simulator_is_healthy(http, fleet):
    for service in SERVICE_NAMES:
        response = get(http, fleet, service, REGISTRY[service].health_path)
        assert (response.status_code, response.json()) == (200, {"status": "ok"})


# ---------------------------------------------------------------------- contracts and sample data


def test_catalog_search_finds_series_by_japanese_or_english_title_or_alias(http, fleet):
    by_ja = get(http, fleet, "catalog", "/products/search", q="葬送のフリーレン", lang="ja").json()["items"]
    by_en = get(http, fleet, "catalog", "/products/search", q="frieren", lang="en").json()["items"]
    in_sentence = get(http, fleet, "catalog", "/products/search", q="フリーレンの最新刊はありますか", lang="ja")
    for items in (by_ja, by_en, in_sentence.json()["items"]):
        assert items
        assert all("フリーレン" in item["title_ja"] for item in items)
    assert [i["volume"] for i in by_en] == sorted((i["volume"] for i in by_en), reverse=True)


def test_catalog_search_respects_limit_and_misses_cleanly(http, fleet):
    items = get(http, fleet, "catalog", "/products/search", q="one piece", limit=2).json()["items"]
    assert len(items) == 2
    assert all(item["title"].startswith("One Piece") for item in items)
    assert get(http, fleet, "catalog", "/products/search", q="zzzz nothing").json() == {"items": []}
    assert get(http, fleet, "catalog", "/products/search", q="").status_code == 400
    assert get(http, fleet, "catalog", "/products/search", q="x", limit=500).status_code == 400


def test_catalog_products_look_like_a_manga_store(http, fleet):
    items = get(http, fleet, "catalog", "/products/popular", limit=50).json()["items"]
    assert len(items) >= 10
    sample = fleet.store.products
    assert len(sample) >= 40
    for product in sample.values():
        assert re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", product["title_ja"] + product["author"])
        assert isinstance(product["price_jpy"], int)
        assert 300 <= product["price_jpy"] <= 2000
        assert product["format"] in ("print", "digital")
        assert product["genres"]
        assert "keywords" not in product  # simulator-internal search aliases stay inside
    one = get(http, fleet, "catalog", f"/products/{items[0]['product_id']}")
    assert one.json() == items[0]
    assert get(http, fleet, "catalog", "/products/no-such-volume").status_code == 404


def test_orders_are_newest_first_with_valid_statuses_and_unknown_customers_404(http, fleet):
    seen_statuses = set()
    for number in range(1, 11):
        response = get(http, fleet, "order_service", f"/customers/cust-{number:04d}/orders", limit=50)
        assert response.status_code == 200
        orders = response.json()["orders"]
        assert [o["ordered_at"] for o in orders] == sorted((o["ordered_at"] for o in orders), reverse=True)
        for order in orders:
            seen_statuses.add(order["status"])
            assert re.fullmatch(r"\d{3}-\d{7}-\d{7}", order["order_id"])
            assert order["ordered_at"].endswith("+09:00")
            assert order["items"]
            assert all(item["product_id"] in fleet.store.products for item in order["items"])
            assert (order["tracking_url"] is not None) == (order["status"] in ("shipped", "delivered"))
    assert seen_statuses == {"processing", "shipped", "delivered", "cancelled"}
    assert get(http, fleet, "order_service", "/customers/cust-0010/orders").json() == {"orders": []}
    missing = get(http, fleet, "order_service", "/customers/cust-9999/orders")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "customer_not_found"


def test_recommendations_follow_the_profile_and_skip_what_was_bought(http, fleet):
    items = get(http, fleet, "recommendations", "/recommendations", customer_id="cust-0003", limit=10).json()["items"]
    bought = fleet.store.ordered_product_ids("cust-0003")
    assert items
    assert not {i["product_id"] for i in items} & bought
    assert items[0]["reason"].startswith("favorite_genre:")
    guest = get(http, fleet, "recommendations", "/recommendations", limit=3).json()["items"]
    assert [i["product_id"] for i in guest] == list(fleet.store.trending[:3])
    assert {i["reason"] for i in guest} == {"trending"}
    assert get(http, fleet, "recommendations", "/recommendations", customer_id="cust-9999").status_code == 404


def test_returns_promotions_and_profiles(http, fleet):
    returns = get(http, fleet, "returns_service", "/customers/cust-0001/returns").json()["returns"]
    own_orders = {o["order_id"] for o in fleet.store.orders["cust-0001"]}
    assert returns
    assert all(r["order_id"] in own_orders for r in returns)
    assert get(http, fleet, "returns_service", "/customers/cust-0005/returns").json() == {"returns": []}

    guest = {p["promotion_id"] for p in get(http, fleet, "promotions", "/promotions", lang="ja").json()["promotions"]}
    loyal = get(http, fleet, "promotions", "/promotions", customer_id="cust-0003", lang="en").json()["promotions"]
    assert guest < {p["promotion_id"] for p in loyal}  # a known seinen fan with points gets more
    assert all(p["text_ja"] and p["text_en"] for p in loyal)

    profile = get(http, fleet, "user_profile", "/profiles/cust-0001").json()
    assert profile["customer_id"] == "cust-0001"
    assert profile["preferred_language"] == "ja"
    assert get(http, fleet, "user_profile", "/profiles/cust-9999").status_code == 404


def test_event_sinks_accept_json_objects_with_202(http, fleet):
    for service, path in (("analytics", "/events"), ("feedback", "/feedback")):
        url = fleet.urls()[service] + path
        accepted = http.post(url, json={"type": "chat", "intent": "faq"}, timeout=5)
        assert (accepted.status_code, accepted.json()) == (202, {"accepted": 1})
        as_json = {"Content-Type": "application/json"}
        assert http.post(url, data="{not json", headers=as_json, timeout=5).status_code == 400
        assert http.post(url, data="hello", headers={"Content-Type": "text/plain"}, timeout=5).status_code == 415
        assert http.get(url, timeout=5).status_code == 405
        assert http.post(url, data=b"x" * (1024 * 1024 + 1), headers=as_json, timeout=5).status_code == 413
    assert fleet.requests("analytics")[0]["json"] == {"type": "chat", "intent": "faq"}


# ---------------------------------------------------------------------- control API and faults


def test_control_api_sets_reads_and_clears_faults_without_counting_itself(http, fleet):
    base = fleet.urls()["order_service"]
    set_ = http.post(f"{base}/_sim/fault", json={"mode": "flaky", "rate": 0.25, "expires_in_s": 30}, timeout=5)
    assert set_.status_code == 200
    assert set_.json()["fault"]["mode"] == "flaky"
    assert http.get(f"{base}/_sim/fault", timeout=5).json()["fault"]["rate"] == 0.25
    assert http.post(f"{base}/_sim/fault", json={"mode": "exploded"}, timeout=5).status_code == 400
    assert http.post(f"{base}/_sim/fault", json={"mode": "slow", "latncy_ms": 5}, timeout=5).status_code == 400
    assert http.post(f"{base}/_sim/fault", data="nope", timeout=5).status_code == 400
    assert http.delete(f"{base}/_sim/fault", timeout=5).json()["fault"]["mode"] == "ok"
    assert http.get(f"{base}/_sim/stats", timeout=5).json() == {"calls": 0, "failures": 0}


def test_down_resets_the_connection_without_any_http_answer(http, fleet):
    fleet.set_fault("order_service", "down")
    with pytest.raises(requests.ConnectionError):
        get(http, fleet, "order_service", "/customers/cust-0001/orders")
    assert fleet.stats()["order_service"] == {"calls": 1, "failures": 1}


def test_error_and_throttle_answer_503_and_429(http, fleet):
    fleet.set_fault("catalog", "error")
    assert get(http, fleet, "catalog", "/products/popular").status_code == 503
    fleet.set_fault("catalog", "throttle")
    throttled = get(http, fleet, "catalog", "/products/popular")
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1"
    assert fleet.stats()["catalog"] == {"calls": 2, "failures": 2}


def wait_until(condition, timeout_s: float = 10.0) -> None:
    """Polls for a signal; the timeout only turns a signal that never comes into a failure."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_slow_answers_correctly_after_the_latency(http, fleet):
    fleet.set_fault("promotions", "slow", latency_ms=300)
    started = time.perf_counter()
    response = get(http, fleet, "promotions", "/promotions")
    assert response.status_code == 200
    assert response.json()["promotions"]
    assert 0.3 <= time.perf_counter() - started < 2
    assert fleet.stats()["promotions"] == {"calls": 1, "failures": 0}


def test_hang_holds_until_the_client_gives_up_and_never_blocks_shutdown(http):
    with SimulatorFleet(["user_profile"]) as own:
        own.set_fault("user_profile", "hang")
        started = time.perf_counter()
        with pytest.raises(requests.ReadTimeout):
            http.get(own.urls()["user_profile"] + "/profiles/cust-0001", timeout=(1, 0.3))
        assert 0.3 <= time.perf_counter() - started < 1.5

        # A client that never gives up is still released when the simulator stops.
        outcome: list[BaseException | None] = []

        def patient() -> None:
            try:
                requests.get(own.urls()["user_profile"] + "/profiles/cust-0001", timeout=30, auth=SigV4RequestAuth())
                outcome.append(None)
            except requests.RequestException as err:
                outcome.append(err)

        waiter = threading.Thread(target=patient)
        waiter.start()
        # The simulator has counted the patient call: it is hanging there now, not still on its way.
        wait_until(lambda: own.stats()["user_profile"]["calls"] == 2)
        stopping = time.perf_counter()
        own.stop()
        assert time.perf_counter() - stopping < 2
        waiter.join(timeout=5)
        assert isinstance(outcome[0], requests.ConnectionError)
        assert own.stats()["user_profile"] == {"calls": 2, "failures": 2}


def test_flaky_fails_at_its_rate_reproducibly(http, fleet):
    def run() -> list[int]:
        fleet.set_fault("recommendations", "flaky", rate=0.5, seed=42)
        return [get(http, fleet, "recommendations", "/recommendations").status_code for _ in range(40)]

    first = run()
    assert first == run()
    assert set(first) == {200, 503}
    assert fleet.stats()["recommendations"] == {"calls": 80, "failures": 2 * first.count(503)}


def test_a_fault_expires_back_to_ok(http, fleet):
    fleet.set_fault("returns_service", "error", expires_in_s=0.3)
    assert get(http, fleet, "returns_service", "/customers/cust-0001/returns").status_code == 503
    time.sleep(0.35)
    assert get(http, fleet, "returns_service", "/customers/cust-0001/returns").status_code == 200
    assert fleet.server("returns_service").faults.describe()["mode"] == "ok"


def test_faults_break_health_checks_too_and_stay_per_service(http, fleet):
    fleet.set_fault("feedback", "error")
    assert get(http, fleet, "feedback", "/health").status_code == 503
    assert get(http, fleet, "analytics", "/health").status_code == 200
    stats = fleet.stats()
    assert stats["feedback"] == {"calls": 1, "failures": 1}
    assert stats["analytics"] == {"calls": 1, "failures": 0}


def test_parallel_callers_are_all_counted(fleet):
    # Each call is held 2 s; the simulator counts a call when it arrives. All 20 counted before any has been
    # answered means they overlapped: a server that queued them would answer the first before admitting the
    # second. This replaces a 1.5 s bound on the whole batch.
    fleet.set_fault("catalog", "slow", latency_ms=2000)
    results: list[int] = []
    lock = threading.Lock()

    def call() -> None:
        status = requests.get(
            fleet.urls()["catalog"] + "/products/popular", timeout=5, auth=SigV4RequestAuth()
        ).status_code
        with lock:
            results.append(status)

    threads = [threading.Thread(target=call) for _ in range(20)]
    for thread in threads:
        thread.start()
    wait_until(lambda: fleet.stats()["catalog"]["calls"] == 20)
    with lock:
        assert results == []  # none answered yet, all 20 admitted: they are in flight together
    for thread in threads:
        thread.join()
    assert results == [200] * 20
    assert fleet.stats()["catalog"] == {"calls": 20, "failures": 0}
