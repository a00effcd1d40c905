"""The capability-aware orchestrator (design Q17, Q34): one customer message in, one helpful answer out.

It detects language and intent, reads the capability map once, lets the policy table pick a flow,
and on a failed call moves to the next row for the same intent. Whatever happens inside, the customer
gets an answer in their language: never a raw error, never silence, never invented data.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mangaassist.breaker import CircuitBreakers, DependencyClientError, ServiceUnavailableError
from mangaassist.chat.flows import (
    FLOWS,
    Action,
    Reply,
    Source,
    Turn,
    escalation,
    promotion_nudge,
)
from mangaassist.chat.intents import Intent, detect_intent_with_faq
from mangaassist.chat.policy import BUDGET_S, POLICY, Decision, choose
from mangaassist.chat.policy_question import is_policy_question
from mangaassist.chat.replies import Links, text
from mangaassist.chat.telemetry import ChatTelemetry
from mangaassist.deadline import Deadline
from mangaassist.downstream.models import Order, Product
from mangaassist.downstream.ports import Downstream, Llm
from mangaassist.observability import logger
from mangaassist.registry import REGISTRY


@dataclass(frozen=True)
class ChatInput:
    message: str
    customer_id: str | None  # the Cognito subject; None for a guest
    session_id: str | None = None
    source_ip: str | None = None  # API Gateway's requestContext.identity.sourceIp: a guest's budget key
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))


INTERNAL_ERROR_FLOW = "internal_error"  # the apology a bug ends in


@dataclass
class ChatAnswer:
    message: str
    intent: Intent
    language: str
    actions: list[Action]
    degraded: bool
    degraded_reason: str | None
    request_id: str
    flow: str
    session_id: str | None = None
    orders: list[Order] | None = None
    items: list[Product] | None = None
    banner: str | None = None
    calls: list[str] = field(default_factory=list)
    deadline_exceeded: bool = False  # the answer was ready only after the request's deadline
    sources: list[Source] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """A failure for the availability SLO (mangaassist.ops.slo): the apology, or an answer past the deadline.

        A degraded answer is a success: answering through fallbacks is how the design stays available.
        """
        return self.flow == INTERNAL_ERROR_FLOW or self.deadline_exceeded


def _now_iso(clock: Callable[[], float]) -> str:
    return datetime.fromtimestamp(clock(), UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Orchestrator:
    """Everything one execution environment needs to answer; build once, call ``answer`` per message."""

    def __init__(
        self,
        *,
        breakers: CircuitBreakers,
        downstream: Downstream,
        llm: Llm,
        detect_language: Callable[[str], str],
        faq: Callable[[], Any | None] = lambda: None,
        banner: Callable[[], Any | None] = lambda: None,
        links: Links | None = None,
        telemetry: ChatTelemetry | None = None,
        clock: Callable[[], float] = time.time,
        classifier: Any | None = None,
        llm_budget: Any | None = None,
    ):
        self.breakers = breakers
        self.downstream = downstream
        self.llm = llm
        self.detect_language = detect_language
        self.faq = faq
        self.banner = banner
        self.links = links or Links.from_env()
        self.telemetry = telemetry or ChatTelemetry()
        self.clock = clock
        self.classifier = classifier  # rules plus the encoder; None: the rules and the FAQ alone
        self.llm_budget = llm_budget  # a ClientBudget (mangaassist.chat.client_budget); None: no per-client limit

    # ------------------------------------------------------------ the one entry point

    def answer(self, request: ChatInput, context: Any = None) -> ChatAnswer:
        lang = self.detect_language(request.message)
        try:
            return self._answer(request, lang, context)
        except Exception:
            # A bug must still end in a polite answer with a way to a human, never in a stack trace.
            logger.exception("chat_answer_failed", extra={"request_id": request.request_id})
            return ChatAnswer(
                message=text("something_went_wrong", lang),
                intent=Intent.OPEN_ENDED,
                language=lang,
                actions=[escalation(lang)],
                degraded=True,
                degraded_reason=None,
                request_id=request.request_id,
                flow=INTERNAL_ERROR_FLOW,
                session_id=request.session_id,
            )

    def _answer(self, request: ChatInput, lang: str, context: Any) -> ChatAnswer:
        started = time.perf_counter()
        faq_index = self._faq_index()
        intent = self._intent(request.message, lang, faq_index)
        deadline = Deadline.for_lambda(context, BUDGET_S[intent])
        down = {service for service, up in self.breakers.capability_map().items() if not up}
        turn = Turn(
            message=request.message,
            lang=lang,
            intent=intent,
            customer_id=request.customer_id,
            deadline=deadline,
            downstream=self.downstream,
            llm=self.llm,
            links=self.links,
            faq=faq_index,
            detect_language=self.detect_language,
        )
        if self.llm_budget is not None:
            turn.spend_llm_budget = lambda: self.llm_budget.spend(request.customer_id, request.source_ip)
        if intent is Intent.FAQ:
            self._faq_offline_outcome(turn)
        reply, decision = self._run(turn, down)
        self._nudge(turn, decision, down, reply)
        answer = ChatAnswer(
            message=reply.message,
            intent=intent,
            language=lang,
            actions=reply.actions,
            degraded=decision.degraded and not reply.unaffected,
            degraded_reason=None if reply.unaffected else decision.degraded_reason,
            request_id=request.request_id,
            flow=decision.flow.value,
            session_id=request.session_id,
            orders=reply.orders,
            items=reply.items,
            banner=self._banner_text(lang),
            calls=turn.calls,
            sources=reply.sources,
        )
        self._record(answer, request, down, deadline)
        answer.deadline_exceeded = deadline.expired()
        logger.info(
            "chat_answer",
            extra={
                "request_id": request.request_id,
                "intent": intent.value,
                "flow": answer.flow,
                "language": lang,
                "degraded_reason": answer.degraded_reason,
                "signed_in": request.customer_id is not None,
                "services_down": sorted(down),
                "calls": turn.calls,
                "deadline_exceeded": answer.deadline_exceeded,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return answer

    # ------------------------------------------------------------ steps

    def _intent(self, message: str, lang: str, faq_index: Any | None) -> Intent:
        if self.classifier is None:
            return detect_intent_with_faq(message, lang, faq_index)
        intent = self.classifier.classify(message, lang, faq_index).intent
        if intent in (Intent.RETURNS, Intent.ORDER_TRACKING) and is_policy_question(message, intent, lang, faq_index):
            # "What is your return policy?" is answered from the FAQ, not from the customer's own returns.
            return Intent.FAQ
        return intent

    def _faq_offline_outcome(self, turn: Turn) -> None:
        """What the templates-only path does with this question, recorded whether or not Bedrock is up:
        a fallback that never runs is the one that fails on the day it is needed."""
        try:
            outcome, matches = turn.faq_retrieval()
            scored = [(m.entry.id, round(float(m.score), 3)) for m in matches]
            self.telemetry.faq_offline_outcome(outcome, scored, turn.lang)
        except Exception:  # measuring the fallback must never cost the customer the answer
            logger.exception("faq_offline_outcome_failed")

    def _faq_index(self) -> Any | None:
        try:
            return self.faq()
        except Exception:  # the FAQ is a nice-to-have for routing; flows work without it
            logger.exception("faq_index_unavailable")
            return None

    def _run(self, turn: Turn, down: set[str]) -> tuple[Reply, Decision]:
        signed_in = turn.customer_id is not None
        for _ in range(len(POLICY)):
            decision = choose(turn.intent, down, signed_in)
            turn.row = decision.row
            try:
                return FLOWS[decision.flow](turn), decision
            except (ServiceUnavailableError, DependencyClientError) as err:
                if err.service in down or err.service not in decision.row.needs:
                    raise
                logger.warning(
                    err.degraded_reason if isinstance(err, ServiceUnavailableError) else f"{err.service}_unavailable",
                    extra={
                        "intent": turn.intent.value,
                        "flow": decision.flow.value,
                        "service": err.service,
                        "failure": getattr(err, "kind", f"http_{getattr(err, 'status_code', '')}"),
                    },
                )
                down.add(err.service)
        raise RuntimeError(f"no policy row could answer {turn.intent}")

    def _nudge(self, turn: Turn, decision: Decision, down: set[str], reply: Reply) -> None:
        """Promotions are tier 3: append a nudge when the service is up, skip it silently otherwise."""
        if not decision.row.nudge or "promotions" in down:
            return
        try:
            nudge = promotion_nudge(turn)
        except (ServiceUnavailableError, DependencyClientError):
            return
        if nudge is None:
            return
        line, action = nudge
        reply.message = f"{reply.message}\n\n{line}"
        if action is not None:
            reply.actions.append(action)

    def _banner_text(self, lang: str) -> str | None:
        try:
            banner = self.banner()  # Banners: the pinger's and the operator's, combined into one message
        except Exception:  # a banner is a courtesy; failing to read it must not fail the answer
            logger.exception("banner_unavailable")
            return None
        if banner is None:
            return None
        # The clock, not only the read: an environment keeps its last read while the store is down.
        return banner.message(lang, self.clock())

    def _record(self, answer: ChatAnswer, request: ChatInput, down: set[str], deadline: Deadline) -> None:
        """Analytics (tier 4): send the event if the service is up and there is time, else log it for replay."""
        if answer.degraded_reason:
            self.telemetry.degraded_answer(answer.degraded_reason.removesuffix("_unavailable"), answer.intent.value)
        event = {
            "type": "chat_turn",
            "request_id": request.request_id,
            "session_id": request.session_id,
            "intent": answer.intent.value,
            "flow": answer.flow,
            "language": answer.language,
            "degraded_reason": answer.degraded_reason,
            "signed_in": request.customer_id is not None,
            "at": _now_iso(self.clock),
        }
        if "analytics" in down:
            self.telemetry.analytics_deferred(event, "circuit_open")
            return
        if deadline.remaining() < REGISTRY["analytics"].timeout_ms / 1000:
            self.telemetry.analytics_deferred(event, "no_time_left")
            return
        try:
            self.downstream.record_event(event, deadline)
            answer.calls.append("analytics")
        except (ServiceUnavailableError, DependencyClientError) as err:
            self.telemetry.analytics_deferred(event, type(err).__name__)

    # ------------------------------------------------------------ feedback

    def feedback(self, feedback: dict[str, Any], context: Any = None) -> bool:
        """Send the customer's rating to the feedback service; True if it was delivered.

        Feedback is tier 4: when the service is down the rating is dropped and the loss counted.
        """
        if not self.breakers.is_available("feedback"):
            self.telemetry.feedback_dropped("circuit_open")
            return False
        deadline = Deadline.for_lambda(context, BUDGET_S[Intent.GREETING])
        try:
            self.downstream.send_feedback(feedback, deadline)
        except (ServiceUnavailableError, DependencyClientError) as err:
            self.telemetry.feedback_dropped(type(err).__name__)
            return False
        return True
