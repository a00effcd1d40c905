"""Mapping alarms to registry services: severity from the tier, capabilities and runbooks from the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from mangaassist.alerting.impact import (
    PLATFORM_ALARM_SEVERITY,
    UNKNOWN_ALARM_SEVERITY,
    assess,
    services_for_alarm_name,
)
from mangaassist.alerting.notification import AlarmNotification, GenericNotice
from mangaassist.ops.alarms import alarm_catalog
from mangaassist.registry import CIRCUIT_OPEN_METRIC, PLATFORM_RUNBOOKS, REGISTRY, SERVICES, Tier

BASE = "https://runbooks.example/docs/runbooks"


def alarm(name: str, **fields) -> AlarmNotification:
    return AlarmNotification.model_validate({"AlarmName": name, "NewStateValue": "ALARM", **fields})


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_services_error_and_timeout_metrics_map_to_it(spec):
    math = {
        "Metrics": [
            {"Id": "e1", "Expression": "m1 + m2", "ReturnData": True},
            {"Id": "m1", "MetricStat": {"Metric": {"MetricName": spec.error_metric}}},
            {"Id": "m2", "MetricStat": {"Metric": {"MetricName": spec.timeout_metric}}},
        ]
    }
    impact = assess(alarm("SomeAlarmNamedArbitrarily", Trigger=math), BASE)

    assert impact.services == (spec,)
    assert impact.severity == spec.tier.severity
    assert impact.capabilities == spec.capabilities
    assert [r.url for r in impact.runbooks] == [f"{BASE}/{spec.runbook}.md"]


@pytest.mark.parametrize("spec", SERVICES, ids=lambda s: s.name)
def test_each_services_circuit_open_alarm_name_maps_to_it(spec):
    impact = assess(alarm(spec.circuit_open_alarm), BASE)

    assert impact.service_names == (spec.name,)


def test_the_service_dimension_maps_a_shared_metric_to_its_service():
    trigger = {"MetricName": CIRCUIT_OPEN_METRIC, "Dimensions": [{"name": "service", "value": "order_service"}]}

    impact = assess(alarm("circuit-open", Trigger=trigger), BASE)

    assert impact.service_names == ("order_service",)


def test_a_dimension_can_name_a_service_by_its_alias():
    trigger = {"MetricName": CIRCUIT_OPEN_METRIC, "Dimensions": [{"Name": "service", "Value": "bedrock"}]}

    assert assess(alarm("x", Trigger=trigger), BASE).service_names == ("llm",)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("OrderServiceAvailability", "order_service"),
        ("mangaassist-prod-OrderServiceCircuitOpen", "order_service"),
        ("BedrockAvailability", "llm"),
        ("prod/bedrock-throttles", "llm"),
        ("ReturnsServiceLatency", "returns_service"),
        ("mangaassist-user_profile-errors", "user_profile"),
    ],
)
def test_alarm_names_map_by_metric_prefix_or_canonical_name(name, expected):
    assert [spec.name for spec in services_for_alarm_name(name)] == [expected]


@pytest.mark.parametrize("name", ["Catalogue", "OrderServices", "XCatalogErrors", "feedbackloop", "Unrelated"])
def test_a_prefix_inside_another_word_does_not_match(name):
    assert services_for_alarm_name(name) == []


def test_a_composite_takes_the_most_severe_tier_of_the_children_that_fired():
    composite = alarm(
        "CheckoutDegraded",
        AlarmRule='ALARM("PromotionsAvailability") OR ALARM("OrderServiceAvailability")',
        TriggeringChildren=[
            {"Arn": "arn:aws:cloudwatch:ap-northeast-1:1:alarm:PromotionsAvailability"},
            {"Arn": "arn:aws:cloudwatch:ap-northeast-1:1:alarm:OrderServiceAvailability"},
        ],
    )

    impact = assess(composite, BASE)

    order, promotions = REGISTRY["order_service"], REGISTRY["promotions"]
    assert impact.services == (order, promotions)  # most severe first
    assert impact.severity == min(order.tier, promotions.tier).severity
    assert impact.capabilities == (*order.capabilities, *promotions.capabilities)
    assert [r.title for r in impact.runbooks] == [f"Runbook: {order.runbook}", f"Runbook: {promotions.runbook}"]


def test_a_composite_without_triggering_children_is_about_every_child_of_its_rule():
    composite = alarm("Tier1", AlarmRule="ALARM(CatalogAvailability) OR ALARM(BedrockAvailability)")

    assert set(assess(composite, BASE).service_names) == {"catalog", "llm"}


@pytest.mark.parametrize(
    ("name", "part"),
    [
        ("StateStoreThrottledRequests", "state_store"),
        ("FaqStoreUnavailable", "faq_store"),
        ("RegionalFailoverTriggered", "region"),
    ],
)
def test_platform_alarms_get_their_platform_runbook(name, part):
    impact = assess(alarm(name), BASE)

    assert impact.platform_parts == (part,)
    assert impact.services == ()
    assert impact.severity == PLATFORM_ALARM_SEVERITY
    assert [r.url for r in impact.runbooks] == [f"{BASE}/{PLATFORM_RUNBOOKS[part]}.md"]


def test_an_unknown_alarm_gets_the_default_severity_and_the_runbook_index():
    impact = assess(alarm("NightlyExportLag", Trigger={"MetricName": "ExportLagSeconds"}), BASE)

    assert not impact.known
    assert not impact.pages
    assert impact.severity == UNKNOWN_ALARM_SEVERITY == Tier.NICE_TO_HAVE.severity
    assert impact.capabilities == ()
    assert [(r.title, r.url) for r in impact.runbooks] == [("Runbook index", f"{BASE}/README.md")]


def test_a_generic_notice_gets_the_runbook_index():
    impact = assess(GenericNotice(body="?"), BASE + "/")

    assert [r.url for r in impact.runbooks] == [f"{BASE}/README.md"]


@pytest.mark.parametrize("entry", list(alarm_catalog().values()), ids=lambda e: e.name)
def test_every_catalogued_alarm_takes_severity_paging_and_runbook_from_the_catalog(entry):
    impact = assess(alarm(f"mangaassist-prod-{entry.name}"), BASE)

    assert impact.known
    assert (impact.severity, impact.pages) == (entry.severity, entry.page)
    assert impact.runbooks[0].url == f"{BASE}/{entry.runbook}.md"
    assert set(entry.services) <= set(impact.service_names)


def test_channel_only_catalogued_alarms_do_not_page_even_for_a_known_service():
    entry = alarm_catalog()[REGISTRY["promotions"].circuit_open_alarm]

    impact = assess(alarm(entry.name), BASE)

    assert impact.service_names == ("promotions",)
    assert impact.pages is entry.page is False


def test_an_uncatalogued_alarm_with_a_catalog_style_description_uses_it():
    described = alarm("SomeNewAlarm", AlarmDescription="P1 | Runbook: chat-availability | Something new broke.")

    impact = assess(described, BASE)

    assert (impact.severity, impact.pages) == ("P1", True)
    assert [r.url for r in impact.runbooks] == [f"{BASE}/chat-availability.md"]


def test_a_composite_of_catalogued_children_pages_if_a_child_that_fired_pages():
    order_alarm = REGISTRY["order_service"].circuit_open_alarm
    promotions_alarm = REGISTRY["promotions"].circuit_open_alarm

    def composite(*fired: str) -> AlarmNotification:
        return alarm(
            "CheckoutNoise",
            AlarmRule=f"ALARM({order_alarm}) OR ALARM({promotions_alarm})",
            TriggeringChildren=[{"Arn": f"arn:aws:cloudwatch:ap-northeast-1:1:alarm:{name}"} for name in fired],
        )

    quiet, loud = assess(composite(promotions_alarm), BASE), assess(composite(promotions_alarm, order_alarm), BASE)

    assert (quiet.pages, loud.pages) == (alarm_catalog()[promotions_alarm].page, alarm_catalog()[order_alarm].page)
    assert quiet.pages != loud.pages
    assert loud.severity == REGISTRY["order_service"].tier.severity


def test_every_runbook_link_the_relay_can_produce_exists_in_the_repository():
    root = Path(__file__).resolve().parents[2]
    notices = [alarm(name) for name in alarm_catalog()]
    notices += [alarm(f"{spec.metric_prefix}Availability") for spec in SERVICES]
    notices += [alarm(_platform_alarm_name(part)) for part in PLATFORM_RUNBOOKS]
    notices += [alarm("NightlyExportLag"), GenericNotice(body="?")]

    links = {runbook.url for notice in notices for runbook in assess(notice, "docs/runbooks").runbooks}

    assert len(links) > len(SERVICES)
    assert sorted(link for link in links if not (root / link).is_file()) == []


def _platform_alarm_name(part: str) -> str:
    return "".join(word.capitalize() for word in PLATFORM_RUNBOOKS[part].split("-")) + "Alarm"
