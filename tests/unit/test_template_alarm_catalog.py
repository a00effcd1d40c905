"""The ops alarm catalog and SLO arithmetic the template, the relay and the docs share."""

from __future__ import annotations

import pytest

from mangaassist.ops import slo
from mangaassist.ops.alarms import alarm, alarm_catalog, all_runbooks, runbook_for
from mangaassist.registry import PLATFORM_RUNBOOKS, SERVICES, service


def test_ninety_nine_point_nine_five_is_twenty_one_point_six_minutes_a_month():
    assert slo.monthly_budget_minutes() == pytest.approx(21.6)
    assert slo.monthly_budget_minutes(0.999) == pytest.approx(43.2)


@pytest.mark.parametrize(("index", "spent"), [(0, 0.02), (1, 0.05), (2, 0.10)])
def test_burn_rate_alerts_fire_after_the_workbooks_share_of_the_budget(index, spent):
    assert slo.BURN_RATE_ALERTS[index].budget_spent_before_alert == pytest.approx(spent)


def test_fast_burn_error_ratio_threshold():
    assert slo.BURN_RATE_ALERTS[0].error_ratio_threshold == pytest.approx(0.0072)


@pytest.mark.parametrize(
    ("seconds", "label"), [(300, "5m"), (1800, "30m"), (3600, "1h"), (21600, "6h"), (259200, "3d")]
)
def test_window_labels(seconds, label):
    assert slo.window_label(seconds) == label


def test_a_window_that_is_not_whole_minutes_is_refused():
    with pytest.raises(ValueError, match="whole number"):
        slo.window_label(90)


def test_serial_availability_multiplies():
    assert slo.serial_availability(0.9999, 0.9995, 0.9999) == pytest.approx(0.99930011, abs=1e-8)


def test_alarm_lookup_by_exact_name_and_behind_a_stack_prefix():
    assert alarm("OrderServiceAvailability").runbook == service("order_service").runbook
    assert alarm("mangaassist-prod-OrderServiceAvailability").name == "OrderServiceAvailability"
    # The longest known name wins: a window alarm is not mistaken for its composite.
    assert alarm("prod-ChatSloFastBurn1h").name == "ChatSloFastBurn1h"
    assert alarm("SomethingElse") is None
    assert alarm("XOrderServiceAvailability") is None
    assert runbook_for("BedrockCircuitOpen") == service("llm").runbook
    assert runbook_for("unknown") is None


def test_service_alarms_carry_the_tier_severity_and_the_services_runbook():
    for spec in SERVICES:
        entry = alarm_catalog()[spec.circuit_open_alarm]
        assert entry.severity == spec.tier.severity
        assert entry.services == (spec.name,)
        assert entry.runbook == spec.runbook
        assert entry.page == (spec.tier.severity in ("P1", "P2"))


def test_descriptions_start_with_severity_and_runbook_for_tools_to_parse():
    for entry in alarm_catalog().values():
        severity, runbook, summary = entry.description.split(" | ", 2)
        assert severity == entry.severity
        assert runbook == f"Runbook: {entry.runbook}"
        assert summary


def test_every_runbook_is_known():
    runbooks = all_runbooks()
    assert {spec.runbook for spec in SERVICES} <= runbooks
    assert set(PLATFORM_RUNBOOKS.values()) <= runbooks
    assert {entry.runbook for entry in alarm_catalog().values()} <= runbooks
