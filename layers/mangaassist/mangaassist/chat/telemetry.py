"""What the chat tells the on-call (EMF): its SLI, degraded answers, deferred analytics events and lost feedback."""

from __future__ import annotations

from typing import Any

from mangaassist.observability import logger
from mangaassist.ops import slo
from mangaassist.registry import METRIC_NAMESPACE

DEGRADED_ANSWERS_METRIC = "DegradedAnswers"  # dimension service: the one named in degraded_reason
ANALYTICS_DEFERRED_METRIC = "AnalyticsEventsDeferred"
FEEDBACK_DROPPED_METRIC = "FeedbackDropped"
FAQ_OFFLINE_OUTCOME_METRIC = "FaqOfflineOutcome"  # dimension outcome: answer | suggest | decline
ANALYTICS_DEFERRED_LOG = "analytics_event_deferred"  # the log line a replay job selects


class ChatTelemetry:
    """One EMF document per event, like the breaker's, so no flush is needed at the end of a request."""

    def _emit(self, name: str, service: str) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=1,
            namespace=METRIC_NAMESPACE,
            default_dimensions={"service": service},
        ):
            pass

    def faq_offline_outcome(self, outcome: str, entries: list[tuple[str, float]], lang: str) -> None:
        """What the templates-only FAQ path did, or would have done, with one FAQ question: ids and scores only,
        never the customer's words."""
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        logger.info(
            "faq_offline_outcome",
            extra={"outcome": outcome, "language": lang, "entries": [{"faq_id": i, "score": s} for i, s in entries]},
        )
        with single_metric(
            name=FAQ_OFFLINE_OUTCOME_METRIC,
            unit=MetricUnit.Count,
            value=1,
            namespace=METRIC_NAMESPACE,
            default_dimensions={"service": "chat", "outcome": outcome},
        ):
            pass

    def chat_request(self, failed: bool) -> None:
        """The SLI: one document per POST to a chat route, ChatRequests=1 and ChatFailures=1 or 0 together.

        Both values share one document so CloudWatch can never count a failure without its request.
        """
        from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

        metrics = EphemeralMetrics(namespace=METRIC_NAMESPACE, default_dimensions={"service": slo.CHAT_SERVICE})
        metrics.add_metric(name=slo.CHAT_REQUESTS_METRIC, unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=slo.CHAT_FAILURES_METRIC, unit=MetricUnit.Count, value=1 if failed else 0)
        metrics.flush_metrics()

    def degraded_answer(self, service: str, intent: str) -> None:
        self._emit(DEGRADED_ANSWERS_METRIC, service)

    def analytics_deferred(self, event: dict[str, Any], why: str) -> None:
        # The structured line is the replay queue: a job re-sends every ANALYTICS_DEFERRED_LOG event.
        logger.info(ANALYTICS_DEFERRED_LOG, extra={"analytics_event": event, "deferred_because": why})
        self._emit(ANALYTICS_DEFERRED_METRIC, "analytics")

    def feedback_dropped(self, why: str) -> None:
        logger.warning("feedback_dropped", extra={"dropped_because": why})
        self._emit(FEEDBACK_DROPPED_METRIC, "feedback")
