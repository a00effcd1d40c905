"""PagerDuty Events API v2 events: which transitions page, severity per tier, dedup keys, links."""

from __future__ import annotations

import pytest

from mangaassist.alerting.impact import assess
from mangaassist.alerting.notification import AlarmNotification, Envelope
from mangaassist.alerting.pagerduty import DEDUP_KEY_LIMIT, SUMMARY_LIMIT, dedup_key, event
from mangaassist.registry import SERVICES

BASE = "https://runbooks.example/docs/runbooks"
ARN = "arn:aws:cloudwatch:ap-northeast-1:123456789012:alarm:"


def notification(name: str = "OrderServiceAvailability", **fields) -> AlarmNotification:
    return AlarmNotification.model_validate(
        {
            "AlarmName": name,
            "NewStateValue": "ALARM",
            "OldStateValue": "OK",
            "NewStateReason": "Threshold Crossed",
            "AlarmArn": ARN + name,
            **fields,
        }
    )


def pd_event(n: AlarmNotification, base: str = BASE, dashboard: str = "") -> dict | None:
    return event(Envelope(message_id="m-1", notice=n), n, assess(n, base), "ROUTING", dashboard)


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_severity_follows_the_services_tier(spec):
    expected = {1: "critical", 2: "error", 3: "warning", 4: "info"}[int(spec.tier)]

    assert pd_event(notification(f"{spec.metric_prefix}Availability"))["payload"]["severity"] == expected


def test_ok_resolves_with_the_same_dedup_key_and_nothing_else():
    trigger = pd_event(notification())
    resolve = pd_event(notification(NewStateValue="OK", OldStateValue="ALARM"))

    assert resolve == {"routing_key": "ROUTING", "event_action": "resolve", "dedup_key": trigger["dedup_key"]}
    assert trigger["dedup_key"] == ARN + "OrderServiceAvailability"


@pytest.mark.parametrize("state", ["INSUFFICIENT_DATA", "SOMETHING_NEW"])
def test_other_states_do_not_page(state):
    assert pd_event(notification(NewStateValue=state)) is None


def test_an_over_long_arn_is_hashed_into_a_stable_key_within_the_limit():
    long_name = "X" * 300
    first = dedup_key(notification(long_name))
    again = dedup_key(notification(long_name))
    other = dedup_key(notification("Y" * 300))

    assert len(first) <= DEDUP_KEY_LIMIT
    assert first == again != other


def test_an_alarm_without_an_arn_is_keyed_by_its_name():
    n = notification(AlarmArn=None)

    assert dedup_key(n) == "alarm:OrderServiceAvailability"
    assert pd_event(n)["payload"]["source"] == "OrderServiceAvailability"


def test_summary_is_cut_to_the_api_limit():
    body = pd_event(notification(NewStateReason="r" * 5000))

    assert len(body["payload"]["summary"]) == SUMMARY_LIMIT


def test_only_absolute_links_are_sent():
    relative = pd_event(notification(), base="docs/runbooks")
    absolute = pd_event(notification(), dashboard="https://dash.example/d")

    assert [link["text"] for link in relative["links"]] == ["Alarm in CloudWatch"]
    assert "client_url" not in relative
    assert [link["href"] for link in absolute["links"]][1] == "https://dash.example/d"
    assert absolute["client_url"] == "https://dash.example/d"


def test_an_alarm_without_a_state_change_time_has_no_timestamp():
    assert "timestamp" not in pd_event(notification())["payload"]
    stamped = pd_event(notification(StateChangeTime="2025-03-14T18:02:40.118+0000"))
    assert stamped["payload"]["timestamp"] == "2025-03-14T18:02:40.118000+00:00"
