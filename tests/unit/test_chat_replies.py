"""Reply texts built from real data: every template exists in both languages, lines carry only what came in."""

from __future__ import annotations

import re

import pytest

from mangaassist.chat.replies import LABEL, PAGES, TEXT, Links, order_line, product_fact, product_line, return_line
from mangaassist.downstream.models import Order, Product, ReturnCase
from mangaassist.language import detect_language


@pytest.mark.parametrize("key", sorted(TEXT))
def test_every_text_exists_in_both_languages_and_reads_as_that_language(key: str) -> None:
    assert set(TEXT[key]) == {"en", "ja"}
    placeholders = {lang: set(re.findall(r"{(\w+)}", TEXT[key][lang])) for lang in ("en", "ja")}
    assert placeholders["en"] == placeholders["ja"], key
    for lang in ("en", "ja"):
        sample = re.sub(r"{\w+}", "", TEXT[key][lang])
        if len(sample.strip()) > 12:
            assert detect_language(sample) == lang, (key, lang)


def test_every_label_exists_in_both_languages() -> None:
    for key, labels in LABEL.items():
        assert set(labels) == {"en", "ja"}, key


FRIEREN = Product(
    product_id="mg-frieren-013",
    title="Frieren: Beyond Journey's End, Vol. 13",
    title_ja="葬送のフリーレン 13",
    author="Kanehito Yamada, Tsukasa Abe / 山田鐘人・アベツカサ",
    volume=13,
    price_jpy=528,
    in_stock=False,
    reason="favorite_genre:dark_fantasy",
)


def test_product_line_does_not_repeat_the_volume_and_picks_the_authors_language() -> None:
    assert product_line(FRIEREN, "en") == (
        "• Frieren: Beyond Journey's End, Vol. 13 by Kanehito Yamada, Tsukasa Abe ¥528 (out of stock) "
        "(because you like dark fantasy)"
    )
    assert (
        product_line(FRIEREN, "ja")
        == "・葬送のフリーレン 13（山田鐘人・アベツカサ） ¥528（在庫切れ）（お好きなジャンル：dark fantasy）"
    )


def test_a_volume_missing_from_the_title_is_added() -> None:
    plain = FRIEREN.model_copy(update={"title": "Frieren", "title_ja": "葬送のフリーレン", "volume": 3})
    assert product_line(plain, "en").startswith("• Frieren vol. 3 by")
    assert product_line(plain, "ja").startswith("・葬送のフリーレン 第3巻（")


def test_product_fact_spells_out_format_and_stock_for_the_llm() -> None:
    assert product_fact(FRIEREN, "en").endswith("¥528 / print edition / out of stock")
    assert product_fact(FRIEREN.model_copy(update={"format": "digital", "in_stock": True}), "ja").endswith(
        "¥528 / 電子版 / 在庫あり"
    )


def test_order_line_uses_the_services_values_and_shows_days_only() -> None:
    order = Order(
        order_id="250-1184302-7731904",
        status="shipped",
        ordered_at="2026-11-25T10:12:00+09:00",
        estimated_delivery="2026-11-28",
    )
    assert order_line(order, "en") == (
        "• Order 250-1184302-7731904: shipped (ordered 2026-11-25, estimated delivery 2026-11-28)"
    )
    assert order_line(order.model_copy(update={"estimated_delivery": None, "status": "on_hold"}), "ja") == (
        "・ご注文 250-1184302-7731904：on_hold（ご注文日 2026-11-25）"
    )


def test_return_line_localises_known_statuses() -> None:
    case = ReturnCase(return_id="RMA-7F3K2Q", order_id="250-0977315-2208416", status="label_issued")
    assert return_line(case, "ja") == "・返品 RMA-7F3K2Q（ご注文 250-0977315-2208416）：返送ラベル発行済み"
    assert return_line(case, "en") == "• Return RMA-7F3K2Q for order 250-0977315-2208416: return label issued"


def test_links_live_under_the_store_base_url() -> None:
    links = Links("https://manga-store.example.jp")
    assert links.page("order_history") == "https://manga-store.example.jp/gp/css/order-history"
    assert (
        links.search("ワンピース 107")
        == "https://manga-store.example.jp/s?k=%E3%83%AF%E3%83%B3%E3%83%94%E3%83%BC%E3%82%B9+107"
    )
    assert links.search("") == "https://manga-store.example.jp/manga"


def test_every_page_link_has_a_label_in_both_languages() -> None:
    assert set(PAGES) <= set(LABEL)
    assert all(set(LABEL[key]) == {"ja", "en"} for key in PAGES)
