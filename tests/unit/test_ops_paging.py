"""One paging rule: the alarm catalog and the relay's judgement of uncatalogued alarms wake the same people."""

from __future__ import annotations

import pytest

from mangaassist.alerting.impact import assess
from mangaassist.alerting.notification import AlarmNotification
from mangaassist.ops.alarms import alarm_catalog
from mangaassist.ops.paging import pages
from mangaassist.registry import SERVICES, Tier

BASE = "https://runbooks.example/docs/runbooks"


def test_p1_and_p2_page_p3_and_p4_tell_the_channel():
    assert {tier.severity: pages(tier.severity) for tier in Tier} == {"P1": True, "P2": True, "P3": False, "P4": False}
    assert not pages("")
    assert not pages("p1")


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_an_uncatalogued_alarm_about_a_service_pages_exactly_when_its_catalogued_alarm_does(spec):
    trigger = {"MetricName": spec.error_metric, "Namespace": "MangaAssist/ServiceHealth"}
    notice = AlarmNotification.model_validate(
        {"AlarmName": "TeamOwnedDashboardAlarm", "NewStateValue": "ALARM", "Trigger": trigger}
    )

    impact = assess(notice, BASE)

    assert impact.service_names == (spec.name,)
    assert impact.pages is pages(spec.tier.severity) is alarm_catalog()[spec.circuit_open_alarm].page


@pytest.mark.parametrize("severity", [tier.severity for tier in Tier])
def test_a_described_but_uncatalogued_alarm_follows_the_same_rule(severity):
    notice = AlarmNotification.model_validate(
        {
            "AlarmName": "SomethingNew",
            "NewStateValue": "ALARM",
            "AlarmDescription": f"{severity} | Runbook: chat-availability | new",
        }
    )

    assert assess(notice, BASE).pages is pages(severity)
