"""PagerDuty Events API v2 events: ALARM triggers, OK resolves (same dedup_key), anything else is Slack only."""

from __future__ import annotations

import hashlib
from typing import Any

from mangaassist.alerting.impact import Impact
from mangaassist.alerting.notification import ALARM, OK, AlarmNotification, Envelope

# The registry's P1..P4 on PagerDuty's four severities; PagerDuty's event rules turn them into urgency.
PAGERDUTY_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}
SUMMARY_LIMIT = 1024  # Events API v2: payload.summary
DEDUP_KEY_LIMIT = 255  # Events API v2: dedup_key
CLIENT = "MangaAssist alarm relay"
GROUP = "MangaAssist"


def dedup_key(notification: AlarmNotification) -> str:
    """The alarm ARN, so ALARM and the later OK address the same incident; hashed only if it is too long."""
    key = notification.alarm_arn or f"alarm:{notification.alarm_name}"
    if len(key) <= DEDUP_KEY_LIMIT:
        return key
    return f"{key[:180]}#sha256:{hashlib.sha256(key.encode()).hexdigest()[:32]}"


def _links(impact: Impact, dashboard_url: str, console_url: str | None) -> list[dict[str, str]]:
    links = [{"href": runbook.url, "text": runbook.title} for runbook in impact.runbooks]
    if dashboard_url:
        links.append({"href": dashboard_url, "text": "MangaAssist dashboard"})
    if console_url:
        links.append({"href": console_url, "text": "Alarm in CloudWatch"})
    # PagerDuty renders links as anchors; a repository-relative runbook path would be a dead one.
    return [link for link in links if link["href"].startswith(("https://", "http://"))]


def _summary(notification: AlarmNotification, impact: Impact) -> str:
    services = ", ".join([*(spec.display_name for spec in impact.services), *impact.platform_labels])
    what = f" - {services} degraded" if services else ""
    capabilities = f" ({', '.join(impact.capabilities)})" if impact.capabilities else ""
    text = f"[{impact.severity}] {notification.alarm_name} in ALARM{what}{capabilities}: {notification.reason}"
    return text if len(text) <= SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 1] + "…"


def event(
    envelope: Envelope, notification: AlarmNotification, impact: Impact, routing_key: str, dashboard_url: str = ""
) -> dict[str, Any] | None:
    """The Events API v2 body for this transition, or None when the transition is not PagerDuty's business."""
    key = dedup_key(notification)
    if notification.new_state == OK:
        return {"routing_key": routing_key, "event_action": "resolve", "dedup_key": key}
    if notification.new_state != ALARM:
        return None
    moment = notification.state_change_time
    payload: dict[str, Any] = {
        "summary": _summary(notification, impact),
        "source": notification.alarm_arn or notification.alarm_name,
        "severity": PAGERDUTY_SEVERITY.get(impact.severity, "warning"),
        "group": GROUP,
        "class": f"cloudwatch-{notification.kind.replace('_', '-')}-alarm",
        "custom_details": {
            "alarm_name": notification.alarm_name,
            "transition": f"{notification.old_state or '?'} -> {notification.new_state}",
            "reason": notification.reason,
            "condition": notification.condition,
            "description": notification.description or "",
            "severity": impact.severity,
            "services": list(impact.service_names),
            "platform_parts": list(impact.platform_parts),
            "capabilities": list(impact.capabilities),
            "customer_impact": {spec.name: spec.impact for spec in impact.services},
            "chatbot_fallback": {spec.name: spec.fallback for spec in impact.services},
            "region": notification.region_code or notification.region_name,
            "account": notification.account_id,
            "sns_message_id": envelope.message_id,
        },
    }
    if moment is not None:
        payload["timestamp"] = moment.isoformat()
    if impact.services:
        payload["component"] = impact.services[0].name
    body: dict[str, Any] = {
        "routing_key": routing_key,
        "event_action": "trigger",
        "dedup_key": key,
        "payload": payload,
        "client": CLIENT,
        "links": _links(impact, dashboard_url, notification.console_url),
    }
    if dashboard_url:
        body["client_url"] = dashboard_url
    return body
