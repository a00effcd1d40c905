"""The CloudWatch dashboard body: the design's health dashboard (Q34) rebuilt from the service registry.

The table of the design (service, status, latency, error rate, circuit) becomes one single-value column per
figure with a row per service, followed by the capability map, the SLO budget left, the alarm states and a
detail graph per service. The body is plain data; `${...}` placeholders are resolved by the template's !Sub.
"""

from __future__ import annotations

import json
from typing import Any

from mangaassist.chat.telemetry import FAQ_OFFLINE_OUTCOME_METRIC
from mangaassist.faq.hybrid import OUTCOMES as FAQ_OUTCOMES
from mangaassist.ops import slo
from mangaassist.ops.alarms import alarm_catalog
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    DEPENDENCY_LATENCY_METRIC,
    METRIC_NAMESPACE,
    PING_AVAILABILITY_METRIC,
    PING_LATENCY_METRIC,
    SERVICES,
    SHORT_CIRCUITED_METRIC,
    ServiceSpec,
)
from scripts.alarm_resources import FUNCTIONS, STATE_TABLE_OPERATIONS, chat_route_5xx, logical_id

REGION = "${AWS::Region}"
API_NAME = "${AWS::StackName}-api"
STAGE = "${StageName}"
STATE_TABLE = "${AWS::StackName}-state"
DASHBOARD_WIDTH = 24
STATE_TABLE_LABEL = "DynamoDB (state table)"


def _id(prefix: str, name: str) -> str:
    # Metric math ids: a lower-case letter first, then letters, digits and underscores.
    return f"{prefix}_{name}".lower()


def _metric(
    namespace: str, name: str, dims: dict[str, str], *, stat: str, period: int | None, **options: Any
) -> list[Any]:
    row: list[Any] = [namespace, name]
    for key, value in dims.items():
        row += [key, value]
    # No period: the widget decides (setPeriodToTimeRange aggregates over the whole range).
    timing = {"period": period} if period else {}
    return [*row, {"stat": stat, **timing, **options}]


def _hidden(
    metric_id: str, namespace: str, name: str, dims: dict[str, str], stat: str, period: int | None
) -> list[Any]:
    return _metric(namespace, name, dims, stat=stat, period=period, id=metric_id, visible=False)


def _expr(metric_id: str, expression: str, label: str, **options: Any) -> list[Any]:
    return [{"id": metric_id, "expression": expression, "label": label, **options}]


def _widget(x: int, y: int, width: int, height: int, title: str, metrics: list[Any], **props: Any) -> dict:
    return {
        "type": "metric",
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "properties": {"title": title, "region": REGION, "metrics": metrics, **props},
    }


def _svc(spec: ServiceSpec) -> dict[str, str]:
    return {"service": spec.name}


def _state_table(operation: str = "Query") -> dict[str, str]:
    # Query is the breaker's snapshot read, the one on every chat request's path.
    return {"TableName": STATE_TABLE, "Operation": operation}


def _filled_circuit(spec: ServiceSpec) -> tuple[list[list[Any]], str]:
    """Hidden rows that give a service's circuit state as a named series, and that series' id."""
    raw, filled = _id("c", spec.name), _id("cf", spec.name)
    # CircuitOpen arrives on transitions and health pings; carry the last value forward, none yet = closed.
    rows = [
        _hidden(raw, METRIC_NAMESPACE, CIRCUIT_OPEN_METRIC, _svc(spec), "Maximum", 60),
        _expr(filled, f"FILL(FILL({raw}, REPEAT), 0)", f"{spec.name} circuit", visible=False),
    ]
    return rows, filled


def status_column(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = []
    for spec in SERVICES:
        raw = _id("p", spec.name)
        metrics.append(_hidden(raw, METRIC_NAMESPACE, PING_AVAILABILITY_METRIC, _svc(spec), "Average", 300))
        metrics.append(_expr(_id("status", spec.name), f"100 * {raw}", spec.display_name))
    ok = _hidden("ddb_ok", "AWS/DynamoDB", "SuccessfulRequestLatency", _state_table(), "SampleCount", 300)
    failed = _hidden("ddb_sys", "AWS/DynamoDB", "SystemErrors", _state_table(), "Sum", 300)
    metrics += [
        ok,
        failed,
        _expr(
            "status_ddb",
            "IF(FILL(ddb_ok, 0) + FILL(ddb_sys, 0) > 0,"
            " 100 * FILL(ddb_ok, 0) / (FILL(ddb_ok, 0) + FILL(ddb_sys, 0)), 100)",
            STATE_TABLE_LABEL,
        ),
    ]
    return _widget(x, y, width, height, "Status: % of health pings answered (5 min)", metrics, view="singleValue")


def latency_column(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = [
        _metric(METRIC_NAMESPACE, PING_LATENCY_METRIC, _svc(spec), stat="p50", period=300, label=spec.display_name)
        for spec in SERVICES
    ]
    metrics.append(
        _metric(
            "AWS/DynamoDB",
            "SuccessfulRequestLatency",
            _state_table(),
            stat="Average",
            period=300,
            label=STATE_TABLE_LABEL,
        )
    )
    return _widget(x, y, width, height, "Latency: median health ping (ms, 5 min)", metrics, view="singleValue")


def error_rate_column(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = []
    for spec in SERVICES:
        errors, timeouts, calls = _id("e", spec.name), _id("t", spec.name), _id("n", spec.name)
        metrics += [
            _hidden(errors, METRIC_NAMESPACE, spec.error_metric, _svc(spec), "Sum", 300),
            _hidden(timeouts, METRIC_NAMESPACE, spec.timeout_metric, _svc(spec), "Sum", 300),
            # DependencyLatency has one sample per completed call; raised failures add to the errors.
            _hidden(calls, METRIC_NAMESPACE, DEPENDENCY_LATENCY_METRIC, _svc(spec), "SampleCount", 300),
        ]
        failed = f"(FILL({errors}, 0) + FILL({timeouts}, 0))"
        total = f"(FILL({calls}, 0) + {failed})"
        metrics.append(
            _expr(_id("rate", spec.name), f"IF({total} > 0, 100 * {failed} / {total}, 0)", spec.display_name)
        )
    metrics += [
        _hidden("ddb_ok", "AWS/DynamoDB", "SuccessfulRequestLatency", _state_table(), "SampleCount", 300),
        _hidden("ddb_sys", "AWS/DynamoDB", "SystemErrors", _state_table(), "Sum", 300),
        _hidden("ddb_thr", "AWS/DynamoDB", "ThrottledRequests", _state_table(), "Sum", 300),
        _expr(
            "rate_ddb",
            "IF(FILL(ddb_ok, 0) + FILL(ddb_sys, 0) + FILL(ddb_thr, 0) > 0, 100 * (FILL(ddb_sys, 0) + FILL(ddb_thr, 0))"
            " / (FILL(ddb_ok, 0) + FILL(ddb_sys, 0) + FILL(ddb_thr, 0)), 0)",
            STATE_TABLE_LABEL,
        ),
    ]
    return _widget(x, y, width, height, "Error rate: % of the chat's calls failed (5 min)", metrics, view="singleValue")


def circuit_column(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = []
    for spec in SERVICES:
        rows, filled = _filled_circuit(spec)
        metrics += [*rows, _expr(_id("circuit", spec.name), filled, spec.display_name)]
    return _widget(x, y, width, height, "Circuit: 1 = OPEN, 0 = CLOSED", metrics, view="singleValue")


def capability_backers() -> dict[str, list[ServiceSpec]]:
    backers: dict[str, list[ServiceSpec]] = {}
    for spec in SERVICES:
        for capability in spec.capabilities:
            backers.setdefault(capability, []).append(spec)
    return backers


def capability_map(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = []
    filled: dict[str, str] = {}
    for spec in SERVICES:
        rows, filled[spec.name] = _filled_circuit(spec)
        metrics += rows
    for capability, specs in capability_backers().items():
        circuits = [filled[spec.name] for spec in specs]
        worst = circuits[0] if len(circuits) == 1 else f"MAX([{', '.join(circuits)}])"
        metrics.append(_expr(_id("cap", capability), f"1 - {worst}", capability))
    return _widget(x, y, width, height, "Capability map: 1 = available, 0 = fallback", metrics, view="singleValue")


def _slo_inputs(suffix: str, period: int | None) -> tuple[list[Any], str, str]:
    chat = {"service": slo.CHAT_SERVICE}
    r, f = f"r{suffix}", f"f{suffix}"
    unanswered = {f"{x}{suffix}": api for x, api in chat_route_5xx(API_NAME, STAGE, "x").items()}
    metrics = [
        _hidden(r, METRIC_NAMESPACE, slo.CHAT_REQUESTS_METRIC, chat, "Sum", period),
        _hidden(f, METRIC_NAMESPACE, slo.CHAT_FAILURES_METRIC, chat, "Sum", period),
        *(_hidden(x, "AWS/ApiGateway", "5XXError", api, "Sum", period) for x, api in unanswered.items()),
    ]
    lost = " + ".join(f"FILL({x}, 0)" for x in unanswered)
    return metrics, f"(FILL({f}, 0) + {lost})", f"(FILL({r}, 0) + {lost})"


def _budget() -> str:
    return f"{slo.ERROR_BUDGET:.6g}"


def slo_budget_left(x: int, y: int, width: int, height: int) -> dict:
    metrics, bad, total = _slo_inputs("", None)
    metrics += [
        _expr(
            "budget_left", f"IF({total} > 0, 100 * (1 - ({bad} / {total}) / {_budget()}), 100)", "error budget left %"
        ),
        _expr("availability", f"IF({total} > 0, 100 * (1 - {bad} / {total}), 100)", "availability %"),
    ]
    title = f"SLO {slo.SLO_TARGET * 100:g} % over {slo.SLO_PERIOD_DAYS} days"
    return _widget(
        x,
        y,
        width,
        height,
        title,
        metrics,
        view="singleValue",
        setPeriodToTimeRange=True,
        start=f"-P{slo.SLO_PERIOD_DAYS}D",
    )


def slo_burn_rates(x: int, y: int, width: int, height: int) -> dict:
    metrics: list[Any] = []
    annotations = []
    for alert in slo.BURN_RATE_ALERTS[:2]:
        window = alert.short_window_s
        suffix = slo.window_label(window)
        inputs, bad, total = _slo_inputs(f"_{suffix}", window)
        metrics += inputs
        metrics.append(
            _expr(f"burn_{suffix}", f"IF({total} > 0, {bad} / {total} / {_budget()}, 0)", f"burn rate ({suffix})")
        )
        annotations.append({"label": f"{alert.name} ({alert.burn_rate:g}x)", "value": alert.burn_rate})
    return _widget(
        x,
        y,
        width,
        height,
        "Error budget burn rate (1 = spends exactly the monthly budget)",
        metrics,
        view="timeSeries",
        annotations={"horizontal": annotations},
    )


def alarm_states(x: int, y: int, width: int, height: int) -> dict:
    arns = [f"${{{logical_id(name)}.Arn}}" for name, spec in alarm_catalog().items() if not spec.component]
    return {
        "type": "alarm",
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "properties": {"title": "Alarms", "alarms": arns, "sortBy": "stateUpdatedTimestamp"},
    }


def service_detail(spec: ServiceSpec, x: int, y: int, width: int, height: int) -> dict:
    svc = _svc(spec)
    metrics = [
        _metric(METRIC_NAMESPACE, PING_LATENCY_METRIC, svc, stat="p50", period=60, label="ping latency p50 (ms)"),
        _metric(
            METRIC_NAMESPACE, DEPENDENCY_LATENCY_METRIC, svc, stat="p99", period=60, label="chat call latency p99 (ms)"
        ),
        _metric(METRIC_NAMESPACE, spec.error_metric, svc, stat="Sum", period=60, yAxis="right"),
        _metric(METRIC_NAMESPACE, spec.timeout_metric, svc, stat="Sum", period=60, yAxis="right"),
        _metric(METRIC_NAMESPACE, SHORT_CIRCUITED_METRIC, svc, stat="Sum", period=60, yAxis="right"),
        _metric(METRIC_NAMESPACE, CIRCUIT_OPEN_METRIC, svc, stat="Maximum", period=60, yAxis="right"),
    ]
    title = f"{spec.display_name} ({spec.name}, tier {int(spec.tier)}, {spec.tier.severity})"
    return _widget(
        x,
        y,
        width,
        height,
        title,
        metrics,
        view="timeSeries",
        annotations={"horizontal": [{"label": "timeout", "value": spec.timeout_ms}]},
    )


def platform_widgets(y: int) -> list[dict]:
    api = {"ApiName": API_NAME, "Stage": STAGE}
    functions = {key: f"${{{logical_id_}}}" for key, logical_id_ in FUNCTIONS.items()}
    lambda_metrics = []
    for key, name in functions.items():
        for metric in ("Errors", "Throttles"):
            lambda_metrics.append(
                _metric("AWS/Lambda", metric, {"FunctionName": name}, stat="Sum", period=60, label=f"{key} {metric}")
            )
    duration = [
        _metric("AWS/Lambda", "Duration", {"FunctionName": name}, stat="p99", period=60, label=f"{key} p99 (ms)")
        for key, name in functions.items()
    ]
    state_table = [
        _metric("AWS/DynamoDB", metric, _state_table(op), stat="Sum", period=60, label=f"{op} {metric}")
        for op in STATE_TABLE_OPERATIONS
        for metric in ("SystemErrors", "ThrottledRequests")
    ]
    relay_queue = _metric(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        {"QueueName": "${AlarmRelayFailureQueue.QueueName}"},
        stat="Maximum",
        period=60,
        label="relay on-failure queue depth",
    )
    return [
        _widget(
            0,
            y,
            12,
            6,
            "API: requests and errors",
            [
                _metric("AWS/ApiGateway", "Count", api, stat="Sum", period=60),
                _metric("AWS/ApiGateway", "4XXError", api, stat="Sum", period=60),
                _metric("AWS/ApiGateway", "5XXError", api, stat="Sum", period=60, yAxis="right"),
            ],
            view="timeSeries",
        ),
        _widget(
            12,
            y,
            12,
            6,
            "API latency (ms)",
            [
                _metric("AWS/ApiGateway", "Latency", api, stat="p50", period=60, label="p50"),
                _metric("AWS/ApiGateway", "Latency", api, stat="p99", period=60, label="p99"),
            ],
            view="timeSeries",
        ),
        _widget(0, y + 6, 8, 6, "Lambda errors and throttles", lambda_metrics, view="timeSeries"),
        _widget(8, y + 6, 8, 6, "Lambda duration", duration, view="timeSeries"),
        _widget(16, y + 6, 8, 6, "State table and alarm delivery", [*state_table, relay_queue], view="timeSeries"),
        _widget(
            0,
            y + 12,
            24,
            6,
            "FAQ questions: what the templates-only path (Bedrock down) does, measured on every one",
            [
                _metric(
                    METRIC_NAMESPACE,
                    FAQ_OFFLINE_OUTCOME_METRIC,
                    {"service": "chat", "outcome": outcome},
                    stat="Sum",
                    period=300,
                    label=outcome,
                )
                for outcome in FAQ_OUTCOMES
            ],
            view="timeSeries",
            stacked=True,
        ),
    ]


def dashboard() -> dict[str, Any]:
    widgets: list[dict] = [
        {
            "type": "text",
            "x": 0,
            "y": 0,
            "width": DASHBOARD_WIDTH,
            "height": 2,
            "properties": {
                "markdown": (
                    "# MangaAssist service health\n"
                    f"Availability SLO {slo.SLO_TARGET * 100:g} % = "
                    f"{slo.monthly_budget_minutes():.1f} minutes of full outage a month. "
                    "Degraded answers count as available: fallbacks are how the chat hides a dependency's outage. "
                    "Every alarm names its runbook: [runbooks](${RunbookBaseUrl})"
                )
            },
        },
        slo_budget_left(0, 2, 6, 5),
        slo_burn_rates(6, 2, 18, 5),
        alarm_states(0, 7, DASHBOARD_WIDTH, 4),
    ]
    table_y, table_h = 11, 9
    widgets += [
        status_column(0, table_y, 5, table_h),
        latency_column(5, table_y, 5, table_h),
        error_rate_column(10, table_y, 5, table_h),
        circuit_column(15, table_y, 4, table_h),
        capability_map(19, table_y, 5, table_h),
    ]
    detail_y, width, height = table_y + table_h, 8, 6
    per_row = DASHBOARD_WIDTH // width
    for index, spec in enumerate(SERVICES):
        row, column = divmod(index, per_row)
        widgets.append(service_detail(spec, column * width, detail_y + row * height, width, height))
    rows = -(-len(SERVICES) // per_row)
    widgets += platform_widgets(detail_y + rows * height)
    return {"start": "-PT3H", "periodOverride": "inherit", "widgets": widgets}


def _widget_text(widget: dict) -> str:
    # One line per widget and one per metric row: readable in template.yaml and in a diff.
    properties = dict(widget["properties"])
    metrics = properties.pop("metrics", None)
    head = json.dumps({**widget, "properties": properties}, ensure_ascii=False)
    if metrics is None:
        return f"  {head}"
    rows = ",\n".join(f"    {json.dumps(row, ensure_ascii=False)}" for row in metrics)
    return f'  {head[:-2]}, "metrics": [\n{rows}\n  ]}}}}'


def dashboard_body_text() -> str:
    """The body as the !Sub template string: JSON that json.loads() reads back as dashboard()."""
    body = dashboard()
    settings = {key: value for key, value in body.items() if key != "widgets"}
    widgets = ",\n".join(_widget_text(widget) for widget in body["widgets"])
    head = json.dumps(settings, ensure_ascii=False)[:-1]
    return f'{head}, "widgets": [\n{widgets}\n]}}'
