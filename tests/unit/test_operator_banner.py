"""The operator banner: input rules, one message with the pinger's banner, expiry, the pinger leaving it up."""

from __future__ import annotations

import pytest

from mangaassist.chat.orchestrator import ChatInput, Orchestrator
from mangaassist.health import Banner, BannerInputError, Banners, OperatorBanner, operator_banner
from mangaassist.health.banners import LLM_DOWN_SUFFIX, MAX_LIFETIME_S, MAX_TEXT_CHARS
from mangaassist.health.pinger import BANNER_EN, BANNER_JA
from mangaassist.registry import SERVICE_NAMES
from tests.fakes import InMemoryCircuitStore, InMemoryHealthStore
from tests.unit.chat_fakes import breakers_with, fake_orchestrator
from tests.unit.test_health_pinger import FakeClock, FakeService, make_pinger

NOW = 1_800_000_000.0
EN = "Order tracking is unavailable right now. Your order history page still shows every order."
JA = "現在、注文状況の確認ができません。注文履歴ページではすべてのご注文をご確認いただけます。"


def post(**overrides) -> OperatorBanner:
    fields = {
        "message_en": EN,
        "message_ja": JA,
        "reason": "INC-1234 order_service outage",
        "expires_at": NOW + 3600,
        "now": NOW,
        "posted_by": "oncall",
    }
    return operator_banner(**{**fields, **overrides})


# ---------------------------------------------------------------- input rules


def test_a_valid_banner_keeps_both_texts_stripped_and_records_when_and_who() -> None:
    banner = post(message_en=f"  {EN}\n", message_ja=f"{JA} ")
    assert (banner.message_en, banner.message_ja) == (EN, JA)
    assert (banner.posted_at, banner.posted_by, banner.expires_at) == (NOW, "oncall", NOW + 3600)


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"message_ja": None}, "message_ja", "Japanese text is missing"),
        ({"message_en": None}, "message_en", "English text is missing"),
        ({"message_en": "   "}, "message_en", "empty"),
        ({"message_ja": ""}, "message_ja", "empty"),
        ({"message_en": "x" * (MAX_TEXT_CHARS + 1)}, "message_en", f"at most {MAX_TEXT_CHARS}"),
        ({"message_ja": "あ" * (MAX_TEXT_CHARS + 1)}, "message_ja", f"at most {MAX_TEXT_CHARS}"),
        ({"reason": ""}, "reason", "say why"),
        ({"expires_at": NOW}, "expires_at", "in the past"),
        ({"expires_at": NOW - 60}, "expires_at", "in the past"),
        ({"expires_at": NOW + MAX_LIFETIME_S + 1}, "expires_at", "more than 7 days"),
    ],
)
def test_each_bad_input_is_named_in_the_error(overrides, field, words) -> None:
    with pytest.raises(BannerInputError) as caught:
        post(**overrides)
    assert len(caught.value.problems) == 1
    assert caught.value.problems[0].startswith(f"{field}:")
    assert words in caught.value.problems[0]


def test_the_limits_themselves_are_allowed() -> None:
    banner = post(message_en="x" * MAX_TEXT_CHARS, message_ja="あ" * MAX_TEXT_CHARS, expires_at=NOW + MAX_LIFETIME_S)
    assert len(banner.message_ja) == MAX_TEXT_CHARS


def test_every_problem_is_listed_at_once() -> None:
    with pytest.raises(BannerInputError) as caught:
        post(message_en="", message_ja=None, expires_at=NOW - 1)
    assert [p.split(":")[0] for p in caught.value.problems] == ["message_en", "message_ja", "expires_at"]


def test_the_store_refuses_a_banner_that_broke_a_rule_and_writes_nothing() -> None:
    clock = FakeClock(NOW)
    store = InMemoryHealthStore(clock=clock)
    store.put_operator_banner(post())
    clock.advance(7200)  # built an hour ago, it has expired by the time it reaches the store
    with pytest.raises(BannerInputError, match="in the past"):
        store.put_operator_banner(post())
    assert store.load_banners() == Banners()


# ---------------------------------------------------------------- one message


AUTOMATIC = Banner(True, BANNER_EN, BANNER_JA, since=NOW - 400, reason="llm_unavailable")


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_each_banner_alone_is_shown_as_written(lang: str) -> None:
    assert Banners(operator=post()).message(lang, NOW) == (JA if lang == "ja" else EN)
    assert Banners(automatic=AUTOMATIC).message(lang, NOW) == (BANNER_JA if lang == "ja" else BANNER_EN)
    assert Banners().message(lang, NOW) is None


def test_both_banners_are_one_short_message_per_language() -> None:
    both = Banners(automatic=AUTOMATIC, operator=post())
    assert both.message("en", NOW) == f"{EN} {LLM_DOWN_SUFFIX['en']}"
    assert both.message("ja", NOW) == f"{JA}{LLM_DOWN_SUFFIX['ja']}"
    for lang, automatic_text in (("en", BANNER_EN), ("ja", BANNER_JA)):
        assert len(both.message(lang, NOW)) < len(post().message(lang)) + len(automatic_text)
    assert both.sources(NOW) == ["operator", "automatic"]


def test_an_operator_text_without_a_full_stop_gets_one_before_the_llm_clause() -> None:
    both = Banners(automatic=AUTOMATIC, operator=post(message_en="Orders are delayed", message_ja="注文確認は停止中"))
    assert both.message("en", NOW) == f"Orders are delayed. {LLM_DOWN_SUFFIX['en']}"
    assert both.message("ja", NOW) == f"注文確認は停止中。{LLM_DOWN_SUFFIX['ja']}"


def test_a_cleared_automatic_banner_leaves_the_operators_alone() -> None:
    cleared = Banner(False, BANNER_EN, BANNER_JA, since=NOW - 400)
    assert Banners(automatic=cleared, operator=post()).message("en", NOW) == EN
    assert Banners(automatic=cleared).sources(NOW) == []


# ---------------------------------------------------------------- expiry


def test_it_expires_by_itself_even_from_an_old_read() -> None:
    read = Banners(automatic=AUTOMATIC, operator=post(expires_at=NOW + 60))
    assert read.message("en", NOW + 59.9).startswith(EN)
    assert read.message("en", NOW + 60) == BANNER_EN
    assert read.sources(NOW + 60) == ["automatic"]


def test_the_in_memory_store_forgets_it_at_its_expiry() -> None:
    clock = FakeClock(NOW)
    store = InMemoryHealthStore(clock=clock)
    assert store.put_operator_banner(post(expires_at=NOW + 60)) is None
    clock.advance(59)
    assert store.load_banners().operator == post(expires_at=NOW + 60)
    clock.advance(1)
    assert store.load_banners().operator is None


def test_clearing_returns_what_was_up_and_takes_it_down() -> None:
    store = InMemoryHealthStore(clock=FakeClock(NOW))
    store.put_operator_banner(post())
    assert store.clear_operator_banner() == post()
    assert store.clear_operator_banner() is None
    assert store.load_banners().operator is None


# ---------------------------------------------------------------- the chat and the pinger


def orchestrator(banners: Banners, clock: FakeClock, down: frozenset[str] = frozenset()) -> Orchestrator:
    breakers = breakers_with(down, quiet=True)
    return fake_orchestrator(breakers, banner=lambda: banners, clock=clock)


def test_the_chat_shows_it_in_the_customers_language_beside_the_degraded_order_answer() -> None:
    clock = FakeClock(NOW)
    chat = orchestrator(Banners(operator=post(expires_at=NOW + 60)), clock, down=frozenset({"order_service"}))
    ja = chat.answer(ChatInput("注文した本はいつ届きますか？", "cust-0001"))
    en = chat.answer(ChatInput("Where is my order?", "cust-0001"))
    assert (ja.banner, ja.degraded_reason) == (JA, "order_service_unavailable")
    assert (en.banner, en.degraded_reason) == (EN, "order_service_unavailable")
    clock.advance(60)
    assert chat.answer(ChatInput("Where is my order?", "cust-0001")).banner is None


def test_a_healthy_pinger_run_never_clears_the_operators_banner() -> None:
    clock = FakeClock(NOW)
    health = InMemoryHealthStore(clock=clock)
    pinger = make_pinger(clock, InMemoryCircuitStore(), health, {n: FakeService(n) for n in SERVICE_NAMES})
    health.set_banner(AUTOMATIC)  # an old automatic banner the healthy LLM lets the pinger clear
    health.put_operator_banner(post(expires_at=NOW + 3600))
    reports = []
    for _ in range(3):
        reports.append(pinger.run().banner)
        clock.advance(60)
    assert reports == ["cleared", "unchanged", "unchanged"]
    banners = health.load_banners()
    assert banners.automatic.active is False
    assert banners.operator == post(expires_at=NOW + 3600)
    assert banners.message("ja", clock()) == JA
