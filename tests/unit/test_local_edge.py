"""The local front's WAF part (local/edge.py) against mangaassist.client_limits, on a fake clock."""

from __future__ import annotations

from local.edge import RateLimiter, body_too_large, client_address
from mangaassist.client_limits import MAX_BODY_BYTES, RATE_RULES, RateRule

GUEST_RULE, API_RULE = RATE_RULES


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_body_limit_is_the_client_limits_one():
    assert not body_too_large(MAX_BODY_BYTES)
    assert body_too_large(MAX_BODY_BYTES + 1)


def test_x_forwarded_for_is_believed_only_from_a_local_proxy():
    assert client_address("127.0.0.1", "198.18.0.7") == "198.18.0.7"
    assert client_address("127.0.0.1", "10.0.0.1, 198.18.0.7") == "198.18.0.7"  # the hop our proxy appended
    assert client_address("203.0.113.9", "198.18.0.7") == "203.0.113.9"
    assert client_address("127.0.0.1", None) == "127.0.0.1"
    assert client_address("127.0.0.1", " , ") == "127.0.0.1"


def test_an_address_over_the_guest_limit_is_blocked_until_its_window_has_passed():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    for _ in range(GUEST_RULE.limit):
        assert limiter.admit("198.18.0.1", "/chat/guest") is None
        clock.now += 0.01
    assert limiter.admit("198.18.0.1", "/chat/guest") is GUEST_RULE
    assert limiter.admit("198.18.0.2", "/chat/guest") is None  # another address is its own client
    assert limiter.admit("198.18.0.1", "/chat") is None  # the guest rule counts the guest route only
    clock.now += GUEST_RULE.window_s
    assert limiter.admit("198.18.0.1", "/chat/guest") is None


def test_blocked_requests_keep_counting_so_a_flood_that_does_not_stop_stays_blocked():
    clock = FakeClock()
    rule = RateRule("R", limit=10, window_s=60)
    limiter = RateLimiter([rule], clock=clock)
    for _ in range(10):
        assert limiter.admit("a", "/chat") is None
    clock.now += 30
    for _ in range(20):
        assert limiter.admit("a", "/chat") is rule
    clock.now += 31  # the first ten have left the window; the twenty blocked ones have not
    assert limiter.admit("a", "/chat") is rule


def test_every_route_counts_towards_the_api_wide_rule():
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    paths = ["/chat", "/health", "/feedback", "/nope"]
    for n in range(API_RULE.limit):
        assert limiter.admit("198.18.0.3", paths[n % len(paths)]) is None
    assert limiter.admit("198.18.0.3", "/status") is API_RULE
