"""Slack Block Kit messages for alarm notifications and generic notices (with fallback text for notifications)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mangaassist.alerting.impact import Impact
from mangaassist.alerting.notification import ALARM, INSUFFICIENT_DATA, OK, AlarmNotification, Envelope, GenericNotice

# Block Kit limits (api.slack.com/reference/block-kit/blocks): header text 150, section text 3000, field 2000.
HEADER_LIMIT = 150
SECTION_LIMIT = 3000
FIELD_LIMIT = 2000
FALLBACK_LIMIT = 600

STATE_STYLE: dict[str, tuple[str, str]] = {
    ALARM: (":red_circle:", "#D0021B"),
    OK: (":large_green_circle:", "#2EB67D"),
    INSUFFICIENT_DATA: (":white_circle:", "#9B9B9B"),
}
UNKNOWN_STATE_STYLE = (":large_orange_circle:", "#F5A623")
NOTICE_STYLE = (":mega:", "#F5A623")


def escape(text: str) -> str:
    """Slack's three control characters; alarm names and reasons contain '<=' and '>' often enough."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_date(moment: datetime | None, raw: str | None) -> str:
    """A date Slack renders in each reader's own time zone, with a UTC fallback for plain-text clients."""
    if moment is None:
        return escape(raw) if raw else "unknown"
    fallback = moment.strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time_secs}}|{fallback}>"


def _link(url: str, title: str) -> str:
    if url.startswith(("https://", "http://")):
        return f"<{url}|{escape(title)}>"
    return f"{escape(title)}: `{escape(url)}`"


def _links(impact: Impact, dashboard_url: str, console_url: str | None) -> list[str]:
    links = [_link(runbook.url, runbook.title) for runbook in impact.runbooks]
    if dashboard_url:
        links.append(_link(dashboard_url, "MangaAssist dashboard"))
    if console_url:
        links.append(_link(console_url, "Alarm in CloudWatch"))
    return links


def _severity(impact: Impact) -> str:
    text = f"{impact.severity} · {'pages on-call' if impact.pages else 'channel only'}"
    return text if impact.known else f"{text} (alarm unknown to the catalog and the registry)"


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, SECTION_LIMIT)}}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate(text, HEADER_LIMIT), "emoji": True}}


def _footer(colour: str, parts: list[str]) -> list[dict[str, Any]]:
    # Block Kit has no colour of its own; a one-line attachment gives the message its state-coloured bar
    # without putting the content where Slack may fold it behind "Show more".
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(p for p in parts if p)}]}
    return [{"color": colour, "blocks": [context]}]


def alarm_message(
    envelope: Envelope, notification: AlarmNotification, impact: Impact, dashboard_url: str = ""
) -> dict[str, Any]:
    state = notification.new_state
    emoji, colour = STATE_STYLE.get(state, UNKNOWN_STATE_STYLE)
    transition = f"{notification.old_state} → {state}" if notification.old_state else state
    services = ", ".join([*(spec.display_name for spec in impact.services), *impact.platform_labels])
    capabilities = ", ".join(impact.capabilities)
    fields = [
        f"*State*\n{escape(transition)}",
        f"*Severity*\n{_severity(impact)}",
        f"*Services*\n{escape(services) or ('none: platform-wide' if impact.known else 'unknown')}",
        f"*Affected capabilities*\n{escape(capabilities) or '—'}",
        f"*Since*\n{slack_date(notification.state_change_time, notification.state_change_time_raw)}",
    ]
    if notification.condition:
        fields.append(f"*Condition*\n{escape(notification.condition)}")
    if notification.triggering_children:
        fired = ", ".join(child.name for child in notification.triggering_children)
        fields.append(f"*Triggered by*\n{escape(fired)}")
    blocks: list[dict[str, Any]] = [
        _header(f"{emoji} {state}: {notification.alarm_name}"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": truncate(f, FIELD_LIMIT)} for f in fields]},
        _section(f"*Reason*\n{escape(notification.reason) or 'CloudWatch gave no reason'}"),
    ]
    if notification.description:
        blocks.append(_section(f"*Description*\n{escape(notification.description)}"))
    if state == ALARM and impact.services:
        lines = [
            f"• *{escape(spec.display_name)}*: {escape(spec.impact)}. Chatbot fallback: {escape(spec.fallback)}."
            for spec in impact.services
        ]
        blocks.append(_section("*What customers see*\n" + "\n".join(lines)))
    links = _links(impact, dashboard_url, notification.console_url)
    blocks.append(_section("  •  ".join(links)))
    region = notification.region_code or notification.region_name
    footer = [
        f"{notification.kind.replace('_', '-')} alarm",
        escape(region),
        f"account {escape(notification.account_id)}" if notification.account_id else "",
        f"SNS {escape(envelope.message_id)}",
    ]
    text = f"{state}: {notification.alarm_name} [{impact.severity}] {transition}. {notification.reason}"
    runbook = f" Runbook: {impact.runbooks[0].url}" if impact.runbooks else ""
    text = truncate(escape(text), max(FALLBACK_LIMIT - len(runbook), FALLBACK_LIMIT // 2)) + runbook
    return {"text": text, "blocks": blocks, "attachments": _footer(colour, footer)}


def notice_message(
    envelope: Envelope, notice: GenericNotice, impact: Impact, dashboard_url: str = ""
) -> dict[str, Any]:
    emoji, colour = NOTICE_STYLE
    title = notice.subject or "Unrecognised message on the alarm topic"
    blocks: list[dict[str, Any]] = [_header(f"{emoji} {title}")]
    blocks.append(_section(f"*Relayed as received because* {escape(notice.why)}."))
    body = notice.body.replace("```", "'''")
    blocks.append(_section(f"```{truncate(escape(body), SECTION_LIMIT - 8)}```"))
    blocks.append(_section("  •  ".join(_links(impact, dashboard_url, None))))
    footer = [f"SNS {escape(envelope.message_id)}", escape(envelope.topic_arn)]
    text = truncate(escape(f"Notice on the alarm topic: {title} ({notice.why})"), FALLBACK_LIMIT)
    return {"text": text, "blocks": blocks, "attachments": _footer(colour, footer)}


def message(envelope: Envelope, impact: Impact, dashboard_url: str = "") -> dict[str, Any]:
    notice = envelope.notice
    if isinstance(notice, AlarmNotification):
        return alarm_message(envelope, notice, impact, dashboard_url)
    return notice_message(envelope, notice, impact, dashboard_url)
