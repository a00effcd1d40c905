"""The CloudWatch alarms of template.yaml, built from the service registry and the ops alarm catalog.

Every number here is explained where it is chosen; names, severities and runbooks come from
mangaassist.ops.alarms so the deployed alarm and the relay's runbook link cannot disagree.
"""

from __future__ import annotations

import re
from typing import Any

from mangaassist.ops import slo
from mangaassist.ops.alarms import (
    BEDROCK_AVAILABILITY,
    DOWNSTREAM_FORBIDDEN,
    ORDER_SERVICE_AVAILABILITY,
    AlarmSpec,
    alarm_catalog,
)
from mangaassist.registry import (
    CIRCUIT_OPEN_METRIC,
    METRIC_NAMESPACE,
    PING_AVAILABILITY_METRIC,
    SERVICES,
    ServiceSpec,
    service,
)
from scripts.cfn_yaml import Intrinsic, get_att, ref, sub

# Hand-written resources of template.yaml the generated alarms watch (a test checks they exist).
ALARM_TOPIC = "AlarmTopic"
API = "ChatApi"
API_NAME = sub("${AWS::StackName}-api")  # ChatApi's Name, hence the ApiName dimension
STAGE = ref("StageName")
STATE_TABLE_NAME = sub("${AWS::StackName}-state")
FAQ_BUCKET = "FaqBucket"
FAQ_BUCKET_METRICS_FILTER = "EntireBucket"  # FaqBucket's MetricsConfigurations Id (S3 request metrics)
RELAY_FAILURE_QUEUE = "AlarmRelayFailureQueue"
FUNCTIONS = {"Chat": "ChatFunction", "HealthPing": "HealthPingFunction", "AlarmRelay": "AlarmRelayFunction"}

# The design's alarm (Q17): more than 10 errors + timeouts in one minute, one period, page.
ORDER_SERVICE_ERRORS_PER_MINUTE = 10

# Lambda errors: (threshold per minute, datapoints, evaluation periods).
# chat: every unhandled error is a 502 for a customer; five in a minute is a bug, not bad luck.
# health_ping: one failed run is noise (a slow dependency); three in five minutes leave flags stale.
# alarm_relay: it raises on 429/5xx on purpose so Lambda retries; persisting for 3 of 5 minutes is not luck.
LAMBDA_ERRORS = {"Chat": (5, 1, 1), "HealthPing": (1, 3, 5), "AlarmRelay": (1, 3, 5)}
# Throttles turn into customer errors (chat) or missed runs (others); two minutes out of three is sustained.
LAMBDA_THROTTLES = {"Chat": (1, 2, 3), "HealthPing": (1, 2, 3), "AlarmRelay": (1, 2, 3)}

# API 5xx: share of requests, ignored below 20 requests a minute where one error is 5 %.
API_5XX_PERCENT = 1
API_5XX_MIN_REQUESTS = 20
STATE_TABLE_OPERATIONS = ("GetItem", "Query", "UpdateItem", "PutItem")


def api_p99_threshold_ms() -> int:
    """A p99 above the slowest dependency's timeout plus a second means requests queue or retry."""
    return max(spec.timeout_ms for spec in SERVICES) + 1000


def _dimensions(dimensions: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"Name": name, "Value": value} for name, value in dimensions.items()]


def _stat(
    metric_id: str, namespace: str, name: str, dimensions: dict[str, Any], stat: str, period: int
) -> dict[str, Any]:
    return {
        "Id": metric_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name, "Dimensions": _dimensions(dimensions)},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": False,
    }


def _expression(metric_id: str, expression: str, label: str) -> dict[str, Any]:
    return {"Id": metric_id, "Expression": expression, "Label": label, "ReturnData": True}


def _metric(namespace: str, name: str, dimensions: dict[str, Any], stat: str, period: int) -> dict[str, Any]:
    """The properties of an alarm on one metric; percentiles ("p99") are CloudWatch's extended statistics."""
    statistic = {"ExtendedStatistic": stat} if re.fullmatch(r"p\d+(\.\d+)?", stat) else {"Statistic": stat}
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": _dimensions(dimensions),
        **statistic,
        "Period": period,
    }


def _fires(
    threshold: float, comparison: str, periods: int = 1, datapoints: int = 1, missing: str = "notBreaching"
) -> dict[str, Any]:
    """When an alarm fires: `datapoints` of the last `periods` periods compare to `threshold`."""
    return {
        "Threshold": threshold,
        "ComparisonOperator": comparison,
        "EvaluationPeriods": periods,
        "DatapointsToAlarm": datapoints,
        "TreatMissingData": missing,
    }


def _alarm(spec: AlarmSpec, **properties: Any) -> dict[str, Any]:
    actions: dict[str, Any] = {}
    if not spec.component:
        # OK actions too, so the relay resolves the PagerDuty incident it opened.
        actions = {"AlarmActions": [ref(ALARM_TOPIC)], "OKActions": [ref(ALARM_TOPIC)]}
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            "ActionsEnabled": True,
            **actions,
            **properties,
        },
    }


def _service_dims(spec: ServiceSpec) -> dict[str, Any]:
    return {"service": spec.name}


def order_service_availability(spec: AlarmSpec) -> dict[str, Any]:
    order = service("order_service")
    return _alarm(
        spec,
        Metrics=[
            _stat("errors", METRIC_NAMESPACE, order.error_metric, _service_dims(order), "Sum", 60),
            _stat("timeouts", METRIC_NAMESPACE, order.timeout_metric, _service_dims(order), "Sum", 60),
            # FILL: a minute with errors but no timeouts must still add up, not vanish as missing data.
            _expression(
                "failures",
                "FILL(errors, 0) + FILL(timeouts, 0)",
                f"{order.error_metric} + {order.timeout_metric}",
            ),
        ],
        **_fires(ORDER_SERVICE_ERRORS_PER_MINUTE, "GreaterThanThreshold"),
    )


def circuit_open(spec: AlarmSpec, svc: ServiceSpec) -> dict[str, Any]:
    return _alarm(
        spec,
        **_metric(METRIC_NAMESPACE, CIRCUIT_OPEN_METRIC, _service_dims(svc), "Maximum", 60),
        # CircuitOpen is written on every transition and by every health-ping run. When it stops (the pinger
        # removed or broken, which HealthPingSilent pages on by itself), "missing" would leave this alarm, and
        # its PagerDuty incident, open for good: INSUFFICIENT_DATA has no action. A gap resolves it instead.
        **_fires(1, "GreaterThanOrEqualToThreshold", missing="notBreaching"),
    )


def bedrock_availability(spec: AlarmSpec) -> dict[str, Any]:
    llm = service("llm")
    dims = _service_dims(llm)
    expression = (
        f"IF((FILL(ping, 1) < 1) OR ((FILL(errors, 0) + FILL(timeouts, 0)) >= {llm.breaker.failure_threshold}), 1, 0)"
    )
    return _alarm(
        spec,
        Metrics=[
            # Minimum: one failed ping in the minute makes the minute bad.
            _stat("ping", METRIC_NAMESPACE, PING_AVAILABILITY_METRIC, dims, "Minimum", 60),
            _stat("errors", METRIC_NAMESPACE, llm.error_metric, dims, "Sum", 60),
            _stat("timeouts", METRIC_NAMESPACE, llm.timeout_metric, dims, "Sum", 60),
            _expression(
                "unavailable",
                expression,
                f"1 = Bedrock failed its ping or >= {llm.breaker.failure_threshold} chat calls failed",
            ),
        ],
        # As many bad minutes in a row as failed pings it takes to open the circuit fleet-wide.
        **_fires(1, "GreaterThanOrEqualToThreshold", llm.ping_failures_to_open, llm.ping_failures_to_open),
    )


def lambda_metric(spec: AlarmSpec, function: str, metric: str, rule: tuple[int, int, int]) -> dict[str, Any]:
    threshold, datapoints, periods = rule
    return _alarm(
        spec,
        **_metric("AWS/Lambda", metric, {"FunctionName": ref(FUNCTIONS[function])}, "Sum", 60),
        **_fires(threshold, "GreaterThanOrEqualToThreshold", periods, datapoints),
    )


def api_5xx(spec: AlarmSpec) -> dict[str, Any]:
    dims = {"ApiName": API_NAME, "Stage": STAGE}
    return _alarm(
        spec,
        Metrics=[
            _stat("errors", "AWS/ApiGateway", "5XXError", dims, "Sum", 60),
            _stat("requests", "AWS/ApiGateway", "Count", dims, "Sum", 60),
            _expression(
                "error_percent",
                f"IF(FILL(requests, 0) >= {API_5XX_MIN_REQUESTS}, 100 * FILL(errors, 0) / requests, 0)",
                "5xx share of API requests (%)",
            ),
        ],
        **_fires(API_5XX_PERCENT, "GreaterThanThreshold", 5, 3),
    )


def api_latency(spec: AlarmSpec) -> dict[str, Any]:
    return _alarm(
        spec,
        **_metric("AWS/ApiGateway", "Latency", {"ApiName": API_NAME, "Stage": STAGE}, "p99", 60),
        **_fires(api_p99_threshold_ms(), "GreaterThanThreshold", 5, 5),
    )


def relay_failed_deliveries(spec: AlarmSpec) -> dict[str, Any]:
    queue = {"QueueName": get_att(RELAY_FAILURE_QUEUE, "QueueName")}
    return _alarm(
        spec,
        **_metric("AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum", 60),
        **_fires(1, "GreaterThanOrEqualToThreshold"),
    )


def health_ping_silent(spec: AlarmSpec) -> dict[str, Any]:
    llm = service("llm")  # pinged on every run, so its results prove the pinger runs
    return _alarm(
        spec,
        **_metric(METRIC_NAMESPACE, PING_AVAILABILITY_METRIC, _service_dims(llm), "SampleCount", 300),
        # No data is the very thing this alarm is about.
        **_fires(1, "LessThanThreshold", missing="breaching"),
    )


def state_store_errors(spec: AlarmSpec) -> dict[str, Any]:
    metrics, terms = [], []
    for operation in STATE_TABLE_OPERATIONS:
        dims = {"TableName": STATE_TABLE_NAME, "Operation": operation}
        for prefix, name in (("system", "SystemErrors"), ("throttled", "ThrottledRequests")):
            metric_id = f"{prefix}_{operation.lower()}"
            metrics.append(_stat(metric_id, "AWS/DynamoDB", name, dims, "Sum", 60))
            terms.append(f"FILL({metric_id}, 0)")
    metrics.append(_expression("failed_requests", " + ".join(terms), "state table system errors + throttles"))
    return _alarm(
        spec,
        Metrics=metrics,
        # A throttled burst is absorbed by the breaker's snapshot; three minutes out of five is an outage.
        **_fires(1, "GreaterThanOrEqualToThreshold", 5, 3),
    )


def faq_store_errors(spec: AlarmSpec) -> dict[str, Any]:
    dims = {"BucketName": ref(FAQ_BUCKET), "FilterId": FAQ_BUCKET_METRICS_FILTER}
    return _alarm(
        spec,
        Metrics=[
            _stat("client_errors", "AWS/S3", "4xxErrors", dims, "Sum", 300),
            _stat("server_errors", "AWS/S3", "5xxErrors", dims, "Sum", 300),
            # 4xx counts too: a missing FAQ object (403/404) is an outage of the FAQ store for the chat.
            _expression("failed_reads", "FILL(client_errors, 0) + FILL(server_errors, 0)", "FAQ bucket 4xx + 5xx"),
        ],
        **_fires(1, "GreaterThanOrEqualToThreshold"),
    )


def downstream_forbidden(spec: AlarmSpec) -> dict[str, Any]:
    metrics, terms = [], []
    for svc in SERVICES:
        if svc.name in spec.services:
            metric_id = f"forbidden_{svc.name}"
            metrics.append(_stat(metric_id, METRIC_NAMESPACE, svc.forbidden_metric, _service_dims(svc), "Sum", 300))
            terms.append(f"FILL({metric_id}, 0)")
    metrics.append(_expression("refused_calls", " + ".join(terms), "internal services' 401/403 answers"))
    # One refusal can be a clock skewed past SigV4's 5 minutes on one environment; a role or resource policy
    # that stopped matching refuses every call, which five in five minutes catches on the quietest night.
    return _alarm(spec, Metrics=metrics, **_fires(5, "GreaterThanOrEqualToThreshold"))


def _format_number(value: float) -> str:
    return f"{value:.6g}"


def chat_route_5xx(api_name: Any, stage: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Metric-math id -> API Gateway 5XXError dimensions, one per chat method the SLI counts (slo.CHAT_ROUTES)."""
    return {
        f"{prefix}_{resource.strip('/').replace('/', '_')}": {
            "ApiName": api_name,
            "Method": method,
            "Resource": resource,
            "Stage": stage,
        }
        for method, resource in slo.CHAT_ROUTES
    }


def slo_window(spec: AlarmSpec, window_s: int, burn_rate: float) -> dict[str, Any]:
    chat_dims = {"service": slo.CHAT_SERVICE}
    unanswered = chat_route_5xx(API_NAME, STAGE, "unanswered")
    lost = " + ".join(f"FILL({metric_id}, 0)" for metric_id in unanswered)
    total = f"(FILL(requests, 0) + {lost})"
    bad = f"(FILL(failures, 0) + {lost})"
    budget = _format_number(slo.ERROR_BUDGET)
    return _alarm(
        spec,
        Metrics=[
            _stat("requests", METRIC_NAMESPACE, slo.CHAT_REQUESTS_METRIC, chat_dims, "Sum", window_s),
            _stat("failures", METRIC_NAMESPACE, slo.CHAT_FAILURES_METRIC, chat_dims, "Sum", window_s),
            *(
                _stat(metric_id, "AWS/ApiGateway", "5XXError", dims, "Sum", window_s)
                for metric_id, dims in unanswered.items()
            ),
            _expression(
                "burn_rate",
                f"IF({total} >= {slo.MIN_REQUESTS_PER_WINDOW}, {bad} / {total} / {budget}, 0)",
                f"error budget burn rate over {slo.window_label(window_s)}",
            ),
        ],
        **_fires(burn_rate, "GreaterThanThreshold"),
    )


def slo_composite(spec: AlarmSpec, window_alarms: list[str]) -> dict[str, Any]:
    return {
        "Type": "AWS::CloudWatch::CompositeAlarm",
        "DependsOn": [logical_id(name) for name in window_alarms],
        "Properties": {
            "AlarmName": spec.name,
            "AlarmDescription": spec.description,
            # Both windows: the long one proves it matters, the short one that it is still happening.
            "AlarmRule": " AND ".join(f'ALARM("{name}")' for name in window_alarms),
            "ActionsEnabled": True,
            "AlarmActions": [ref(ALARM_TOPIC)],
            "OKActions": [ref(ALARM_TOPIC)],
        },
    }


def logical_id(alarm_name: str) -> str:
    return f"{alarm_name}Alarm"


def alarm_resources() -> dict[str, dict[str, Any]]:
    """Logical id -> resource for every alarm in the catalog, in catalog order."""
    catalog = alarm_catalog()
    builders: dict[str, Any] = {
        ORDER_SERVICE_AVAILABILITY: order_service_availability,
        BEDROCK_AVAILABILITY: bedrock_availability,
        "ChatApi5xxErrors": api_5xx,
        "ChatApiLatencyP99": api_latency,
        "AlarmRelayFailedDeliveries": relay_failed_deliveries,
        "HealthPingSilent": health_ping_silent,
        DOWNSTREAM_FORBIDDEN: downstream_forbidden,
        "StateStoreErrors": state_store_errors,
        "FaqStoreErrors": faq_store_errors,
    }
    for svc in SERVICES:
        builders[svc.circuit_open_alarm] = lambda spec, svc=svc: circuit_open(spec, svc)
    for function in FUNCTIONS:
        name = f"{function}Function" if function == "Chat" else function
        builders[f"{name}Errors"] = lambda spec, f=function: lambda_metric(spec, f, "Errors", LAMBDA_ERRORS[f])
        builders[f"{name}Throttles"] = lambda spec, f=function: lambda_metric(spec, f, "Throttles", LAMBDA_THROTTLES[f])
    for alert in slo.BURN_RATE_ALERTS:
        windows = [f"{alert.name}{slo.window_label(w)}" for w in (alert.long_window_s, alert.short_window_s)]
        for window_name, window_s in zip(windows, (alert.long_window_s, alert.short_window_s), strict=True):
            builders[window_name] = lambda spec, w=window_s, a=alert: slo_window(spec, w, a.burn_rate)
        builders[alert.name] = lambda spec, windows=windows: slo_composite(spec, windows)

    missing = set(catalog) - set(builders)
    unknown = set(builders) - set(catalog)
    if missing or unknown:
        raise ValueError(f"alarm catalog and builders disagree: missing {missing}, unknown {unknown}")
    return {logical_id(name): builders[name](spec) for name, spec in catalog.items()}


def alarm_arn(alarm_name: str) -> Intrinsic:
    return get_att(logical_id(alarm_name), "Arn")
