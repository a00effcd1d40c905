"""The service-health dashboard in template.yaml: the design's table, capability map and SLO budget, per service."""

from __future__ import annotations

import json
import re

import pytest

from local.template_resources import resource, template
from mangaassist.ops import slo
from mangaassist.ops.alarms import alarm_catalog
from mangaassist.registry import SERVICES
from scripts.alarm_resources import logical_id
from scripts.dashboard_body import capability_backers


def deployed_body() -> dict:
    props = resource("ServiceHealthDashboard")["Properties"]
    text = props["DashboardBody"]["Fn::Sub"]
    known = set(template()["Resources"]) | set(template()["Parameters"]) | {"AWS::Region", "AWS::StackName"}
    for ref in re.findall(r"\$\{([^}]+)\}", text):
        assert ref.split(".")[0] in known, ref
    # What CloudFormation would substitute: any value keeps the JSON valid, the names stay visible.
    return json.loads(re.sub(r"\$\{([^}]+)\}", r"<\1>", text))


def widget(title_start: str) -> dict:
    [found] = [w for w in deployed_body()["widgets"] if w["properties"].get("title", "").startswith(title_start)]
    return found


def labels(found: dict) -> list[str]:
    result = []
    for row in found["properties"]["metrics"]:
        options = row[-1] if isinstance(row[-1], dict) else {}
        if options.get("visible", True) and "label" in options:
            result.append(options["label"])
    return result


@pytest.mark.parametrize("column", ["Status", "Latency", "Error rate", "Circuit"])
def test_every_registry_service_has_a_row_in_every_column_of_the_designs_table(column):
    found = widget(column)
    assert found["properties"]["view"] == "singleValue"
    shown = labels(found)
    for spec in SERVICES:
        assert spec.display_name in shown, (column, spec.name)


def test_the_state_store_is_on_the_table_like_the_designs_dynamodb_row():
    for column in ("Status", "Latency", "Error rate"):
        assert any("DynamoDB" in label for label in labels(widget(column)))


def test_capability_map_shows_every_capability_from_its_backing_circuits():
    found = widget("Capability map")
    shown = {
        row[0]["label"]: row[0]["expression"]
        for row in found["properties"]["metrics"]
        if "expression" in row[0] and row[0].get("visible", True)
    }
    capabilities = {c for spec in SERVICES for c in spec.capabilities}
    assert set(shown) == capabilities
    for capability, specs in capability_backers().items():
        for spec in specs:
            assert f"cf_{spec.name}" in shown[capability]
    assert capability_backers()["order_tracking"] == [s for s in SERVICES if s.name == "order_service"]


def test_slo_budget_left_reads_the_chats_own_metrics_over_the_slo_period():
    found = widget("SLO")
    props = found["properties"]
    assert props["setPeriodToTimeRange"] is True
    assert props["start"] == f"-P{slo.SLO_PERIOD_DAYS}D"
    metric_names = {row[1] for row in props["metrics"] if isinstance(row[0], str)}
    assert metric_names == {slo.CHAT_REQUESTS_METRIC, slo.CHAT_FAILURES_METRIC, "5XXError"}
    unanswered = [row for row in props["metrics"] if isinstance(row[0], str) and row[1] == "5XXError"]
    assert {(row[row.index("Method") + 1], row[row.index("Resource") + 1]) for row in unanswered} == set(
        slo.CHAT_ROUTES
    )
    budget = [row[0] for row in props["metrics"] if isinstance(row[0], dict) and row[0]["id"] == "budget_left"]
    assert budget
    assert "/ 0.0005" in budget[0]["expression"]


def test_alarm_widget_lists_every_alarm_that_notifies():
    [found] = [w for w in deployed_body()["widgets"] if w["type"] == "alarm"]
    expected = {f"<{logical_id(name)}.Arn>" for name, spec in alarm_catalog().items() if not spec.component}
    assert set(found["properties"]["alarms"]) == expected


def test_widgets_fit_the_grid_and_do_not_overlap():
    cells: set[tuple[int, int]] = set()
    for item in deployed_body()["widgets"]:
        assert item["x"] + item["width"] <= 24
        for x in range(item["x"], item["x"] + item["width"]):
            for y in range(item["y"], item["y"] + item["height"]):
                assert (x, y) not in cells, item["properties"].get("title")
                cells.add((x, y))


def test_metric_math_ids_are_unique_per_widget_and_well_formed():
    for item in deployed_body()["widgets"]:
        ids = []
        for row in item["properties"].get("metrics", []):
            options = row[-1] if isinstance(row[-1], dict) else {}
            if "id" in options:
                ids.append(options["id"])
        assert len(ids) == len(set(ids)), item["properties"]["title"]
        assert all(re.fullmatch(r"[a-z][a-z0-9_]*", i) for i in ids)
