"""Slack Block Kit formatting: escaping, limits, colours per state, links, dates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mangaassist.alerting.impact import assess
from mangaassist.alerting.notification import AlarmNotification, Envelope, GenericNotice
from mangaassist.alerting.slack import (
    FALLBACK_LIMIT,
    HEADER_LIMIT,
    SECTION_LIMIT,
    escape,
    message,
    slack_date,
)
from mangaassist.registry import REGISTRY

BASE = "https://runbooks.example/docs/runbooks"


def envelope(**fields) -> Envelope:
    notice = AlarmNotification.model_validate(
        {
            "AlarmName": "OrderServiceAvailability",
            "NewStateValue": "ALARM",
            "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed",
            "AlarmArn": "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:OrderServiceAvailability",
            "StateChangeTime": "2025-03-14T18:02:40.118+0000",
            **fields,
        }
    )
    return Envelope(message_id="m-1", notice=notice)


def build(env: Envelope, base: str = BASE, dashboard: str = "") -> dict:
    return message(env, assess(env.notice, base), dashboard)


def blocks_text(msg: dict) -> str:
    return str(msg["blocks"])


def test_escape_covers_slacks_control_characters():
    assert escape("a < b && c > d") == "a &lt; b &amp;&amp; c &gt; d"


@pytest.mark.parametrize(
    ("state", "emoji", "colour"),
    [
        ("ALARM", ":red_circle:", "#D0021B"),
        ("OK", ":large_green_circle:", "#2EB67D"),
        ("INSUFFICIENT_DATA", ":white_circle:", "#9B9B9B"),
        ("SOMETHING_NEW", ":large_orange_circle:", "#F5A623"),
    ],
)
def test_emoji_and_colour_follow_the_new_state(state, emoji, colour):
    msg = build(envelope(NewStateValue=state))

    assert msg["blocks"][0]["text"]["text"] == f"{emoji} {state}: OrderServiceAvailability"
    assert msg["attachments"][0]["color"] == colour


def test_user_text_is_escaped_everywhere_it_is_mrkdwn():
    msg = build(envelope(AlarmName="Disk<=30%", NewStateReason="value <5> & falling"))

    text = blocks_text(msg)
    assert "value &lt;5&gt; &amp; falling" in text
    assert "value <5>" not in text
    assert msg["blocks"][0]["text"]["text"] == ":red_circle: ALARM: Disk<=30%"  # plain_text is not parsed
    assert "&lt;=" in msg["text"]


def test_long_texts_are_cut_to_block_kit_limits():
    msg = build(envelope(AlarmName="A" * 400, NewStateReason="r" * 10_000))

    assert len(msg["blocks"][0]["text"]["text"]) == HEADER_LIMIT
    assert all(len(b["text"]["text"]) <= SECTION_LIMIT for b in msg["blocks"] if b["type"] == "section" and "text" in b)
    assert len(msg["text"]) <= FALLBACK_LIMIT + len(f" Runbook: {BASE}/README.md")


def test_the_fallback_text_carries_state_severity_and_runbook():
    msg = build(envelope())
    spec = REGISTRY["order_service"]

    assert msg["text"] == (
        f"ALARM: OrderServiceAvailability [{spec.tier.severity}] OK → ALARM. Threshold Crossed "
        f"Runbook: {BASE}/{spec.runbook}.md"
    )


def test_a_repository_relative_runbook_path_is_shown_not_linked():
    msg = build(envelope(), base="docs/runbooks")

    links = msg["blocks"][-1]["text"]["text"]
    runbook = REGISTRY["order_service"].runbook
    assert f"Runbook: {runbook}: `docs/runbooks/{runbook}.md`" in links
    assert "<docs/runbooks" not in links


def test_dashboard_link_only_when_configured():
    without = build(envelope())["blocks"][-1]["text"]["text"]
    with_dashboard = build(envelope(), dashboard="https://dash.example/d")["blocks"][-1]["text"]["text"]

    assert "dashboard" not in without
    assert "<https://dash.example/d|MangaAssist dashboard>" in with_dashboard


def test_slack_date_renders_in_the_readers_zone_with_a_utc_fallback():
    moment = datetime(2025, 3, 14, 18, 2, 40, tzinfo=UTC)

    assert slack_date(moment, None) == "<!date^1741975360^{date_short_pretty} {time_secs}|2025-03-14 18:02:40 UTC>"
    assert slack_date(None, "garbled<time>") == "garbled&lt;time&gt;"
    assert slack_date(None, None) == "unknown"


def test_a_generic_notice_shows_the_raw_message_safely():
    notice = GenericNotice(subject="", body="```<!channel> wake up```", why="the message is not JSON")
    msg = message(Envelope(message_id="m-2", notice=notice), assess(notice, BASE))

    assert msg["blocks"][0]["text"]["text"] == ":mega: Unrecognised message on the alarm topic"
    raw = msg["blocks"][2]["text"]["text"]
    assert raw == "```'''&lt;!channel&gt; wake up'''```"  # no mention ping, no broken code block
