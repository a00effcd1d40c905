"""CloudWatch alarms for the local stack: notifications built from template.yaml, and a local evaluator.

moto does not evaluate alarms, so the stack does: ``evaluate`` reads an alarm's definition from the
template (single metric or metric math, thresholds, periods, missing-data treatment) and the datapoints
the workers emitted (local/metric_sink.py), and says ALARM, OK or INSUFFICIENT_DATA.
``notification`` builds the JSON CloudWatch publishes to SNS for a state change of that alarm, in the
shapes the alarm relay parses (metric, metric math, composite).
"""

from __future__ import annotations

import ast
import json
import operator
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from local.metric_sink import MetricSink
from local.template_resources import alarm_definitions, resolve

STATES = ("OK", "ALARM", "INSUFFICIENT_DATA")
REGION_NAMES = {"ap-northeast-1": "Asia Pacific (Tokyo)", "us-east-1": "US East (N. Virginia)"}
COMPARISONS = {
    "GreaterThanThreshold": (lambda v, t: v > t, "greater than"),
    "GreaterThanOrEqualToThreshold": (lambda v, t: v >= t, "greater than or equal to"),
    "LessThanThreshold": (lambda v, t: v < t, "less than"),
    "LessThanOrEqualToThreshold": (lambda v, t: v <= t, "less than or equal to"),
}


class AlarmNotFoundError(KeyError):
    """No alarm of that AlarmName in template.yaml."""


def _cw_time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def alarm_properties(name: str, refs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(CloudFormation type, resolved Properties) of the alarm named ``name``."""
    try:
        _, res = alarm_definitions()[name]
    except KeyError:
        raise AlarmNotFoundError(name) from None
    return res["Type"], resolve(res["Properties"], refs)


def _dimensions(dims: list[dict[str, str]] | None) -> list[dict[str, str]]:
    return [{"value": str(d["Value"]), "name": d["Name"]} for d in dims or []]


def _trigger(props: dict[str, Any]) -> dict[str, Any]:
    common = {
        "Period": props.get("Period", 60),
        "EvaluationPeriods": props.get("EvaluationPeriods", 1),
        "DatapointsToAlarm": props.get("DatapointsToAlarm", props.get("EvaluationPeriods", 1)),
        "ComparisonOperator": props.get("ComparisonOperator"),
        "Threshold": float(props.get("Threshold", 0)),
        "TreatMissingData": props.get("TreatMissingData", "missing"),
        "EvaluateLowSampleCountPercentile": "",
    }
    if "Metrics" not in props:
        return {
            "MetricName": props.get("MetricName"),
            "Namespace": props.get("Namespace"),
            "StatisticType": "ExtendedStatistic" if "ExtendedStatistic" in props else "Statistic",
            "Statistic": str(props.get("Statistic", props.get("ExtendedStatistic", ""))).upper(),
            "Unit": props.get("Unit"),
            "Dimensions": _dimensions(props.get("Dimensions")),
            **common,
        }
    metrics = []
    for query in props["Metrics"]:
        entry: dict[str, Any] = {"Id": query["Id"], "ReturnData": query.get("ReturnData", True)}
        if "Expression" in query:
            entry["Expression"] = query["Expression"]
            entry["Label"] = query.get("Label", query["Id"])
        else:
            stat = query["MetricStat"]
            entry["MetricStat"] = {
                "Metric": {
                    "Dimensions": _dimensions(stat["Metric"].get("Dimensions")),
                    "MetricName": stat["Metric"]["MetricName"],
                    "Namespace": stat["Metric"]["Namespace"],
                },
                "Period": stat.get("Period", 60),
                "Stat": stat.get("Stat"),
            }
        metrics.append(entry)
    common["Period"] = next((m["MetricStat"]["Period"] for m in metrics if "MetricStat" in m), 60)
    return {**common, "Metrics": metrics}


def notification(
    name: str,
    new_state: str,
    old_state: str,
    reason: str,
    refs: dict[str, Any],
    at: float | None = None,
) -> tuple[str, str]:
    """(Subject, Message) CloudWatch publishes to SNS when alarm ``name`` changes to ``new_state``."""
    if new_state not in STATES:
        raise ValueError(f"state must be one of {', '.join(STATES)}")
    cfn_type, props = alarm_properties(name, refs)
    at = time.time() if at is None else at
    region, account = refs["AWS::Region"], refs["AWS::AccountId"]
    message: dict[str, Any] = {
        "AlarmName": name,
        "AlarmDescription": props.get("AlarmDescription"),
        "AWSAccountId": account,
        "AlarmConfigurationUpdatedTimestamp": _cw_time(refs.get("local:started_at", at)),
        "NewStateValue": new_state,
        "NewStateReason": reason,
        "StateChangeTime": _cw_time(at),
        "Region": REGION_NAMES.get(region, region),
        "AlarmArn": f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        "OldStateValue": old_state,
        "OKActions": props.get("OKActions", []),
        "AlarmActions": props.get("AlarmActions", []),
        "InsufficientDataActions": props.get("InsufficientDataActions", []),
    }
    if cfn_type == "AWS::CloudWatch::CompositeAlarm":
        message["AlarmRule"] = props["AlarmRule"]
        message["TriggeringChildren"] = []
    else:
        message["Trigger"] = _trigger(props)
    subject = f'{new_state}: "{name}" in {message["Region"]}'
    return subject, json.dumps(message)


# ---------------------------------------------------------------------------------------------- evaluation


class UnsupportedExpressionError(ValueError):
    """A metric math expression outside the small subset evaluated locally."""


ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
COMPARED = {ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Lt: operator.lt, ast.LtE: operator.le}


def evaluate_expression(expression: str, values: dict[str, float | None]) -> float | None:
    """Metric math for what the template uses: ids, numbers, + - * /, comparisons, AND/OR, FILL and IF."""
    source = expression.replace(" AND ", " and ").replace(" OR ", " or ")
    tree = ast.parse(source, mode="eval")

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id not in values:
                raise UnsupportedExpressionError(f"unknown id {node.id}")
            return values[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in ARITHMETIC:
            left, right = ev(node.left), ev(node.right)
            if left is None or right is None or (right == 0 and isinstance(node.op, ast.Div)):
                return None
            return ARITHMETIC[type(node.op)](left, right)
        if isinstance(node, ast.BoolOp):
            results = [bool(ev(v)) for v in node.values]
            return float(all(results) if isinstance(node.op, ast.And) else any(results))
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in COMPARED:
            left, right = ev(node.left), ev(node.comparators[0])
            return float(left is not None and right is not None and COMPARED[type(node.ops[0])](left, right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            args = [ev(a) for a in node.args]
            if node.func.id == "FILL" and len(args) == 2:
                return args[1] if args[0] is None else args[0]
            if node.func.id == "IF" and len(args) == 3:
                return args[1] if args[0] else args[2]
        raise UnsupportedExpressionError(ast.dump(node)[:80])

    return ev(tree)


@dataclass(frozen=True)
class Evaluation:
    alarm: str
    state: str
    datapoints: tuple[float | None, ...]  # newest last
    threshold: float
    comparison: str
    reason: str


def _value_in_window(props: dict[str, Any], sink: MetricSink, start: float, end: float) -> float | None:
    # A single-metric alarm is one metric query whose metric is the alarm's own properties.
    queries = props.get("Metrics") or [{"Id": "m", "MetricStat": {"Metric": props, "Stat": props["Statistic"]}}]
    values: dict[str, float | None] = {}
    # Metrics first, then expressions in the template's order (an expression may read one listed before it).
    for query in sorted(queries, key=lambda q: "MetricStat" not in q):
        if "Expression" in query:
            values[query["Id"]] = evaluate_expression(query["Expression"], values)
            continue
        stat, metric = query["MetricStat"], query["MetricStat"]["Metric"]
        dims = {d["Name"]: str(d["Value"]) for d in metric.get("Dimensions") or []}
        values[query["Id"]] = sink.statistic(stat["Stat"], metric["Namespace"], metric["MetricName"], dims, start, end)
    returned = [q for q in queries if q.get("ReturnData", True)]
    return values.get(returned[0]["Id"]) if returned else None


def evaluate(name: str, sink: MetricSink, refs: dict[str, Any], now: float | None = None) -> Evaluation:
    """The state alarm ``name`` would be in now, over sliding windows of its Period ending ``now``.

    Raises UnsupportedExpressionError for a composite alarm, a percentile or math beyond the subset above.
    """
    cfn_type, props = alarm_properties(name, refs)
    if cfn_type != "AWS::CloudWatch::Alarm" or "ExtendedStatistic" in props:
        raise UnsupportedExpressionError(f"{name} is not evaluated locally")
    now = time.time() if now is None else now
    trigger = _trigger(props)
    period = float(trigger["Period"])
    periods = int(trigger["EvaluationPeriods"])
    needed = int(trigger["DatapointsToAlarm"])
    threshold = float(trigger["Threshold"])
    compare, words = COMPARISONS[trigger["ComparisonOperator"]]
    datapoints = tuple(
        _value_in_window(props, sink, now - (i + 1) * period, now - i * period) for i in reversed(range(periods))
    )
    present = [v for v in datapoints if v is not None]
    missing = trigger["TreatMissingData"]
    breaching = sum(1 for v in present if compare(v, threshold))
    if missing == "breaching":
        breaching += len(datapoints) - len(present)
    if breaching >= needed:
        state = "ALARM"
    elif not present and missing in ("missing", "ignore"):
        state = "INSUFFICIENT_DATA"
    else:
        state = "OK"
    shown = ", ".join(f"{v:g}" for v in present) or "no datapoints"
    reason = (
        f"Threshold Crossed: {breaching} out of the last {periods} datapoints [{shown}] "
        f"{'was' if state == 'ALARM' else 'was not'} {words} the threshold ({threshold:g}) "
        f"(minimum {needed} datapoint{'s' if needed != 1 else ''} for OK -> ALARM transition)."
    )
    return Evaluation(name, state, datapoints, threshold, trigger["ComparisonOperator"], reason)


def evaluable_alarms(refs: dict[str, Any]) -> list[str]:
    """Alarms the local evaluator can judge (``evaluate`` refuses the others) and that notify the alarm topic."""
    names = []
    for name in alarm_definitions():
        try:
            evaluate(name, MetricSink(), refs)
        except (UnsupportedExpressionError, SyntaxError, KeyError):
            continue
        if refs.get("AlarmTopic") in alarm_properties(name, refs)[1].get("AlarmActions", []):
            names.append(name)
    return names
