"""Every customer-facing text of the chat, in English and Japanese, and the store links they point to.

Templates state only what the chat knows: they carry no order id, date or status of their own; those
come from the order service's answer or are not shown at all (design Q17: never fabricate data).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote_plus

from mangaassist.downstream.models import Order, Product, Promotion, ReturnCase

LANGUAGES = ("en", "ja")
DEFAULT_STORE_BASE_URL = "https://www.amazon.co.jp"
ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}")

TEXT: dict[str, dict[str, str]] = {
    "orders_intro": {"en": "Here are your recent orders:", "ja": "最近のご注文です："},
    "order_line": {
        "en": "• Order {order_id}: {status} (ordered {ordered_at}{eta})",
        "ja": "・ご注文 {order_id}：{status}（ご注文日 {ordered_at}{eta}）",
    },
    "order_eta": {"en": ", estimated delivery {date}", "ja": "、お届け予定 {date}"},
    "no_orders": {
        "en": "I couldn't find any recent orders on your account. You can see all of your orders on the "
        "order history page.",
        "ja": "お客様のアカウントに最近のご注文が見つかりませんでした。"
        "すべてのご注文は注文履歴ページでご確認いただけます。",
    },
    "orders_unavailable": {
        "en": "I'm having trouble accessing your order information right now. You can check your order status "
        "directly on the order history page, or I can connect you with a support agent who can help immediately.",
        "ja": "ただいまご注文情報にアクセスできません。注文履歴ページで配送状況を直接ご確認いただくか、"
        "サポート担当者におつなぎすることもできます。",
    },
    "sign_in_for_orders": {
        "en": "Please sign in so I can look up your orders. Once you're signed in, just ask me again.",
        "ja": "ご注文を確認するにはログインしてください。ログイン後にもう一度お尋ねください。",
    },
    "returns_intro": {"en": "Here are your returns in progress:", "ja": "進行中の返品です："},
    "return_line": {
        "en": "• Return {return_id} for order {order_id}: {status}",
        "ja": "・返品 {return_id}（ご注文 {order_id}）：{status}",
    },
    "no_returns": {
        "en": "You have no returns in progress. To start one, open the returns page and choose the order and "
        "the item you want to send back.",
        "ja": "進行中の返品はありません。返品を始めるには、返品ページで該当のご注文と商品を選んでください。",
    },
    "returns_unavailable": {
        "en": "I can't reach our returns system right now. You can start or check a return on the returns help "
        "page, or I can connect you with a support agent.",
        "ja": "ただいま返品システムにアクセスできません。返品ヘルプページから返品の開始や確認ができます。"
        "サポート担当者におつなぎすることもできます。",
    },
    "returns_guide": {
        "en": "The returns help page explains how returns and refunds work. To start a return or check one, "
        "please sign in and ask me again.",
        "ja": "返品・返金の流れは返品ヘルプページでご確認いただけます。返品の開始や状況の確認は、ログインしてから"
        "もう一度お尋ねください。",
    },
    "recommendations_intro": {"en": "Here are some manga picked for you:", "ja": "あなたへのおすすめ漫画です："},
    "also_trending": {"en": "Popular right now:", "ja": "今人気の作品："},
    "popular_intro": {
        "en": "I can't load personalised picks right now, but here's what's popular at the moment:",
        "ja": "ただいまお客様向けのおすすめを表示できませんが、今人気の作品はこちらです：",
    },
    "catalog_unavailable": {
        "en": "I can't reach our catalog right now, so I can't show titles. You can browse manga or search the "
        "store directly. I can still answer questions about shipping, payment, points and returns, and check "
        "your orders.",
        "ja": "ただいま商品カタログにアクセスできないため、作品をご紹介できません。ストアで漫画を直接探したり"
        "検索したりできます。配送・お支払い・ポイント・返品に関するご質問や、ご注文の確認は引き続きお手伝いできます。",
    },
    "faq_hint": {"en": "This may also help: {answer}", "ja": "こちらもご参考ください：{answer}"},
    "faq_suggest": {
        "en": "I'm not sure I understood. Did you mean one of these?",
        "ja": "ご質問の内容を正しく理解できているか自信がありません。次のどれかについてでしょうか？",
    },
    "products_intro": {"en": "Here's what I found:", "ja": "見つかった商品です："},
    "no_products": {
        "en": "I couldn't find a title matching that. You can try the store search.",
        "ja": "該当する作品が見つかりませんでした。ストア検索もお試しください。",
    },
    "product_details_unavailable": {
        "en": "I can't load product details right now. You can find the title, price and availability in the "
        "store search.",
        "ja": "ただいま商品情報を読み込めません。作品・価格・在庫はストア検索でご確認いただけます。",
    },
    "faq_no_match": {
        "en": "I'm not sure about that one. The help center may have the answer, or I can connect you with a "
        "support agent.",
        "ja": "申し訳ありません、その件は分かりかねます。"
        "ヘルプセンターをご覧いただくか、サポート担当者におつなぎします。",
    },
    "cant_help": {
        "en": "I'm sorry, I can't help with that right now. A support agent can, or you can ask me about your "
        "orders, shipping, payment or returns.",
        "ja": "申し訳ありません、ただいまそのご質問にはお答えできません。サポート担当者におつなぎできます。"
        "ご注文・配送・お支払い・返品についてのご質問にはお答えできます。",
    },
    "escalate": {
        "en": "I'll connect you with a support agent. You can also reach us through the contact page.",
        "ja": "サポート担当者におつなぎします。お問い合わせページからもご連絡いただけます。",
    },
    "greeting": {
        "en": "Hello! I'm MangaAssist. I can track your orders, recommend manga, find titles and answer questions "
        "about shipping, payment and returns.",
        "ja": "こんにちは！MangaAssistです。ご注文の確認、漫画のおすすめ、作品探し、配送・お支払い・返品についての"
        "ご質問にお答えします。",
    },
    "greeting_personal": {
        "en": "Hello {name}! I'm MangaAssist. I can track your orders, recommend manga, find titles and answer "
        "questions about shipping, payment and returns.",
        "ja": "{name}さん、こんにちは！MangaAssistです。ご注文の確認、漫画のおすすめ、作品探し、配送・お支払い・"
        "返品についてのご質問にお答えします。",
    },
    "promotion": {"en": "Also: {text}", "ja": "お知らせ：{text}"},
    "reason_genre": {"en": "because you like {genre}", "ja": "お好きなジャンル：{genre}"},
    "reason_trending": {"en": "trending now", "ja": "今話題"},
    "edition_digital": {"en": "digital edition", "ja": "電子版"},
    "edition_print": {"en": "print edition", "ja": "紙の本"},
    "in_stock": {"en": "in stock", "ja": "在庫あり"},
    "out_of_stock": {"en": "out of stock", "ja": "在庫切れ"},
    "something_went_wrong": {
        "en": "Sorry, something went wrong on my side. Please try again in a moment, or I can connect you with "
        "a support agent.",
        "ja": "申し訳ありません、こちらで問題が発生しました。しばらくしてからもう一度お試しいただくか、"
        "サポート担当者におつなぎします。",
    },
}

ORDER_STATUS: dict[str, dict[str, str]] = {
    "processing": {"en": "being prepared", "ja": "準備中"},
    "shipped": {"en": "shipped", "ja": "発送済み"},
    "delivered": {"en": "delivered", "ja": "配達済み"},
    "cancelled": {"en": "cancelled", "ja": "キャンセル済み"},
}

RETURN_STATUS: dict[str, dict[str, str]] = {
    "requested": {"en": "requested", "ja": "受付済み"},
    "label_issued": {"en": "return label issued", "ja": "返送ラベル発行済み"},
    "received": {"en": "received by us", "ja": "返品受領済み"},
    "refunded": {"en": "refunded", "ja": "返金済み"},
}

LABEL: dict[str, dict[str, str]] = {
    "order_history": {"en": "Check Orders Page", "ja": "注文履歴を確認"},
    "escalation": {"en": "Talk to Support Agent", "ja": "サポート担当者と話す"},
    "sign_in": {"en": "Sign in", "ja": "ログイン"},
    "returns_help": {"en": "Returns Help", "ja": "返品ヘルプ"},
    "browse_manga": {"en": "Browse manga", "ja": "漫画を探す"},
    "search": {"en": "Search the store", "ja": "ストアで検索"},
    "help_center": {"en": "Help Center", "ja": "ヘルプセンター"},
    "contact": {"en": "Contact us", "ja": "お問い合わせ"},
    "track": {"en": "Track order {order_id}", "ja": "配送状況 {order_id}"},
    "return_label": {"en": "Return label {return_id}", "ja": "返品ラベル {return_id}"},
    "promotion": {"en": "See the offer", "ja": "キャンペーンを見る"},
}


def text(key: str, lang: str, **values: object) -> str:
    template = TEXT[key][lang if lang in LANGUAGES else "en"]
    return template.format(**values) if values else template


def label(key: str, lang: str, **values: object) -> str:
    template = LABEL[key][lang if lang in LANGUAGES else "en"]
    return template.format(**values) if values else template


# Store pages by the LABEL key of the link that points to them.
PAGES: dict[str, str] = {
    "order_history": "/gp/css/order-history",
    "returns_help": "/gp/help/customer/returns",
    "browse_manga": "/manga",
    "help_center": "/gp/help/customer",
    "contact": "/gp/help/customer/contact-us",
    "sign_in": "/ap/signin",
}


@dataclass(frozen=True)
class Links:
    """Store pages the chat points customers to; the host comes from STORE_BASE_URL."""

    base_url: str = DEFAULT_STORE_BASE_URL

    @classmethod
    def from_env(cls) -> Links:
        return cls(os.getenv("STORE_BASE_URL", DEFAULT_STORE_BASE_URL).rstrip("/"))

    def page(self, key: str) -> str:
        """The store page a link labelled LABEL[key] points to."""
        return f"{self.base_url}{PAGES[key]}"

    def search(self, query: str) -> str:
        return f"{self.base_url}/s?k={quote_plus(query)}" if query else self.page("browse_manga")


# ---------------------------------------------------------------- lines built from real data only


def order_line(order: Order, lang: str) -> str:
    status = ORDER_STATUS.get(order.status, {}).get(lang, order.status)
    eta = text("order_eta", lang, date=_day(order.estimated_delivery)) if order.estimated_delivery else ""
    ordered = _day(order.ordered_at)
    return text("order_line", lang, order_id=order.order_id, status=status, ordered_at=ordered, eta=eta)


def _day(timestamp: str) -> str:
    """The calendar day of an ISO 8601 timestamp as the order service sent it (no clock or zone math)."""
    return timestamp[:10] if ISO_DAY.match(timestamp) else timestamp


def return_line(case: ReturnCase, lang: str) -> str:
    status = RETURN_STATUS.get(case.status, {}).get(lang, case.status)
    return text("return_line", lang, return_id=case.return_id, order_id=case.order_id, status=status)


def _product_core(product: Product, lang: str) -> str:
    title = product.title_ja if lang == "ja" and product.title_ja else product.title
    line = title
    # Catalog titles often carry the volume already ("Frieren, Vol. 13", "葬送のフリーレン 13").
    if product.volume is not None and not re.search(rf"(?<!\d){product.volume}(?!\d)", title):
        line += f" 第{product.volume}巻" if lang == "ja" else f" vol. {product.volume}"
    author = _in_language(product.author, lang)
    if author:
        line += f"（{author}）" if lang == "ja" else f" by {author}"
    if product.price_jpy is not None:
        line += f" ¥{product.price_jpy:,}"
    return line


def _in_language(value: str, lang: str) -> str:
    """ "Eiichiro Oda / 尾田栄一郎" (English / Japanese, as the catalog writes bilingual names) -> one side."""
    parts = [part.strip() for part in value.split(" / ")]
    if len(parts) != 2:
        return value.strip()
    return parts[1] if lang == "ja" else parts[0]


def product_line(product: Product, lang: str) -> str:
    line = _product_core(product, lang)
    if not product.in_stock:
        line += "（在庫切れ）" if lang == "ja" else " (out of stock)"
    reason = pick_reason(product.reason, lang)
    if reason:
        line += f"（{reason}）" if lang == "ja" else f" ({reason})"
    return ("・" if lang == "ja" else "• ") + line


def product_fact(product: Product, lang: str) -> str:
    """One catalog record as a line of facts for the LLM's context, with format and stock spelled out."""
    lang = lang if lang in LANGUAGES else "en"
    edition = text("edition_digital" if product.format == "digital" else "edition_print", lang)
    stock = text("in_stock" if product.in_stock else "out_of_stock", lang)
    return f"{_product_core(product, lang)} / {edition} / {stock}"


def pick_reason(code: str | None, lang: str) -> str:
    """The recommender's reason code (``favorite_genre:<genre>`` or ``trending``) in the customer's words."""
    if not code:
        return ""
    kind, _, genre = code.partition(":")
    if kind == "favorite_genre" and genre:
        return text("reason_genre", lang, genre=genre.replace("_", " "))
    if kind == "trending":
        return text("reason_trending", lang)
    return ""


def promotion_text(promotion: Promotion, lang: str) -> str:
    return text("promotion", lang, text=promotion.text_ja if lang == "ja" else promotion.text_en)
