"""Relays every SNS record of an alarm event to Slack and PagerDuty, each channel at most once per SNS message.

Per record: parse (never raises) -> claim the transition in the state table (older than the last relayed one:
not news) -> for each channel, an idempotent delivery keyed on (MessageId, channel) through Powertools
Idempotency. A channel that fails retryably does not stop the other channel or the other records; after all
records, the invocation raises so Lambda retries it, and the retry re-posts only what did not get through.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import requests
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    BasePersistenceLayer,
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from mangaassist.alerting import pagerduty, slack
from mangaassist.alerting.channel_secrets import SecretReader
from mangaassist.alerting.delivery import DELIVERED, REJECTED, post_json, scrub
from mangaassist.alerting.impact import Impact, assess
from mangaassist.alerting.notification import (
    ALARM,
    INSUFFICIENT_DATA,
    OK,
    AlarmNotification,
    Envelope,
    GenericNotice,
    parse_event,
)
from mangaassist.alerting.settings import RelaySettings
from mangaassist.alerting.transitions import Claim, DynamoTransitionLedger
from mangaassist.aws_clients import client
from mangaassist.observability import logger, metrics

SLACK = "slack"
PAGERDUTY = "pagerduty"
CHANNELS = (SLACK, PAGERDUTY)
IDEMPOTENCY_KEY_PREFIX = "alarm-relay"

# Channel outcomes reported per record.
NOT_APPLICABLE = "not_applicable"  # e.g. INSUFFICIENT_DATA for PagerDuty
NOT_CONFIGURED = "not_configured"  # secret id unset or secret still empty
REFUSED = "refused"  # the Slack secret is not a Slack webhook: never posted to, not retried
ALREADY_SENT = "already_sent"  # idempotency replay: an earlier attempt delivered (or was rejected)
FAILED = "failed"  # retryable; the invocation raises at the end
STALE = "stale"  # an older transition than the last relayed for this alarm
QUIET = "quiet"  # INSUFFICIENT_DATA -> OK of an alarm that was not in ALARM: a deploy settling, logged only

# Answers that mean "this secret is no longer the right one": worth one fresh read of the secret.
_STALE_SECRET_STATUSES = {400, 401, 403, 404, 410}


class AlarmRelayError(Exception):
    """Some deliveries failed retryably; raised after every record was tried so Lambda retries the event."""

    def __init__(self, failures: list[str]):
        super().__init__(f"{len(failures)} delivery(ies) will be retried: " + "; ".join(failures))
        self.failures = failures


class AlarmRelay:
    def __init__(
        self,
        settings: RelaySettings,
        secrets: SecretReader,
        ledger: DynamoTransitionLedger,
        persistence_store: BasePersistenceLayer,
        session: requests.Session | None = None,
    ):
        self.settings = settings
        self.secrets = secrets
        self.ledger = ledger
        self.session = session or requests.Session()
        self.idempotency = IdempotencyConfig(
            expires_after_seconds=settings.idempotency_ttl_s,
            raise_on_no_idempotency_key=True,
            response_hook=_mark_replayed,
        )
        self._deliver_once = idempotent_function(
            self._deliver,
            data_keyword_argument="delivery",
            persistence_store=persistence_store,
            config=self.idempotency,
            key_prefix=IDEMPOTENCY_KEY_PREFIX,
        )

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        if context is not None:
            # Lets an attempt killed by the Lambda timeout release its in-progress marker for the retry.
            self.idempotency.register_lambda_context(context)
        summaries: list[dict[str, Any]] = []
        failures: list[str] = []
        for envelope in parse_event(event):
            try:
                summary = self.relay(envelope)
            except Exception as err:
                # A bug on one record must not starve the records behind it: they are relayed, this one is retried.
                logger.error(
                    "record could not be relayed; the event will be retried",
                    extra={"message_id": envelope.message_id, "error": type(err).__name__},
                )
                summary = {"message_id": envelope.message_id, "channels": dict.fromkeys(CHANNELS, FAILED)}
            summaries.append(summary)
            failures += [
                f"{channel} for {envelope.message_id}" for channel, out in summary["channels"].items() if out == FAILED
            ]
        if failures:
            metrics.add_metric(name="AlarmRelayRetriedDeliveries", unit=MetricUnit.Count, value=len(failures))
            raise AlarmRelayError(failures)
        return {"records": summaries}

    def relay(self, envelope: Envelope) -> dict[str, Any]:
        notice = envelope.notice
        summary: dict[str, Any] = {"message_id": envelope.message_id, "channels": {}}
        if isinstance(notice, AlarmNotification):
            summary.update(alarm=notice.alarm_name, state=notice.new_state, kind=notice.kind)
            claim = self._claim(envelope, notice)
            if not claim.is_news:
                summary["channels"] = dict.fromkeys(CHANNELS, STALE)
                return summary
            if self._settling(notice, claim):
                summary["channels"] = dict.fromkeys(CHANNELS, QUIET)
                return summary
        else:
            summary.update(kind="generic_notice")
            _report(
                "AlarmRelayGenericNotices",
                logger.warning,
                "unrecognised message on the alarm topic, relaying it as a generic notice",
                message_id=envelope.message_id,
                why=notice.why,
                subject=notice.subject,
            )
        impact = assess(notice, self.settings.runbook_base_url)
        summary.update(severity=impact.severity, services=list(impact.service_names))
        for channel in CHANNELS:
            summary["channels"][channel] = self._relay_to(channel, envelope, impact)
        return summary

    def _settling(self, notification: AlarmNotification, claim: Claim) -> bool:
        """INSUFFICIENT_DATA -> OK with no ALARM before it: every new alarm does this after a deploy. Posting it
        teaches on-call to ignore the channel; a real recovery (ALARM -> OK, or ALARM -> INSUFFICIENT_DATA -> OK)
        is still posted and still resolves PagerDuty. An unchecked claim posts, as it always did."""
        if not (notification.new_state == OK and notification.old_state == INSUFFICIENT_DATA and claim.checked):
            return False
        if claim.previous_definite_state == ALARM:
            return False
        _report(
            "AlarmRelayQuietTransitions",
            logger.info,
            "alarm settled without having alarmed; logged, not posted",
            alarm_name=notification.alarm_name,
            state_change_time=notification.state_change_time_raw,
            previous_definite_state=claim.previous_definite_state or None,
        )
        return True

    def _claim(self, envelope: Envelope, notification: AlarmNotification) -> Claim:
        claim = self.ledger.claim(notification, envelope.message_id)
        log = {"alarm_name": notification.alarm_name, "message_id": envelope.message_id}
        if not claim.checked:
            logger.warning(
                "could not check the alarm's last relayed transition; relaying it as news",
                extra={**log, "problem": claim.problem},
            )
        if claim.is_news:
            return claim
        _report(
            "AlarmRelayStaleTransitions",
            logger.warning,
            "older transition than the last one relayed for this alarm; not posted as news",
            **log,
            state=notification.new_state,
            state_change_time=notification.state_change_time_raw,
            relayed_state=claim.newer_state,
            relayed_state_change_time=claim.newer_change,
        )
        return claim

    def _applies(self, channel: str, notice: AlarmNotification | GenericNotice, impact: Impact) -> bool:
        if channel == SLACK:
            return True
        # PagerDuty hears ALARM and OK of alarms that page; INSUFFICIENT_DATA and channel-only alarms stay in Slack.
        return isinstance(notice, AlarmNotification) and notice.new_state in (ALARM, OK) and impact.pages

    def _secret_id(self, channel: str) -> str:
        return (
            self.settings.slack_webhook_secret_id if channel == SLACK else self.settings.pagerduty_routing_key_secret_id
        )

    def _relay_to(self, channel: str, envelope: Envelope, impact: Impact) -> str:
        if not self._applies(channel, envelope.notice, impact):
            return NOT_APPLICABLE
        secret_id = self._secret_id(channel)
        log = {"channel": channel, "message_id": envelope.message_id, "alarm_name": _alarm_name(envelope)}
        try:
            secret = self.secrets.read(secret_id)
            if secret is None:
                _report(
                    "AlarmRelayChannelNotConfigured",
                    logger.warning,
                    f"{channel} is not configured: secret {secret_id or '(no secret id set)'} is empty or missing; "
                    "skipping this channel",
                    **log,
                    secret_id=secret_id,
                )
                return NOT_CONFIGURED
            if channel == SLACK and not secret.startswith(self.settings.slack_webhook_prefix):
                # The value is never logged: it may be a real webhook pasted with a typo, i.e. still a secret.
                _report(
                    "AlarmRelaySlackWebhookRefused",
                    logger.error,
                    f"slack webhook refused: the value of secret {secret_id} does not start with "
                    f"{self.settings.slack_webhook_prefix}; not posted, not retried",
                    **log,
                    secret_id=secret_id,
                )
                return REFUSED
            result = self._deliver_once(
                channel, envelope, impact, delivery={"message_id": envelope.message_id, "channel": channel}
            )
        except Exception as err:
            # Every failure here is retried by raising after all records; its text may quote a request, so scrub it.
            _report(
                "AlarmRelayDeliveryFailures",
                logger.error,
                "delivery failed; the event will be retried",
                **log,
                error=type(err).__name__,
                detail=scrub(str(err), self._known_secrets()),
            )
            return FAILED
        outcome = ALREADY_SENT if result.get("replayed") else result["outcome"]
        if outcome == DELIVERED:
            metric = f"AlarmRelay{'Slack' if channel == SLACK else 'PagerDuty'}Delivered"
            _report(metric, logger.info, f"relayed to {channel}", **log, status=result["status"])
        elif outcome == REJECTED:
            _report(
                "AlarmRelayRejected",
                logger.error,
                f"{channel} rejected the message; not retried (fix the payload or the secret)",
                **log,
                status=result["status"],
                response=result["detail"],
            )
        else:
            _report(
                "AlarmRelayDuplicatesSuppressed",
                logger.info,
                "already sent by an earlier attempt; not posted again",
                **log,
                was=result["outcome"],
            )
        return outcome

    def _request(self, channel: str, envelope: Envelope, impact: Impact, secret: str) -> tuple[str, dict[str, Any]]:
        notice = envelope.notice
        if channel == SLACK:
            try:
                return secret, slack.message(envelope, impact, self.settings.dashboard_url)
            except Exception as err:
                # An alarm the formatter trips over still reaches the channel, raw, rather than never.
                logger.error("could not format the alarm; relaying it raw", extra={"error": type(err).__name__})
                raw = GenericNotice(
                    subject=_alarm_name(envelope),
                    body=envelope.notice.model_dump_json(by_alias=True),
                    why="the relay could not format this alarm",
                )
                return secret, slack.notice_message(envelope, raw, impact, self.settings.dashboard_url)
        assert isinstance(notice, AlarmNotification)
        body = pagerduty.event(envelope, notice, impact, secret, self.settings.dashboard_url)
        assert body is not None
        return self.settings.pagerduty_events_url, body

    def _deliver(self, channel: str, envelope: Envelope, impact: Impact, *, delivery: dict[str, str]) -> dict[str, Any]:
        """Runs at most once to completion per (MessageId, channel); its result is what a retry gets back."""
        secret_id = self._secret_id(channel)
        secret = self.secrets.read(secret_id) or ""
        url, body = self._request(channel, envelope, impact, secret)
        result = post_json(self.session, channel, url, body, self.settings.http_timeout, (secret,))
        if result.outcome == REJECTED and result.status in _STALE_SECRET_STATUSES:
            # A rotated webhook or routing key answers 4xx while the old value sits in the cache: read it once
            # more, and only if it changed, post again. Otherwise the rejection stands.
            fresh = self.secrets.read(secret_id, force_fetch=True) or ""
            if fresh and fresh != secret and (channel != SLACK or fresh.startswith(self.settings.slack_webhook_prefix)):
                logger.info(
                    "secret changed since it was cached; posting once more",
                    extra={"channel": channel, "secret_id": secret_id},
                )
                url, body = self._request(channel, envelope, impact, fresh)
                result = post_json(self.session, channel, url, body, self.settings.http_timeout, (secret, fresh))
        return {"outcome": result.outcome, "status": result.status, "detail": result.detail}

    def _known_secrets(self) -> Iterable[str]:
        for secret_id in (self.settings.slack_webhook_secret_id, self.settings.pagerduty_routing_key_secret_id):
            try:
                value = self.secrets.read(secret_id)
            except Exception:  # noqa: S112 - scrubbing must never fail the error path it protects
                continue
            if value:
                yield value


def _report(metric: str, log: Callable[..., None], message: str, **extra: Any) -> None:
    """Every outcome the relay reports is counted (alarms and the dashboard watch the metric) and logged with
    its why; the log line carries the caller's location, not this function's."""
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    log(message, extra=extra, stacklevel=3)


def _alarm_name(envelope: Envelope) -> str:
    return envelope.notice.alarm_name if isinstance(envelope.notice, AlarmNotification) else ""


def _mark_replayed(response: Any, _record: Any) -> Any:
    return {**response, "replayed": True} if isinstance(response, dict) else response


def relay_from_env(settings: RelaySettings | None = None, session: requests.Session | None = None) -> AlarmRelay:
    """The relay one execution environment uses: settings (from the environment unless given), AWS clients and
    the HTTP session built once."""
    settings = settings or RelaySettings.from_env()
    dynamodb = client("dynamodb", hot_path=False)
    return AlarmRelay(
        settings,
        secrets=SecretReader(
            SecretsProvider(boto3_client=client("secretsmanager", hot_path=False)), settings.secret_max_age_s
        ),
        ledger=DynamoTransitionLedger(settings.state_table, dynamodb, settings.alarm_memory_days),
        persistence_store=DynamoDBPersistenceLayer(table_name=settings.idempotency_table, boto3_client=dynamodb),
        session=session,
    )
