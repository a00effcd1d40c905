"""The alarm relay handler on every events/ file: the exact Slack message and PagerDuty event each one produces.

Real parts: moto server (Secrets Manager, idempotency and state tables) and the local Slack/PagerDuty receivers.
Registry facts (display names, tiers, impacts, runbooks) are read from the registry, never restated.
"""

from __future__ import annotations

from typing import Any

import pytest

from mangaassist.ops.alarms import alarm_catalog
from mangaassist.registry import PLATFORM_RUNBOOKS, REGISTRY, Tier
from tests.integration import test_alarm_relay_harness as harness
from tests.integration.test_alarm_relay_harness import DASHBOARD_URL, RUNBOOK_BASE_URL

pytestmark = pytest.mark.integration

# The bench fixtures, shared with the other alarm-relay modules.
bench = harness.bench
receivers = harness.receivers

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
PD_SEVERITY = {"P1": "critical", "P2": "error", "P3": "warning", "P4": "info"}


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"


def console(name: str) -> str:
    return f"https://{REGION}.console.aws.amazon.com/cloudwatch/home?region={REGION}#alarmsV2:alarm/{name}"


def runbook(name: str) -> str:
    return f"{RUNBOOK_BASE_URL}/{name}.md"


def field(title: str, value: str) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{title}*\n{value}"}


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def links(*pairs: tuple[str, str]) -> dict[str, Any]:
    return section("  •  ".join(f"<{url}|{title}>" for url, title in pairs))


def footer(colour: str, text: str) -> list[dict[str, Any]]:
    return [{"color": colour, "blocks": [{"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}]}]


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text, "emoji": True}}


def severity_field(severity: str, pages: bool) -> dict[str, str]:
    return field("Severity", f"{severity} · {'pages on-call' if pages else 'channel only'}")


def slack_date(epoch: int, utc: str) -> str:
    return f"<!date^{epoch}^{{date_short_pretty}} {{time_secs}}|{utc}>"


ORDER = REGISTRY["order_service"]
CATALOG = alarm_catalog()
ORDER_REASON_ALARM = (
    "Threshold Crossed: 1 out of the last 1 datapoints [14.0 (14/03/25 18:01:00)] was greater than the threshold "
    "(10.0) (minimum 1 datapoint for OK -> ALARM transition)."
)
ORDER_DESCRIPTION = CATALOG["OrderServiceAvailability"].description
ORDER_CONDITION = "OrderServiceError + OrderServiceTimeout > 10 for 1 of 1 period(s) of 60 s"


def test_metric_math_alarm_posts_the_exact_slack_message_and_pagerduty_trigger(bench):
    result = bench.invoke_file("alarm_metric_math_alarm")

    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "delivered"}
    severity = ORDER.tier.severity
    esc = lambda s: s.replace(">", "&gt;")  # noqa: E731 - Slack's escaping, spelled out
    assert bench.slack.bodies() == [
        {
            "text": (
                f"ALARM: OrderServiceAvailability [{severity}] OK → ALARM. {esc(ORDER_REASON_ALARM)}"
                f" Runbook: {runbook(ORDER.runbook)}"
            ),
            "blocks": [
                header(":red_circle: ALARM: OrderServiceAvailability"),
                {
                    "type": "section",
                    "fields": [
                        field("State", "OK → ALARM"),
                        severity_field(severity, pages=True),
                        field("Services", ORDER.display_name),
                        field("Affected capabilities", ", ".join(ORDER.capabilities)),
                        field("Since", slack_date(1741975360, "2025-03-14 18:02:40 UTC")),
                        field("Condition", esc(ORDER_CONDITION)),
                    ],
                },
                section(f"*Reason*\n{esc(ORDER_REASON_ALARM)}"),
                section(f"*Description*\n{esc(ORDER_DESCRIPTION)}"),
                section(
                    f"*What customers see*\n• *{ORDER.display_name}*: {ORDER.impact}. "
                    f"Chatbot fallback: {ORDER.fallback}."
                ),
                links(
                    (runbook(ORDER.runbook), f"Runbook: {ORDER.runbook}"),
                    (DASHBOARD_URL, "MangaAssist dashboard"),
                    (console("OrderServiceAvailability"), "Alarm in CloudWatch"),
                ),
            ],
            "attachments": footer(
                "#D0021B",
                f"metric-math alarm · {REGION} · account {ACCOUNT} · SNS 6c1a3e9d-4b7f-5e21-8d0a-9f2b3c4d5e02",
            ),
        }
    ]
    assert bench.pagerduty.bodies() == [
        {
            "routing_key": bench.routing_key,
            "event_action": "trigger",
            "dedup_key": arn("OrderServiceAvailability"),
            "payload": {
                "summary": (
                    f"[{severity}] OrderServiceAvailability in ALARM - {ORDER.display_name} degraded "
                    f"({', '.join(ORDER.capabilities)}): {ORDER_REASON_ALARM}"
                ),
                "source": arn("OrderServiceAvailability"),
                "severity": PD_SEVERITY[severity],
                "group": "MangaAssist",
                "class": "cloudwatch-metric-math-alarm",
                "timestamp": "2025-03-14T18:02:40.118000+00:00",
                "component": "order_service",
                "custom_details": {
                    "alarm_name": "OrderServiceAvailability",
                    "transition": "OK -> ALARM",
                    "reason": ORDER_REASON_ALARM,
                    "condition": ORDER_CONDITION,
                    "description": ORDER_DESCRIPTION,
                    "severity": severity,
                    "services": ["order_service"],
                    "platform_parts": [],
                    "capabilities": list(ORDER.capabilities),
                    "customer_impact": {"order_service": ORDER.impact},
                    "chatbot_fallback": {"order_service": ORDER.fallback},
                    "region": REGION,
                    "account": ACCOUNT,
                    "sns_message_id": "6c1a3e9d-4b7f-5e21-8d0a-9f2b3c4d5e02",
                },
            },
            "client": "MangaAssist alarm relay",
            "client_url": DASHBOARD_URL,
            "links": [
                {"href": runbook(ORDER.runbook), "text": f"Runbook: {ORDER.runbook}"},
                {"href": DASHBOARD_URL, "text": "MangaAssist dashboard"},
                {"href": console("OrderServiceAvailability"), "text": "Alarm in CloudWatch"},
            ],
        }
    ]


def test_single_metric_alarm_maps_the_service_dimension_to_the_registry(bench):
    bench.invoke_file("alarm_metric_alarm")

    catalog = REGISTRY["catalog"]
    (message,) = bench.slack.bodies()
    assert message["blocks"][0] == header(":red_circle: ALARM: CatalogCircuitOpen")
    assert message["blocks"][1]["fields"] == [
        field("State", "OK → ALARM"),
        severity_field(catalog.tier.severity, pages=True),
        field("Services", catalog.display_name),
        field("Affected capabilities", ", ".join(catalog.capabilities)),
        field("Since", slack_date(1741975331, "2025-03-14 18:02:11 UTC")),
        field("Condition", "Maximum CircuitOpen (service=catalog) &gt;= 1 for 1 of 1 period(s) of 60 s"),
    ]
    (event,) = bench.pagerduty.bodies()
    assert (event["event_action"], event["dedup_key"]) == ("trigger", arn("CatalogCircuitOpen"))
    assert event["payload"]["severity"] == PD_SEVERITY[catalog.tier.severity] == "critical"
    assert event["payload"]["component"] == "catalog"
    assert event["payload"]["class"] == "cloudwatch-metric-alarm"


def test_composite_alarm_takes_severity_and_runbook_from_the_catalog_and_names_the_child_that_fired(bench):
    bench.invoke_file("alarm_composite_alarm")

    burn = CATALOG["ChatSloFastBurn"]
    (message,) = bench.slack.bodies()
    assert message["blocks"][0] == header(":red_circle: ALARM: ChatSloFastBurn")
    assert message["blocks"][1]["fields"] == [
        field("State", "OK → ALARM"),
        severity_field(burn.severity, burn.page),
        field("Services", "none: platform-wide"),
        field("Affected capabilities", "—"),
        field("Since", slack_date(1741975470, "2025-03-14 18:04:30 UTC")),
        field("Condition", 'Rule: ALARM("ChatSloFastBurn1h") AND ALARM("ChatSloFastBurn5m")'),
        field("Triggered by", "ChatSloFastBurn5m"),
    ]
    assert message["blocks"][-1] == links(
        (runbook(burn.runbook), f"Runbook: {burn.runbook}"),
        (DASHBOARD_URL, "MangaAssist dashboard"),
        (console("ChatSloFastBurn"), "Alarm in CloudWatch"),
    )
    (event,) = bench.pagerduty.bodies()
    assert event["dedup_key"] == arn("ChatSloFastBurn")
    assert event["payload"]["severity"] == PD_SEVERITY[burn.severity]
    assert event["payload"]["class"] == "cloudwatch-composite-alarm"
    assert event["payload"]["custom_details"]["services"] == []
    assert "component" not in event["payload"]


def test_ok_resolves_the_incident_the_alarm_opened(bench):
    bench.invoke_file("alarm_metric_math_alarm")
    bench.invoke_file("alarm_ok")

    trigger, resolve = bench.pagerduty.bodies()
    assert resolve == {
        "routing_key": bench.routing_key,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }
    ok_message = bench.slack.bodies()[1]
    assert ok_message["blocks"][0] == header(":large_green_circle: OK: OrderServiceAvailability")
    assert ok_message["blocks"][1]["fields"][0] == field("State", "ALARM → OK")
    assert ok_message["attachments"][0]["color"] == "#2EB67D"
    # Recovery needs no "what customers see" section.
    assert not any("What customers see" in str(block) for block in ok_message["blocks"])


def test_insufficient_data_goes_to_slack_only(bench):
    result = bench.invoke_file("alarm_insufficient_data")

    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "not_applicable"}
    assert bench.pagerduty.requests == []
    (message,) = bench.slack.bodies()
    assert message["blocks"][0] == header(":white_circle: INSUFFICIENT_DATA: RecommendationsAvailability")
    assert message["attachments"][0]["color"] == "#9B9B9B"
    assert message["blocks"][1]["fields"][1] == severity_field(REGISTRY["recommendations"].tier.severity, pages=True)


def test_malformed_message_is_relayed_as_a_generic_notice(bench):
    result = bench.invoke_file("sns_malformed_message")

    assert result["records"][0]["kind"] == "generic_notice"
    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "not_applicable"}
    assert bench.slack.bodies() == [
        {
            "text": "Notice on the alarm topic: manual test &lt;ops&gt; (the message is not JSON)",
            "blocks": [
                header(":mega: manual test <ops>"),
                section("*Relayed as received because* the message is not JSON."),
                section("```OrderServiceAvailability looks bad, please check {not json```"),
                links((runbook("README"), "Runbook index"), (DASHBOARD_URL, "MangaAssist dashboard")),
            ],
            "attachments": footer(
                "#F5A623",
                "SNS 2b3c4d5e-6f7a-5b8c-9d0e-1f2a3b4c5d06 · arn:aws:sns:ap-northeast-1:123456789012:mangaassist-alarms",
            ),
        }
    ]
    assert bench.pagerduty.requests == []


def test_every_record_of_a_multi_record_event_is_relayed_and_only_paging_alarms_reach_pagerduty(bench):
    result = bench.invoke_file("sns_multiple_records")

    names = ["OrderServiceCircuitOpen", "StateStoreErrors", "PromotionsCircuitOpen", "NightlyExportLag"]
    assert [r["alarm"] for r in result["records"]] == names
    headers = [m["blocks"][0]["text"]["text"] for m in bench.slack.bodies()]
    assert headers == [f":red_circle: ALARM: {name}" for name in names]
    paging = [name for name in names if name in CATALOG and CATALOG[name].page]
    assert paging == ["OrderServiceCircuitOpen", "StateStoreErrors"]
    assert [r["channels"]["pagerduty"] for r in result["records"]] == [
        "delivered",
        "delivered",
        "not_applicable",  # a P3 circuit: the channel is told, nobody is woken
        "not_applicable",  # unknown alarm: likewise
    ]
    order, state_store = bench.pagerduty.bodies()
    assert [order["dedup_key"], state_store["dedup_key"]] == [arn(name) for name in paging]
    assert order["payload"]["severity"] == PD_SEVERITY[REGISTRY["order_service"].tier.severity]
    # The state store is platform, not a registry service: its own runbook, the catalog's severity.
    assert state_store["payload"]["custom_details"]["platform_parts"] == ["state_store"]
    assert state_store["payload"]["severity"] == PD_SEVERITY[CATALOG["StateStoreErrors"].severity]
    assert state_store["links"][0] == {
        "href": runbook(PLATFORM_RUNBOOKS["state_store"]),
        "text": f"Runbook: {PLATFORM_RUNBOOKS['state_store']}",
    }
    promotions_slack, unknown_slack = bench.slack.bodies()[2:]
    assert severity_field(REGISTRY["promotions"].tier.severity, pages=False) in promotions_slack["blocks"][1]["fields"]
    # An alarm nobody catalogued still reaches the channel, pointing at the runbook index.
    assert (
        field(
            "Severity", f"{Tier.NICE_TO_HAVE.severity} · channel only (alarm unknown to the catalog and the registry)"
        )
        in (unknown_slack["blocks"][1]["fields"])
    )
    assert unknown_slack["blocks"][-1] == links(
        (runbook("README"), "Runbook index"),
        (DASHBOARD_URL, "MangaAssist dashboard"),
        (console("NightlyExportLag"), "Alarm in CloudWatch"),
    )
