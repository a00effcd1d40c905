"""Rule-based intent detection for Japanese and English messages: no network, no LLM, always available.

Each intent has weighted patterns; the highest total wins and ties go to the intent earlier in
``PRECEDENCE`` (the more specific request, and the one where a wrong guess costs the customer most).
A message that matches nothing is ``open_ended``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Intent(StrEnum):
    ORDER_TRACKING = "order_tracking"
    RECOMMENDATION = "recommendation"
    PRODUCT_INFO = "product_info"
    FAQ = "faq"
    RETURNS = "returns"
    ESCALATION = "escalation"
    GREETING = "greeting"
    OPEN_ENDED = "open_ended"

    def __str__(self) -> str:
        return self.value


# Ties resolve to the earlier intent: asking for a human beats everything, and a return or an order
# question mentioned in passing matters more than small talk.
PRECEDENCE: tuple[Intent, ...] = (
    Intent.ESCALATION,
    Intent.RETURNS,
    Intent.ORDER_TRACKING,
    Intent.RECOMMENDATION,
    Intent.FAQ,
    Intent.PRODUCT_INFO,
    Intent.GREETING,
)

DECISIVE = 10  # an explicit request for a person outweighs whatever else the message mentions
STRONG = 3
MEDIUM = 2
WEAK = 1


@dataclass(frozen=True)
class Rule:
    intent: Intent
    weight: int
    pattern: re.Pattern[str]


def _rules(intent: Intent, weight: int, *patterns: str) -> list[Rule]:
    return [Rule(intent, weight, re.compile(p)) for p in patterns]


# Patterns run on NFKC-normalised, lower-cased text, so full-width letters and digits match too.
RULES: tuple[Rule, ...] = tuple(
    # ---- escalation: the customer wants a person
    _rules(
        Intent.ESCALATION,
        DECISIVE,
        r"\b(human|real person|live (agent|person|chat)|representative|operator|supervisor|manager)\b",
        r"\b(talk|speak|chat) (to|with) (a |an |the )?(someone|somebody|person|agent|staff|support|customer service)",
        r"\b(customer (service|support)|support (agent|team|staff)|contact (support|you|someone))\b",
        r"\bescalate\b|\bcomplaint\b|\bcall me\b",
        # The whole message is the request: "AGENT", "human pls", "real person!!"
        r"^(an? |a real |real )?(agent|human|person|operator|representative|staff|support|rep)"
        r"( please| pls| plz| now)*[\s!.?]*$",
        r"オペレーター|オペレータ|担当者|有人|人間と|スタッフと|サポート(に|へ|と)(連絡|つな|繋|相談|話)|"
        r"カスタマー(サービス|サポート)|問い合わせ窓口|問合せ窓口|苦情|クレーム|電話(で|したい|してほしい)|責任者",
        r"(人|人間|担当|スタッフ|サポートの人|係の人)(の方)?(と|に|を)?(話|代わ|かわ|呼|つな|繋)",
    )
    # ---- returns: sending something back, refunds, damaged goods
    + _rules(
        Intent.RETURNS,
        STRONG,
        r"\b(return|returns|returning|refund|refunds|refunded|exchange|send (it|this|them) back)\b",
        r"\b(damaged|defective|broken|torn|cracked|ripped|bent|dented|crushed|scratched|misprint(ed)?|missing pages|"
        r"wrong (item|book|volume|edition))\b",
        r"返品|返金|交換|破損|不良品?|落丁|乱丁|汚れ|破れ|傷(が|あり|つ)|違う(商品|本|巻)|間違(った|い)(商品|本|巻)|返送",
        r"(壊れ|割れ|折れ|潰れ|へこ|凹)(て|た)(届|い)|別の(本|商品|漫画|マンガ|巻)が(入|届)",
    )
    # ---- order tracking: where is the customer's own order
    + _rules(
        Intent.ORDER_TRACKING,
        STRONG,
        r"\bwhere('s| is| are) my (order|orders|package|parcel|delivery|manga|book|books|stuff)\b",
        r"\b(track|tracking)\b",
        r"\border (status|number|history)\b|\bstatus of my (order|package|delivery)\b",
        r"\b(has|did|have) my (order|package|parcel|book|books|manga)\b",
        r"\bwhen (will|does|do) (my|the) (order|package|parcel|delivery|book|books|manga) (arrive|come|ship|get here)",
        r"\b(hasn't|hasnt|has not|haven't|havent|have not|didn't|didnt|did not|never) (arrived|come|shipped|"
        r"received|got|gotten)\b",
        r"注文(状況|履歴|の状況|の状態|番号)|配送状況|配達状況|追跡|荷物(は|が|の)|"
        r"(注文|頼ん|買っ|購入)(した|だ)?(本|商品|漫画|マンガ|もの|の)?(は|が)?(いつ|どこ|まだ)|"
        r"まだ届|届かない|届いていない|届いてない|発送済|発送状況|(注文|荷物|頼んだ|買った).*発送",
        r"(頼んだ|注文した|買った|購入した).{0,30}(どこ|いつ届|まだ)|(出荷|発送)(されて|して)(い)?ない",
    )
    + _rules(Intent.ORDER_TRACKING, MEDIUM, r"\bmy (order|orders|package|parcel|delivery)\b", r"私の注文|注文した")
    # ---- recommendation: what to read next
    + _rules(
        Intent.RECOMMENDATION,
        STRONG,
        r"\b(recommend|recommends|recommendation|recommendations|suggest|suggestion|suggestions)\b",
        r"\bwhat (should|can|could) i read\b|\bsomething (like|similar)\b|\bsimilar to\b|\bif i (liked|like|enjoyed)\b",
        r"\b(must-read|must read|what to read|read next)\b",
        r"おすすめ|オススメ|お勧め|お薦め|推薦|似た(作品|漫画|マンガ|本|ような)|次に読む|何を読|読むべき|教えてほしい漫画",
    )
    + _rules(
        Intent.RECOMMENDATION,
        MEDIUM,
        r"\b(popular|trending|best|top|good|great) (manga|series|comics|titles|books)\b|\bbestsellers?\b",
        r"人気|流行|話題の|ランキング|売れ筋|面白い(漫画|マンガ|本|作品)",
    )
    # ---- FAQ: store policies and how-tos
    + _rules(
        Intent.FAQ,
        STRONG,
        r"\b(shipping|postage|delivery (fee|fees|cost|costs|charge|charges|time|times|options?|days?))\b",
        r"\b(payment|payments|pay (with|by|for)|credit card|debit card|paypay|convenience store|cash on delivery)\b",
        r"\b(points?|gift (wrap|wrapping|card|cards|message)|wrapping|pre-?orders?|coupons?|vouchers?|membership)\b",
        r"\b(account|password|sign (in|up)|log ?in|email address|delivery address|shipping address|receipt|invoice)\b",
        r"\b(digital (edition|editions|version|copy|copies)|e-?books?|kindle|download|overseas|international)\b",
        r"\bcancel\b|\bcancellation\b",
        r"送料|配送料|配送(日数|方法|料金|先)|お届け(日|予定|日数)|支払|決済|クレジット|コンビニ|代引|代金引換|paypay|"
        r"ポイント|ギフト|ラッピング|包装|のし|予約|キャンセル|アカウント|パスワード|ログイン|会員|メールアドレス|"
        r"住所|クーポン|電子書籍|電子版|kindle|ダウンロード|領収書|海外|発送(まで|には)",
    )
    # ---- product info: a specific book, its price, stock, volumes, release
    + _rules(
        Intent.PRODUCT_INFO,
        MEDIUM,
        r"\b(price|prices|cost of|in stock|out of stock|available in|release date|released|coming out|isbn)\b",
        r"\b(vol\.?|volume|volumes) ?\d+|\bhow many volumes\b|\blatest volume\b|\bnew volume\b",
        r"\b(who (wrote|drew|is the author)|author of|synopsis|tell me about|what is .+ about)\b",
        r"\b(box set|special edition|limited edition)\b",
        r"値段|価格|在庫|発売日|発売(され|予定)|作者|著者|作家|あらすじ|\d+巻|何巻|最新刊|新刊|特装版|限定版|"
        r"について(教えて|知りたい)|どんな(話|漫画|マンガ|作品)",
    )
    + _rules(Intent.PRODUCT_INFO, WEAK, r"\bhow much\b|\bis .+ (out|available)\b", r"いくら|ありますか")
    # ---- greeting: small talk that opens or closes a conversation
    + _rules(
        Intent.GREETING,
        WEAK,
        r"^(hi|hello|hey|hiya|howdy|greetings|good (morning|afternoon|evening)|thanks|thank you|yo)\b",
        r"^(こんにちは|こんばんは|おはよう|はじめまして|初めまして|もしもし|やあ|ありがとう|どうも|よろしく)",
    )
)

# A greeting followed by a real question is that question, not small talk.
GREETING_MAX_CHARS = 40


def normalise(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII), lower case, single spaces."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return " ".join(folded.split())


def scores(text: str) -> dict[Intent, int]:
    """Every intent's total weight for ``text`` (0 for intents that matched nothing)."""
    norm = normalise(text)
    totals = dict.fromkeys(PRECEDENCE, 0)
    for rule in RULES:
        if rule.pattern.search(norm):
            totals[rule.intent] += rule.weight
    return totals


def classify(text: str) -> tuple[Intent, int]:
    """The intent of one customer message by rules alone, and how much evidence backs it (0 = none)."""
    totals = scores(text)
    best = max(totals.values())
    if best == 0:
        return Intent.OPEN_ENDED, 0
    winner = next(intent for intent in PRECEDENCE if totals[intent] == best)
    if winner is Intent.GREETING and len(normalise(text)) > GREETING_MAX_CHARS:
        return Intent.OPEN_ENDED, 0
    return winner, best


def detect_intent(text: str) -> Intent:
    return classify(text)[0]


def detect_intent_with_faq(text: str, lang: str, faq_index: Any | None) -> Intent:
    """The rules, and where they have no strong hit, the FAQ index (``best(text, lang)``, no network).

    Without a strong rule hit ("where is my order", "recommend", "返品"), a confident FAQ match decides:
    the matched entry's intent, usually faq, or returns / order_tracking for entries about the customer's
    own returns and orders. "Can I send my order to a new address?" mentions "my order" but is a question
    for the FAQ.
    """
    intent, evidence = classify(text)
    if evidence > MEDIUM or faq_index is None:
        return intent
    match = faq_index.best(text, lang)
    if match is None:
        return intent
    entry_intent = getattr(match.entry, "intent", Intent.FAQ.value)
    return Intent(entry_intent) if entry_intent in Intent.__members__.values() else Intent.FAQ
