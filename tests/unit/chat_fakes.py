"""In-memory stand-ins for the chat's ports (Downstream, Llm, FAQ index, banner) that count every call.

The fake Downstream goes through the real CircuitBreakers exactly like the HTTP adapter does, so an
open circuit short-circuits before the fake is reached; ``attempts`` counts calls the orchestrator
made, ``reached`` the calls that got past the breaker to the "service".
"""

from __future__ import annotations

import collections
import functools
from dataclasses import dataclass, field
from typing import Any

from mangaassist.breaker import CircuitBreakers, Override
from mangaassist.breaker.telemetry import BreakerTelemetry
from mangaassist.downstream.models import Order, OrderItem, Product, Profile, Promotion, ReturnCase
from tests.fakes import InMemoryCircuitStore

# Values that exist only in these fakes: if one shows up in an answer, it came from the fake's data.
ORDER_IDS = ("ORD-7731-FAKE", "ORD-8842-FAKE")
ORDER_DATES = ("2031-02-03", "2031-02-09", "2031-02-11")
RETURN_ID = "RET-5519-FAKE"
CUSTOMER = "0b7c6a52-1111-4c2e-9a55-3c1f0d6e8a01"
PROMO_EN = "Double points on all Jump titles this week"
PROMO_JA = "今週はジャンプ作品のポイント2倍"

LANGS = ("en", "ja")
JA_REPLY = "ご質問ありがとうございます。こちらが回答です。"
EN_REPLY = "Thanks for asking. Here is the answer."


# The fake catalog, one row a product.
CATALOG_FIELDS = ("product_id", "title", "title_ja", "author", "volume", "price_jpy")
CATALOG = (
    ("p-onepiece-107", "One Piece", "ワンピース", "Eiichiro Oda", 107, 528),
    ("p-frieren-12", "Frieren", "葬送のフリーレン", "Kanehito Yamada", 12, 572),
)


def products() -> list[Product]:
    rows = [dict(zip(CATALOG_FIELDS, row, strict=True)) for row in CATALOG]
    return [Product(**row, url=f"https://store.example/p/{row['product_id'].removeprefix('p-')}") for row in rows]


def orders() -> list[Order]:
    return [
        Order(
            order_id=ORDER_IDS[0],
            status="shipped",
            ordered_at=ORDER_DATES[0],
            estimated_delivery=ORDER_DATES[1],
            items=[OrderItem(product_id="p-onepiece-107", title="One Piece 107")],
            tracking_url="https://track.example/ORD-7731",
        ),
        Order(order_id=ORDER_IDS[1], status="processing", ordered_at=ORDER_DATES[2]),
    ]


class FakeDownstream:
    """Implements the Downstream port from fixed data, through the breaker like HttpDownstream."""

    def __init__(self, breakers: CircuitBreakers):
        self.breakers = breakers
        self.attempts: collections.Counter[str] = collections.Counter()
        self.reached: collections.Counter[str] = collections.Counter()
        self.failures: dict[str, Exception] = {}  # service -> exception its "server" raises
        self.events: list[dict[str, Any]] = []
        self.feedback: list[dict[str, Any]] = []
        self.order_data = orders()
        self.product_data = products()

    def _through(self, service: str, produce):
        self.attempts[service] += 1

        def reach():
            self.reached[service] += 1
            if service in self.failures:
                raise self.failures[service]
            return produce()

        return self.breakers.call(service, reach)

    def recent_orders(self, customer_id, deadline, limit=5):
        return self._through("order_service", lambda: self.order_data[:limit])

    def search_products(self, query, lang, deadline, limit=5):
        return self._through("catalog", lambda: self.product_data[:limit])

    def popular_products(self, deadline, limit=5):
        return self._through("catalog", lambda: list(reversed(self.product_data))[:limit])

    def recommendations(self, customer_id, deadline, limit=5):
        return self._through("recommendations", lambda: self.product_data[:1])

    def returns(self, customer_id, deadline):
        return self._through(
            "returns_service",
            lambda: [ReturnCase(return_id=RETURN_ID, order_id=ORDER_IDS[0], status="label_issued")],
        )

    def promotions(self, customer_id, lang, deadline):
        return self._through(
            "promotions",
            lambda: [Promotion(promotion_id="promo-1", text_en=PROMO_EN, text_ja=PROMO_JA, url="https://s.example/p")],
        )

    def profile(self, customer_id, deadline):
        return self._through("user_profile", lambda: Profile(customer_id=customer_id, display_name="Sakura"))

    def record_event(self, event, deadline):
        return self._through("analytics", lambda: self.events.append(event))

    def send_feedback(self, feedback, deadline):
        return self._through("feedback", lambda: self.feedback.append(feedback))


class FakeLlm:
    """Answers in the language the system prompt asks for; remembers every prompt it was given."""

    def __init__(self, breakers: CircuitBreakers):
        self.breakers = breakers
        self.attempts = 0
        self.reached = 0
        self.prompts: list[str] = []
        self.failure: Exception | None = None
        self.reply: str | None = None  # a fixed reply, to test unusable answers

    def converse(self, system, messages, deadline, max_tokens=400):
        self.attempts += 1

        def reach():
            self.reached += 1
            self.prompts.append(system)
            if self.failure is not None:
                raise self.failure
            if self.reply is not None:
                return self.reply
            return JA_REPLY if "Reply in Japanese" in system else EN_REPLY

        return self.breakers.call("llm", reach)


@dataclass
class FaqEntry:
    id: str
    answer: dict[str, str]
    questions: dict[str, list[str]]
    links: list[dict[str, Any]] = field(default_factory=list)
    intent: str = "faq"


@dataclass
class FaqMatch:
    entry: FaqEntry
    score: float = 1.0


def faq_entry(
    entry_id: str, question: tuple[str, str], answer: tuple[str, str], intent: str = "faq", **more: Any
) -> FaqEntry:
    """An entry with one question and its answer, each (English, Japanese)."""
    return FaqEntry(
        entry_id,
        dict(zip(LANGS, answer, strict=True)),
        {lang: [q] for lang, q in zip(LANGS, question, strict=True)},
        intent=intent,
        **more,
    )


SHIPPING = faq_entry(
    "shipping-fee",
    ("How much is shipping?", "送料はいくらですか"),
    (
        "Shipping is free on orders of 2,000 yen or more; otherwise it is 410 yen.",
        "2,000円以上のご注文は送料無料です。それ未満は410円です。",
    ),
    links=[{"label": {"en": "Shipping rates", "ja": "送料について"}, "url": "https://store.example/help/shipping"}],
)
AUTOGRAPHS = faq_entry(
    "signed-copies",
    ("Do you sell autographed copies?", "サイン本はありますか"),
    (
        "We do not sell signed copies; autographed editions are sold only at publisher events.",
        "サイン本の販売は行っておりません。サイン本は出版社のイベントでのみ販売されます。",
    ),
)
PARCEL = faq_entry(
    "parcel-whereabouts",
    ("Where is my parcel?", "荷物はどこですか"),
    ("You can follow your parcel on the order history page.", "荷物は注文履歴ページで追跡できます。"),
    intent="order_tracking",
)


class FakeFaqIndex:
    """Matches messages about shipping, autographs or a parcel's whereabouts in either language; nothing else."""

    def __init__(self) -> None:
        self.lookups = 0

    def best(self, text: str, lang: str) -> FaqMatch | None:
        self.lookups += 1
        lowered = text.lower()
        if "shipping" in lowered or "送料" in text or "postage" in lowered:
            return FaqMatch(SHIPPING)
        if "autograph" in lowered or "サイン本" in text:
            return FaqMatch(AUTOGRAPHS)
        if "parcel gone" in lowered:
            return FaqMatch(PARCEL)
        return None


@dataclass
class FakeBanner:
    active: bool = True
    message_en: str = "Some answers are simplified while our AI assistant recovers."
    message_ja: str = "AIアシスタントの復旧中のため、一部の回答を簡略化しています。"


class QuietBreakerTelemetry(BreakerTelemetry):
    """Counts the breaker's metric documents instead of printing thousands of them in the matrix."""

    def __init__(self) -> None:
        self.emitted: collections.Counter[str] = collections.Counter()

    def emit(self, spec, name, value, unit) -> None:
        self.emitted[f"{spec.name}:{name}"] += 1


def breakers_with(down: set[str] | frozenset[str] = frozenset(), quiet: bool = False) -> CircuitBreakers:
    """Fresh in-memory breakers with the circuits of ``down`` forced open fleet-wide."""
    telemetry = QuietBreakerTelemetry() if quiet else None
    breakers = CircuitBreakers(InMemoryCircuitStore(), cache_ttl_s=60.0, telemetry=telemetry)
    for service in down:
        breakers.set_override(service, Override.FORCED_OPEN)
    return breakers


class CountingTelemetry:
    """ChatTelemetry's interface, counting instead of emitting."""

    def __init__(self) -> None:
        self.degraded: list[tuple[str, str]] = []
        self.deferred: list[tuple[dict[str, Any], str]] = []
        self.dropped: list[str] = []
        self.faq_outcomes: list[tuple[str, list[tuple[str, float]], str]] = []

    def faq_offline_outcome(self, outcome: str, entries: list[tuple[str, float]], lang: str) -> None:
        self.faq_outcomes.append((outcome, entries, lang))

    def degraded_answer(self, service: str, intent: str) -> None:
        self.degraded.append((service, intent))

    def analytics_deferred(self, event: dict[str, Any], why: str) -> None:
        self.deferred.append((event, why))

    def feedback_dropped(self, why: str) -> None:
        self.dropped.append(why)


@functools.cache
def real_faq_index() -> Any:
    """The hybrid FAQ index the chat builds from the bundled copy: lexical, dense and the shipped vectors."""
    from mangaassist.faq.bundled import BUNDLED_VECTORS_PATH, bundled_document
    from mangaassist.faq.hybrid import HybridFaqIndex
    from mangaassist.faq.matcher import FaqIndex
    from mangaassist.faq.vectors import read_vectors
    from mangaassist.understanding.encoder import shared_encoder

    return HybridFaqIndex(FaqIndex.build(bundled_document()), read_vectors(BUNDLED_VECTORS_PATH), shared_encoder)


def real_classifier() -> Any:
    from mangaassist.chat.intent_classifier import shared_classifier

    return shared_classifier()


STORE_LINKS_BASE = "https://store.example"


def fake_orchestrator(
    breakers: CircuitBreakers | None = None,
    downstream: FakeDownstream | None = None,
    llm: FakeLlm | None = None,
    telemetry: CountingTelemetry | None = None,
    **wiring: Any,
) -> Any:
    """The real Orchestrator over the fakes: rules-only intents, the lexical FAQ index, the test store's links;
    missing fakes are made over ``breakers`` (all closed by default). ``wiring`` overrides or adds any other
    Orchestrator argument (banner, clock, classifier, llm_budget, faq...)."""
    from mangaassist.chat.orchestrator import Orchestrator
    from mangaassist.chat.replies import Links
    from mangaassist.language import detect_language

    breakers = breakers_with(quiet=True) if breakers is None else breakers
    arguments: dict[str, Any] = {
        "breakers": breakers,
        "downstream": FakeDownstream(breakers) if downstream is None else downstream,
        "llm": FakeLlm(breakers) if llm is None else llm,
        "detect_language": detect_language,
        "faq": FakeFaqIndex,
        "links": Links(STORE_LINKS_BASE),
        "telemetry": CountingTelemetry() if telemetry is None else telemetry,
    }
    return Orchestrator(**{**arguments, **wiring})


class FakeRuntime:
    """The routes' runtime (answer, feedback, health, status) over the fakes above, no AWS, no network."""

    def __init__(
        self,
        down: set[str] | frozenset[str] = frozenset(),
        banner: Any | None = None,
        understanding: bool = False,
        llm_budget: Any | None = None,
    ):
        """``understanding``: the real classifier and hybrid FAQ index over the bundled document (in-process,
        no network) instead of the rules and the lexical index alone."""
        self.breakers = breakers_with(down, quiet=True)
        self.downstream = FakeDownstream(self.breakers)
        self.llm = FakeLlm(self.breakers)
        self.telemetry = CountingTelemetry()
        self.banner = banner
        self.health_checks = {"state_store": True, "faq_store": True}
        self.health_pings: dict[str, Any] = {}
        self.orchestrator = fake_orchestrator(
            self.breakers,
            self.downstream,
            self.llm,
            self.telemetry,
            banner=lambda: self.banner,
            classifier=real_classifier() if understanding else None,
            llm_budget=llm_budget,
        )
        if understanding:
            index = real_faq_index()
            self.orchestrator.faq = lambda: index
        self.requests: list[Any] = []

    def answer(self, request, context):
        self.requests.append(request)
        return self.orchestrator.answer(request, context)

    def feedback(self, feedback, context):
        return self.orchestrator.feedback(feedback, context)

    def health(self):
        from mangaassist.chat.health_check import run_checks

        def state_store():
            if not self.health_checks["state_store"]:
                raise ConnectionError("state-table-prod at http://10.0.0.1:8000 refused")

        return run_checks(state_store, lambda: self.health_checks["faq_store"])

    def status(self):
        from mangaassist.status_view import status_body

        return status_body(self.breakers, lambda: self.health_pings, self.banner)
