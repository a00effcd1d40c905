"""Parses SNS records carrying CloudWatch alarm notifications; anything it cannot read becomes a GenericNotice.

Shapes (AWS "Schema of Amazon SNS notifications when alarms change state"):
- metric alarm: ``Trigger.MetricName`` + ``Trigger.Dimensions``;
- metric-math alarm: ``Trigger.Metrics`` (MetricDataQuery list: ``Expression`` or ``MetricStat``), no MetricName;
- composite alarm: ``AlarmRule`` + ``TriggeringChildren``, no Trigger.
Parsing never raises: a relay that crashes on one odd message retries it forever and drops everything behind it.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

ALARM = "ALARM"
OK = "OK"
INSUFFICIENT_DATA = "INSUFFICIENT_DATA"
KNOWN_STATES = (ALARM, OK, INSUFFICIENT_DATA)

_COMPARISON_SYMBOLS = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": ">=",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "<=",
    "LessThanLowerOrGreaterThanUpperThreshold": "outside the band",
    "LessThanLowerThreshold": "below the band",
    "GreaterThanUpperThreshold": "above the band",
}
_RULE_CHILD = re.compile(r"""\b(?:ALARM|OK|INSUFFICIENT_DATA)\(\s*(?:"([^"]+)"|'([^']+)'|([^)\s]+))\s*\)""")


def parse_state_change_time(value: Any) -> datetime | None:
    """CloudWatch writes ``2024-05-01T03:12:45.123+0000``; None when absent or unreadable."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    for candidate in (text, text.replace("Z", "+00:00")):
        try:
            parsed = datetime.fromisoformat(candidate)
        except ValueError:
            continue
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
    except ValueError:
        return None


def alarm_name_from_arn(arn: str) -> str:
    """``arn:aws:cloudwatch:<region>:<account>:alarm:<name>`` -> ``<name>`` (the name may itself contain colons)."""
    marker = ":alarm:"
    return arn.split(marker, 1)[1] if marker in arn else arn


class _Tolerant(BaseModel):
    # Extra fields are kept (AWS adds fields over time); a missing optional field is never an error.
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class Dimension(_Tolerant):
    # CloudWatch writes dimensions in lower case inside Trigger ("name"/"value"), upper case elsewhere.
    name: str = ""
    value: str = ""

    @classmethod
    def of(cls, raw: Any) -> Dimension | None:
        if not isinstance(raw, dict):
            return None
        name = raw.get("name", raw.get("Name"))
        value = raw.get("value", raw.get("Value"))
        if name is None:
            return None
        return cls(name=str(name), value="" if value is None else str(value))


def _dimensions(raw: Any) -> list[Dimension]:
    if not isinstance(raw, list):
        return []
    return [d for d in (Dimension.of(item) for item in raw) if d is not None]


class Metric(_Tolerant):
    metric_name: str = Field(default="", alias="MetricName")
    namespace: str = Field(default="", alias="Namespace")
    dimensions: list[Dimension] = Field(default_factory=list, alias="Dimensions")

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dims(cls, value: Any) -> list[Dimension]:
        return _dimensions(value)


class MetricStat(_Tolerant):
    metric: Metric = Field(default_factory=Metric, alias="Metric")
    period: int | None = Field(default=None, alias="Period")
    stat: str = Field(default="", alias="Stat")


class MetricDataQuery(_Tolerant):
    id: str = Field(default="", alias="Id")
    expression: str | None = Field(default=None, alias="Expression")
    label: str | None = Field(default=None, alias="Label")
    metric_stat: MetricStat | None = Field(default=None, alias="MetricStat")
    return_data: bool = Field(default=False, alias="ReturnData")

    @field_validator("return_data", mode="before")
    @classmethod
    def _truthy(cls, value: Any) -> bool:
        # Seen in the wild both as JSON booleans and as the strings "True"/"False".
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)


class Trigger(_Tolerant):
    metric_name: str | None = Field(default=None, alias="MetricName")
    namespace: str | None = Field(default=None, alias="Namespace")
    statistic: str | None = Field(default=None, alias="Statistic")
    extended_statistic: str | None = Field(default=None, alias="ExtendedStatistic")
    dimensions: list[Dimension] = Field(default_factory=list, alias="Dimensions")
    period: int | None = Field(default=None, alias="Period")
    evaluation_periods: int | None = Field(default=None, alias="EvaluationPeriods")
    datapoints_to_alarm: int | None = Field(default=None, alias="DatapointsToAlarm")
    comparison_operator: str | None = Field(default=None, alias="ComparisonOperator")
    threshold: float | None = Field(default=None, alias="Threshold")
    metrics: list[MetricDataQuery] = Field(default_factory=list, alias="Metrics")

    @field_validator("dimensions", mode="before")
    @classmethod
    def _dims(cls, value: Any) -> list[Dimension]:
        return _dimensions(value)

    @field_validator("metrics", mode="before")
    @classmethod
    def _queries(cls, value: Any) -> list[Any]:
        return [q for q in value if isinstance(q, dict)] if isinstance(value, list) else []

    @field_validator("period", "evaluation_periods", "datapoints_to_alarm", "threshold", mode="before")
    @classmethod
    def _number_or_none(cls, value: Any) -> Any:
        if isinstance(value, bool) or value in ("", None):
            return None
        try:
            float(value)
        except (TypeError, ValueError):
            return None
        return value

    def metric_names(self) -> list[str]:
        names = [self.metric_name] if self.metric_name else []
        for query in self.metrics:
            if query.metric_stat and query.metric_stat.metric.metric_name:
                names.append(query.metric_stat.metric.metric_name)
        return list(dict.fromkeys(names))

    def all_dimensions(self) -> list[Dimension]:
        dims = list(self.dimensions)
        for query in self.metrics:
            if query.metric_stat:
                dims.extend(query.metric_stat.metric.dimensions)
        return dims

    def expression(self) -> str | None:
        """The metric-math expression the alarm evaluates, with metric ids replaced by metric names."""
        returned = next((q for q in self.metrics if q.return_data and q.expression), None)
        returned = returned or next((q for q in self.metrics if q.expression), None)
        if returned is None or returned.expression is None:
            return None
        names = {
            q.id: q.metric_stat.metric.metric_name
            for q in self.metrics
            if q.id and q.metric_stat and q.metric_stat.metric.metric_name
        }
        if not names:
            return returned.expression
        pattern = re.compile(r"\b(" + "|".join(re.escape(i) for i in sorted(names, key=len, reverse=True)) + r")\b")
        return pattern.sub(lambda m: names[m.group(1)], returned.expression)

    def describe(self) -> str:
        """One line an engineer reads at 3 a.m.: what is measured, against what, for how long."""
        if self.metrics:
            measured = self.expression() or ", ".join(self.metric_names()) or "metric math"
        elif self.metric_name:
            stat = self.statistic or self.extended_statistic or ""
            dims = ", ".join(f"{d.name}={d.value}" for d in self.dimensions)
            measured = f"{stat.capitalize() if stat.isupper() else stat} {self.metric_name}".strip()
            if dims:
                measured += f" ({dims})"
        else:
            return ""
        parts = [measured]
        if self.comparison_operator:
            symbol = _COMPARISON_SYMBOLS.get(self.comparison_operator, self.comparison_operator)
            parts.append(symbol if self.threshold is None else f"{symbol} {_number(self.threshold)}")
        if self.evaluation_periods:
            needed = self.datapoints_to_alarm or self.evaluation_periods
            window = f" of {self.period} s" if self.period else ""
            parts.append(f"for {needed} of {self.evaluation_periods} period(s){window}")
        return " ".join(parts)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class TriggeringChild(_Tolerant):
    arn: str = Field(default="", alias="Arn")
    state: str | None = None
    timestamp: str | None = None

    @classmethod
    def of(cls, raw: Any) -> TriggeringChild | None:
        # The documented schema says [String]; real notifications carry {"Arn", "State": {"Value", "Timestamp"}}.
        if isinstance(raw, str) and raw:
            return cls(Arn=raw)
        if isinstance(raw, dict) and isinstance(raw.get("Arn"), str):
            state = raw.get("State") if isinstance(raw.get("State"), dict) else {}
            return cls(Arn=raw["Arn"], state=state.get("Value"), timestamp=state.get("Timestamp"))
        return None

    @property
    def name(self) -> str:
        return alarm_name_from_arn(self.arn)


class AlarmNotification(_Tolerant):
    """A CloudWatch alarm state change; only the alarm name and the new state are required."""

    alarm_name: str = Field(alias="AlarmName", min_length=1)
    new_state: str = Field(alias="NewStateValue", min_length=1)
    old_state: str = Field(default="", alias="OldStateValue")
    reason: str = Field(default="", alias="NewStateReason")
    description: str | None = Field(default=None, alias="AlarmDescription")
    account_id: str = Field(default="", alias="AWSAccountId")
    region_name: str = Field(default="", alias="Region")
    alarm_arn: str = Field(default="", alias="AlarmArn")
    state_change_time_raw: str | None = Field(default=None, alias="StateChangeTime")
    trigger: Trigger | None = Field(default=None, alias="Trigger")
    alarm_rule: str | None = Field(default=None, alias="AlarmRule")
    triggering_children: list[TriggeringChild] = Field(default_factory=list, alias="TriggeringChildren")

    @field_validator("old_state", "reason", "account_id", "region_name", "alarm_arn", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str:
        return "" if value is None else str(value)

    @field_validator("state_change_time_raw", "description", "alarm_rule", mode="before")
    @classmethod
    def _optional_text(cls, value: Any) -> str | None:
        return None if value is None else str(value)

    @field_validator("trigger", mode="before")
    @classmethod
    def _trigger(cls, value: Any) -> Any:
        return value if isinstance(value, dict) else None

    @field_validator("triggering_children", mode="before")
    @classmethod
    def _children(cls, value: Any) -> list[TriggeringChild]:
        if not isinstance(value, list):
            return []
        return [c for c in (TriggeringChild.of(item) for item in value) if c is not None]

    @property
    def kind(self) -> Literal["composite", "metric_math", "metric", "alarm"]:
        if self.alarm_rule is not None:
            return "composite"
        if self.trigger and self.trigger.metrics:
            return "metric_math"
        if self.trigger and self.trigger.metric_name:
            return "metric"
        return "alarm"

    @property
    def state_change_time(self) -> datetime | None:
        return parse_state_change_time(self.state_change_time_raw)

    @property
    def region_code(self) -> str:
        parts = self.alarm_arn.split(":")
        return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else ""

    @property
    def metric_names(self) -> list[str]:
        return self.trigger.metric_names() if self.trigger else []

    @property
    def dimensions(self) -> list[Dimension]:
        return self.trigger.all_dimensions() if self.trigger else []

    @property
    def child_alarm_names(self) -> list[str]:
        """Alarms a composite rule refers to, the triggering ones first."""
        names = [c.name for c in self.triggering_children]
        for match in _RULE_CHILD.finditer(self.alarm_rule or ""):
            names.append(alarm_name_from_arn(next(g for g in match.groups() if g)))
        return list(dict.fromkeys(names))

    @property
    def condition(self) -> str:
        if self.kind == "composite":
            return f"Rule: {self.alarm_rule}"
        return self.trigger.describe() if self.trigger else ""

    @property
    def console_url(self) -> str | None:
        if not self.region_code:
            return None
        region = self.region_code
        return (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#alarmsV2:alarm/{quote(self.alarm_name, safe='')}"
        )


class GenericNotice(BaseModel):
    """A message on the alarm topic that is not a readable alarm: relayed verbatim, never dropped."""

    subject: str = ""
    body: str = ""
    why: str = ""


class Envelope(BaseModel):
    """One SNS record: delivery metadata plus what it carries."""

    message_id: str
    topic_arn: str = ""
    subject: str = ""
    sent_at: str = ""
    notice: AlarmNotification | GenericNotice

    @property
    def is_alarm(self) -> bool:
        return isinstance(self.notice, AlarmNotification)


def _alarm_or_generic(subject: str, message: Any) -> AlarmNotification | GenericNotice:
    if not isinstance(message, str):
        return GenericNotice(subject=subject, body=_dump(message), why="the SNS record carried no Message text")
    try:
        document = json.loads(message)
    except ValueError:
        return GenericNotice(subject=subject, body=message, why="the message is not JSON")
    if not isinstance(document, dict) or "AlarmName" not in document:
        return GenericNotice(subject=subject, body=message, why="the message is not a CloudWatch alarm notification")
    try:
        return AlarmNotification.model_validate(document)
    except ValidationError as err:
        fields = ", ".join(sorted({".".join(str(p) for p in e["loc"]) for e in err.errors()}))
        return GenericNotice(subject=subject, body=message, why=f"unreadable alarm fields: {fields}")


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return repr(value)


def parse_record(record: Any) -> Envelope:
    """One Lambda SNS record -> Envelope; never raises."""
    sns = record.get("Sns") if isinstance(record, dict) else None
    if not isinstance(sns, dict):
        body = _dump(record)
        return Envelope(
            message_id=_synthetic_id(body),
            notice=GenericNotice(body=body, why="the record is not an SNS notification"),
        )
    subject = sns.get("Subject") if isinstance(sns.get("Subject"), str) else ""
    message = sns.get("Message")
    message_id = sns.get("MessageId")
    if not isinstance(message_id, str) or not message_id:
        # Without a MessageId, the content itself is the only stable identity a retry shares.
        message_id = _synthetic_id(_dump(sns))
    return Envelope(
        message_id=message_id,
        topic_arn=str(sns.get("TopicArn") or ""),
        subject=subject,
        sent_at=str(sns.get("Timestamp") or ""),
        notice=_alarm_or_generic(subject, message),
    )


def parse_event(event: Any) -> list[Envelope]:
    """Every record of the event, in order; an event without records becomes one generic notice."""
    records = event.get("Records") if isinstance(event, dict) else None
    if not isinstance(records, list) or not records:
        body = _dump(event)
        return [
            Envelope(
                message_id=_synthetic_id(body),
                notice=GenericNotice(body=body, why="the event has no SNS records"),
            )
        ]
    return [parse_record(record) for record in records]


def _synthetic_id(body: str) -> str:
    return "sha256:" + hashlib.sha256(body.encode("utf-8", "replace")).hexdigest()[:32]
