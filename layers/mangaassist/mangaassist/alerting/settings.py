"""The alarm relay's configuration, read once from its environment (secret ids only, never secret values)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_PAGERDUTY_EVENTS_URL = "https://events.pagerduty.com/v2/enqueue"
DEFAULT_RUNBOOK_BASE_URL = "docs/runbooks"
# Whatever the Slack secret holds is posted to with the alarm's text: anything but a Slack webhook would hand
# our alarms to whoever could write the secret's value. Only the local stack and tests set another prefix.
DEFAULT_SLACK_WEBHOOK_PREFIX = "https://hooks.slack.com/"


def _float(name: str, default: float) -> float:
    raw = os.getenv(name, "").strip()
    try:
        return float(raw) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True)
class RelaySettings:
    idempotency_table: str
    state_table: str
    slack_webhook_secret_id: str = ""
    pagerduty_routing_key_secret_id: str = ""
    pagerduty_events_url: str = DEFAULT_PAGERDUTY_EVENTS_URL
    runbook_base_url: str = DEFAULT_RUNBOOK_BASE_URL
    dashboard_url: str = ""
    slack_webhook_prefix: str = DEFAULT_SLACK_WEBHOOK_PREFIX
    http_timeout_s: float = 4.0  # read timeout per call; connect timeout is capped at 2 s
    secret_max_age_s: int = 300  # how long a fetched secret is reused before Secrets Manager is asked again
    idempotency_ttl_s: int = 24 * 3600  # longer than Lambda's async retries and SNS redelivery
    alarm_memory_days: int = 30  # how long the last relayed transition of an alarm is kept

    @property
    def http_timeout(self) -> tuple[float, float]:
        return (min(2.0, self.http_timeout_s), self.http_timeout_s)

    @classmethod
    def from_env(cls) -> RelaySettings:
        return cls(
            idempotency_table=os.environ["IDEMPOTENCY_TABLE"],
            state_table=os.environ["STATE_TABLE"],
            slack_webhook_secret_id=os.getenv("SLACK_WEBHOOK_SECRET_ID", "").strip(),
            pagerduty_routing_key_secret_id=os.getenv("PAGERDUTY_ROUTING_KEY_SECRET_ID", "").strip(),
            pagerduty_events_url=os.getenv("PAGERDUTY_EVENTS_URL", "").strip() or DEFAULT_PAGERDUTY_EVENTS_URL,
            runbook_base_url=os.getenv("RUNBOOK_BASE_URL", "").strip() or DEFAULT_RUNBOOK_BASE_URL,
            dashboard_url=os.getenv("DASHBOARD_URL", "").strip(),
            slack_webhook_prefix=os.getenv("SLACK_WEBHOOK_PREFIX", "").strip() or DEFAULT_SLACK_WEBHOOK_PREFIX,
            http_timeout_s=_float("ALERT_HTTP_TIMEOUT_S", 4.0),
            secret_max_age_s=int(_float("SECRET_MAX_AGE_S", 300)),
            idempotency_ttl_s=int(_float("IDEMPOTENCY_TTL_S", 24 * 3600)),
        )
