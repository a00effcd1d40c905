"""Parsing CloudWatch alarm notifications of every shape, and never raising on anything else."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mangaassist.alerting.notification import (
    AlarmNotification,
    GenericNotice,
    parse_event,
    parse_record,
    parse_state_change_time,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def event_file(name: str) -> dict:
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))


def sns_record(message, message_id: str | None = "m-1", subject: str = "ALARM: x") -> dict:
    sns = {"Type": "Notification", "TopicArn": "arn:aws:sns:ap-northeast-1:1:alarms", "Subject": subject}
    sns["Message"] = message if isinstance(message, str) else json.dumps(message)
    if message_id is not None:
        sns["MessageId"] = message_id
    return {"EventSource": "aws:sns", "Sns": sns}


def only_alarm(event: dict) -> AlarmNotification:
    (envelope,) = parse_event(event)
    assert isinstance(envelope.notice, AlarmNotification)
    return envelope.notice


def test_single_metric_alarm():
    alarm = only_alarm(event_file("alarm_metric_alarm"))

    assert alarm.kind == "metric"
    assert (alarm.alarm_name, alarm.old_state, alarm.new_state) == ("CatalogCircuitOpen", "OK", "ALARM")
    assert alarm.metric_names == ["CircuitOpen"]
    assert [(d.name, d.value) for d in alarm.dimensions] == [("service", "catalog")]
    assert alarm.region_code == "ap-northeast-1"
    assert alarm.state_change_time == datetime(2025, 3, 14, 18, 2, 11, 532000, tzinfo=UTC)
    assert alarm.condition == "Maximum CircuitOpen (service=catalog) >= 1 for 1 of 1 period(s) of 60 s"


def test_metric_math_alarm_has_no_single_metric_name_but_names_every_input():
    alarm = only_alarm(event_file("alarm_metric_math_alarm"))

    assert alarm.kind == "metric_math"
    assert alarm.trigger is not None
    assert alarm.trigger.metric_name is None
    assert alarm.metric_names == ["OrderServiceError", "OrderServiceTimeout"]
    # The expression reads in metric names, not in the ids m1/m2 nobody remembers at 3 a.m.
    assert alarm.condition == "OrderServiceError + OrderServiceTimeout > 10 for 1 of 1 period(s) of 60 s"


def test_composite_alarm_names_its_children_triggering_ones_first():
    alarm = only_alarm(event_file("alarm_composite_alarm"))

    assert alarm.kind == "composite"
    assert alarm.trigger is None
    assert [c.name for c in alarm.triggering_children] == ["ChatSloFastBurn5m"]
    assert alarm.triggering_children[0].state == "ALARM"
    assert alarm.child_alarm_names == ["ChatSloFastBurn5m", "ChatSloFastBurn1h"]


def test_composite_children_as_documented_plain_strings_and_rules_with_arns():
    alarm = AlarmNotification.model_validate(
        {
            "AlarmName": "Composite",
            "NewStateValue": "ALARM",
            "AlarmRule": "ALARM(arn:aws:cloudwatch:ap-northeast-1:1:alarm:A) AND NOT OK('B') OR ALARM(C)",
            "TriggeringChildren": ["arn:aws:cloudwatch:ap-northeast-1:1:alarm:A", 7, {"no": "arn"}],
        }
    )

    assert [c.name for c in alarm.triggering_children] == ["A"]
    assert alarm.child_alarm_names == ["A", "B", "C"]


def test_return_data_written_as_strings_is_understood():
    alarm = AlarmNotification.model_validate(
        {
            "AlarmName": "DiskFree",
            "NewStateValue": "ALARM",
            "Trigger": {
                "ComparisonOperator": "LessThanOrEqualToThreshold",
                "Threshold": 30,
                "Metrics": [
                    {"Id": "m1", "MetricStat": {"Metric": {"MetricName": "disk_total"}}, "ReturnData": "False"},
                    {"Expression": "m2/m1*100", "Id": "e1", "ReturnData": "True"},
                    {"Id": "m2", "MetricStat": {"Metric": {"MetricName": "disk_free"}}, "ReturnData": "False"},
                ],
            },
        }
    )

    assert [q.return_data for q in alarm.trigger.metrics] == [False, True, False]
    assert alarm.trigger.expression() == "disk_free/disk_total*100"
    assert alarm.condition == "disk_free/disk_total*100 <= 30"


def test_missing_optional_fields_and_nulls_are_tolerated():
    alarm = AlarmNotification.model_validate(
        {
            "AlarmName": "Bare",
            "NewStateValue": "OK",
            "AlarmDescription": None,
            "OldStateValue": None,
            "Trigger": {"MetricName": "X", "Dimensions": "not-a-list", "Threshold": "", "Period": "sixty"},
        }
    )

    assert (alarm.description, alarm.old_state, alarm.alarm_arn, alarm.region_code) == (None, "", "", "")
    assert alarm.trigger.dimensions == []
    assert (alarm.trigger.threshold, alarm.trigger.period) == (None, None)
    assert alarm.state_change_time is None
    assert alarm.console_url is None


@pytest.mark.parametrize(
    ("message", "why"),
    [
        ("OrderService looks down {", "the message is not JSON"),
        (json.dumps(["a", "list"]), "the message is not a CloudWatch alarm notification"),
        (json.dumps({"source": "aws.health"}), "the message is not a CloudWatch alarm notification"),
        (json.dumps({"AlarmName": "NoState"}), "unreadable alarm fields: NewStateValue"),
        (json.dumps({"AlarmName": "", "NewStateValue": "ALARM"}), "unreadable alarm fields: AlarmName"),
    ],
)
def test_anything_unreadable_becomes_a_generic_notice_with_the_reason(message, why):
    envelope = parse_record(sns_record(message))

    assert isinstance(envelope.notice, GenericNotice)
    assert envelope.notice.why == why
    assert envelope.notice.body == message
    assert envelope.message_id == "m-1"


@pytest.mark.parametrize("record", [None, 42, "text", {"Sns": "not a dict"}, {"EventSource": "aws:sqs", "body": "x"}])
def test_records_that_are_not_sns_notifications_become_generic_notices(record):
    envelope = parse_record(record)

    assert isinstance(envelope.notice, GenericNotice)
    assert envelope.notice.why == "the record is not an SNS notification"
    assert envelope.message_id.startswith("sha256:")


def test_a_message_id_missing_from_the_record_is_derived_from_the_content_so_retries_share_it():
    first = parse_record(sns_record({"AlarmName": "A", "NewStateValue": "ALARM"}, message_id=None))
    again = parse_record(sns_record({"AlarmName": "A", "NewStateValue": "ALARM"}, message_id=None))
    other = parse_record(sns_record({"AlarmName": "B", "NewStateValue": "ALARM"}, message_id=None))

    assert first.message_id == again.message_id != other.message_id


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": "x"}, None, []])
def test_an_event_without_records_is_still_relayed_as_one_notice(event):
    (envelope,) = parse_event(event)

    assert isinstance(envelope.notice, GenericNotice)
    assert envelope.notice.why == "the event has no SNS records"


def test_every_record_of_an_event_is_parsed_in_order():
    envelopes = parse_event(event_file("sns_multiple_records"))

    assert [e.notice.alarm_name for e in envelopes] == [
        "OrderServiceCircuitOpen",
        "StateStoreErrors",
        "PromotionsCircuitOpen",
        "NightlyExportLag",
    ]
    assert len({e.message_id for e in envelopes}) == 4


def test_malformed_event_file_is_a_generic_notice():
    (envelope,) = parse_event(event_file("sns_malformed_message"))

    assert isinstance(envelope.notice, GenericNotice)
    assert envelope.notice.subject == "manual test <ops>"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2025-03-14T18:02:11.532+0000", datetime(2025, 3, 14, 18, 2, 11, 532000, tzinfo=UTC)),
        ("2025-03-14T18:02:11.532Z", datetime(2025, 3, 14, 18, 2, 11, 532000, tzinfo=UTC)),
        ("2025-03-14T18:02:11", datetime(2025, 3, 14, 18, 2, 11, tzinfo=UTC)),
        ("yesterday", None),
        ("", None),
        (None, None),
        (1741975331, None),
    ],
)
def test_state_change_time_formats(raw, expected):
    assert parse_state_change_time(raw) == expected
