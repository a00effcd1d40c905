"""Exactly once, nothing lost: retries, rejections, timeouts, duplicates, stale transitions and secret handling.

Each test drives the real handler against moto server and the local receivers, then counts what arrived.
"""

from __future__ import annotations

import copy
import json
import logging
import traceback

import boto3
import pytest
from botocore.config import Config

from local.moto_process import free_port
from local.receivers import pagerduty_response, slack_response
from mangaassist.alerting import slack as slack_format
from mangaassist.alerting.relay import AlarmRelayError
from tests.integration import test_alarm_relay_harness as harness
from tests.integration.test_alarm_relay_harness import load_event

pytestmark = pytest.mark.integration

# The bench fixtures, shared with the other alarm-relay modules.
bench = harness.bench
receivers = harness.receivers
relay_logs = harness.relay_logs


def with_message(event: dict, **changes) -> dict:
    """The event with its (only) alarm message changed, and optionally a new SNS MessageId."""
    event = copy.deepcopy(event)
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    if "message_id" in changes:
        sns["MessageId"] = changes.pop("message_id")
    message.update(changes)
    sns["Message"] = json.dumps(message)
    return event


@pytest.mark.parametrize("status", [429, 500, 503])
def test_slack_throttled_or_failing_raises_and_the_retry_posts_slack_once_and_pagerduty_never_again(bench, status):
    bench.slack.answer_sequence(status)
    event = load_event("alarm_metric_math_alarm")

    with pytest.raises(AlarmRelayError) as raised:
        bench.invoke(event)
    assert raised.value.failures == ["slack for 6c1a3e9d-4b7f-5e21-8d0a-9f2b3c4d5e02"]
    assert len(bench.pagerduty.requests) == 1  # PagerDuty got through on the first attempt

    result = bench.invoke(event)  # Lambda's asynchronous retry: same event
    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "already_sent"}
    assert len(bench.slack.requests) == 2  # the failed attempt and the one that got through
    assert len(bench.pagerduty.requests) == 1

    bench.invoke(event)  # a third delivery of the same message changes nothing
    assert (len(bench.slack.requests), len(bench.pagerduty.requests)) == (2, 1)


@pytest.mark.parametrize("status", [429, 500])
def test_pagerduty_failing_after_slack_succeeded_does_not_repost_slack_on_retry(bench, status):
    bench.pagerduty.answer_sequence(status)
    event = load_event("alarm_metric_math_alarm")

    with pytest.raises(AlarmRelayError):
        bench.invoke(event)
    result = bench.invoke(event)

    assert result["records"][0]["channels"] == {"slack": "already_sent", "pagerduty": "delivered"}
    assert len(bench.slack.requests) == 1
    assert [r.json()["event_action"] for r in bench.pagerduty.requests] == ["trigger", "trigger"]


def test_client_error_is_logged_and_not_retried(bench, relay_logs):
    bench.slack.answer(400)

    result = bench.invoke_file("alarm_metric_math_alarm")  # no exception: a retry cannot fix a bad payload

    assert result["records"][0]["channels"] == {"slack": "rejected", "pagerduty": "delivered"}
    rejected = relay_logs.entries("ERROR")
    assert len(rejected) == 1
    assert rejected[0]["status"] == 400
    assert rejected[0]["response"] == "invalid_payload"
    assert rejected[0]["channel"] == "slack"

    bench.slack.answer(200)
    bench.invoke_file("alarm_metric_math_alarm")  # a redelivery does not retry the rejected post either
    # The secret was re-read after the 400 but had not changed, so nothing was posted again.
    assert len(bench.slack.requests) == 1


def test_a_rotated_webhook_is_picked_up_without_waiting_for_the_cache(bench):
    bench.invoke_file("alarm_metric_math_alarm")  # warms the secret cache with the old webhook
    new_webhook = bench.webhook_url.rsplit("/", 1)[0] + "/rotated0123456789"
    bench.put_secret(bench.slack_secret_id, new_webhook)
    bench.slack.answer_sequence(404)  # the old webhook was revoked

    result = bench.invoke_file("alarm_ok")

    assert result["records"][0]["channels"]["slack"] == "delivered"
    paths = [r.path for r in bench.slack.requests]
    old_path = bench.webhook_url.removeprefix(bench.slack.url)
    assert paths == [old_path, old_path, new_webhook.removeprefix(bench.slack.url)]


def test_a_hanging_receiver_times_out_and_raises_within_the_configured_timeout(bench, monkeypatch):
    monkeypatch.setenv("ALERT_HTTP_TIMEOUT_S", "0.3")
    bench.fresh_relay()
    # Slack's answer is a 200 that comes after 1 s: a relay that waited for it would have delivered, so the
    # raise itself proves it gave up first, with no stopwatch around the whole invocation.
    bench.slack.answer_sequence(slack_response(200, delay_s=1.0))

    with pytest.raises(AlarmRelayError) as raised:
        bench.invoke_file("alarm_metric_math_alarm")

    assert raised.value.failures == ["slack for 6c1a3e9d-4b7f-5e21-8d0a-9f2b3c4d5e02"]
    result = bench.invoke_file("alarm_metric_math_alarm")
    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "already_sent"}


def test_unreachable_pagerduty_raises_without_quoting_any_url(bench, monkeypatch):
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"http://127.0.0.1:{free_port()}/v2/enqueue")
    bench.fresh_relay()

    with pytest.raises(AlarmRelayError) as raised:
        bench.invoke_file("alarm_metric_math_alarm")

    assert raised.value.failures == ["pagerduty for 6c1a3e9d-4b7f-5e21-8d0a-9f2b3c4d5e02"]
    assert "127.0.0.1" not in str(raised.value)


def test_duplicate_message_id_is_not_posted_twice(bench):
    event = load_event("alarm_composite_alarm")

    first = bench.invoke(event)
    bench.fresh_relay()  # a different execution environment receives SNS's duplicate
    second = bench.invoke(event)

    assert first["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "delivered"}
    assert second["records"][0]["channels"] == {"slack": "already_sent", "pagerduty": "already_sent"}
    assert (len(bench.slack.requests), len(bench.pagerduty.requests)) == (1, 1)


def test_an_older_transition_arriving_late_is_not_posted_as_news(bench, relay_logs):
    bench.invoke_file("alarm_ok")  # 18:09:11 ALARM -> OK arrives first
    late_alarm = bench.invoke_file("alarm_metric_math_alarm")  # 18:02:40 OK -> ALARM arrives late

    assert late_alarm["records"][0]["channels"] == {"slack": "stale", "pagerduty": "stale"}
    assert [r.json()["event_action"] for r in bench.pagerduty.requests] == ["resolve"]  # no re-opened incident
    assert len(bench.slack.requests) == 1
    item = bench.alarm_item("OrderServiceAvailability")
    assert item["last_state"]["S"] == "OK"
    assert item["last_change"]["S"] == "2025-03-14T18:09:11.904+0000"
    (stale,) = [w for w in relay_logs.entries("WARNING") if w["message"].startswith("older transition")]
    assert stale["relayed_state"] == "OK"
    assert stale["state_change_time"] == "2025-03-14T18:02:40.118+0000"


def test_the_same_transition_published_twice_under_new_message_ids_is_news_once(bench):
    event = load_event("alarm_metric_math_alarm")
    bench.invoke(event)
    republished = with_message(event, message_id="0f0f0f0f-1111-5222-8333-444455556666")

    result = bench.invoke(republished)

    assert result["records"][0]["channels"] == {"slack": "stale", "pagerduty": "stale"}
    assert (len(bench.slack.requests), len(bench.pagerduty.requests)) == (1, 1)


def test_a_retry_of_a_transition_that_a_newer_one_overtook_is_not_posted(bench):
    bench.pagerduty.answer_sequence(500)
    alarm = load_event("alarm_metric_math_alarm")
    with pytest.raises(AlarmRelayError):
        bench.invoke(alarm)
    bench.invoke_file("alarm_ok")  # the recovery overtakes the retry

    result = bench.invoke(alarm)  # Lambda retries the ALARM after the OK was relayed

    assert result["records"][0]["channels"] == {"slack": "stale", "pagerduty": "stale"}
    actions = [r.json()["event_action"] for r in bench.pagerduty.requests]
    assert actions == ["trigger", "resolve"]  # the failed trigger, then the resolve; no late trigger


def test_multi_record_event_retries_only_the_record_that_failed(bench):
    bench.pagerduty.answer_sequence(pagerduty_response(500))
    bench.slack.answer_sequence(200, 200, 500)
    event = load_event("sns_multiple_records")

    with pytest.raises(AlarmRelayError) as raised:
        bench.invoke(event)
    assert raised.value.failures == [
        "pagerduty for c1d2e3f4-a5b6-5c7d-8e9f-0a1b2c3d4e07",
        "slack for f4a5b6c7-d8e9-5f0a-9b1c-3d4e5f6a7b10",
    ]
    assert len(bench.slack.requests) == 4  # the records after a failure were still tried
    assert len(bench.pagerduty.requests) == 2

    result = bench.invoke(event)

    assert [r["channels"] for r in result["records"]] == [
        {"slack": "already_sent", "pagerduty": "delivered"},
        {"slack": "already_sent", "pagerduty": "already_sent"},
        {"slack": "delivered", "pagerduty": "not_applicable"},
        {"slack": "already_sent", "pagerduty": "not_applicable"},
    ]
    assert len(bench.slack.requests) == 5
    dedup_keys = [r.json()["dedup_key"] for r in bench.pagerduty.requests]
    assert len(dedup_keys) == 3
    assert dedup_keys.count(dedup_keys[0]) == 2  # only the first record's trigger was sent again


def test_an_empty_secret_skips_its_channel_with_a_warning_naming_the_secret(bench, monkeypatch, relay_logs):
    secrets = boto3.client(
        "secretsmanager",
        endpoint_url=bench.endpoint,
        region_name="ap-northeast-1",
        config=Config(retries={"max_attempts": 1}),
    )
    empty_id = bench.pagerduty_secret_id + "-empty"
    secrets.create_secret(Name=empty_id)  # what the template creates before operators fill it
    blank_id = bench.slack_secret_id + "-blank"
    secrets.create_secret(Name=blank_id, SecretString="   ")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY_SECRET_ID", empty_id)
    monkeypatch.setenv("SLACK_WEBHOOK_SECRET_ID", blank_id)
    bench.fresh_relay()

    result = bench.invoke_file("alarm_metric_math_alarm")  # no exception: the alarm is not retried forever

    assert result["records"][0]["channels"] == {"slack": "not_configured", "pagerduty": "not_configured"}
    assert (bench.slack.requests, bench.pagerduty.requests) == ([], [])
    warnings = [entry["message"] for entry in relay_logs.entries("WARNING")]
    assert any(empty_id in w and "pagerduty is not configured" in w for w in warnings)
    assert any(blank_id in w and "slack is not configured" in w for w in warnings)

    bench.put_secret(blank_id, bench.webhook_url)  # an operator fills the secret
    bench.fresh_relay()
    result = bench.invoke_file("alarm_ok")
    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "not_configured"}


@pytest.mark.parametrize(
    "prefix",
    ["https://hooks.slack.com/", "http://127.0.0.1:"],
    ids=["as_deployed", "a_stand_in_elsewhere"],
)
def test_a_slack_secret_that_is_not_a_slack_webhook_is_refused_and_logged_without_the_url(
    bench, monkeypatch, relay_logs, capfd, prefix
):
    # The receiver's own URL with a secret path: deliverable, so only the prefix check stops it.
    monkeypatch.setenv("SLACK_WEBHOOK_PREFIX", prefix)
    impostor = bench.webhook_url.replace("127.0.0.1", "localhost") if prefix.startswith("http://") else None
    bench.put_secret(bench.slack_secret_id, impostor or bench.webhook_url)
    bench.fresh_relay()

    result = bench.invoke_file("alarm_ok")

    assert result["records"][0]["channels"]["slack"] == "refused"
    assert result["records"][0]["channels"]["pagerduty"] == "delivered"  # the other channel is unaffected
    assert bench.slack.requests == []
    (refusal,) = [e["message"] for e in relay_logs.entries("ERROR") if "slack webhook refused" in e["message"]]
    assert bench.slack_secret_id in refusal
    secret_path = bench.webhook_url.rsplit("/", 1)[1]
    assert secret_path not in json.dumps(relay_logs.entries()) + capfd.readouterr().out


def test_secrets_never_appear_in_logs_errors_or_tracebacks(bench, relay_logs, capfd):
    # Even with every logger at DEBUG (urllib3 logs request paths there, and a webhook path is the secret).
    root = logging.getLogger()
    handler = logging.StreamHandler()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    relay_level = bench.handler_module.logger.log_level
    bench.handler_module.logger.setLevel(logging.DEBUG)
    try:
        bench.slack.answer_sequence(500)
        bench.pagerduty.answer_sequence(400)
        with pytest.raises(AlarmRelayError) as raised:
            bench.invoke_file("alarm_metric_math_alarm")
        bench.invoke_file("alarm_metric_math_alarm")
        bench.invoke_file("sns_multiple_records")
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)
        bench.handler_module.logger.setLevel(relay_level)

    captured = capfd.readouterr()
    webhook_token = bench.webhook_url.rsplit("/", 1)[1]
    text = (
        relay_logs.text
        + captured.out
        + captured.err
        + str(raised.value)
        + "".join(traceback.format_exception(raised.value))
    )
    assert len(bench.slack.requests) >= 2  # the secrets were in use while all this was logged
    assert webhook_token not in text
    assert bench.webhook_url not in text
    assert bench.routing_key not in text
    assert relay_logs.entries("ERROR")  # the relay's own logs were captured ...
    assert "GetSecretValue" in captured.err  # ... and so were botocore's DEBUG lines about reading the secrets


def test_an_alarm_the_formatter_trips_over_still_reaches_slack_raw(bench, monkeypatch):
    def broken(*args, **kwargs):
        raise ValueError("formatter bug")

    monkeypatch.setattr(slack_format, "alarm_message", broken)

    result = bench.invoke_file("alarm_metric_math_alarm")

    assert result["records"][0]["channels"] == {"slack": "delivered", "pagerduty": "delivered"}
    (message,) = bench.slack.bodies()
    assert message["blocks"][0]["text"]["text"] == ":mega: OrderServiceAvailability"
    assert (
        message["blocks"][1]["text"]["text"] == "*Relayed as received because* the relay could not format this alarm."
    )
    assert "OrderServiceError" in message["blocks"][2]["text"]["text"]


def test_a_record_that_fails_unexpectedly_does_not_stop_the_records_behind_it(bench, monkeypatch):
    from mangaassist.alerting import relay as relay_module

    real_assess = relay_module.assess

    def assess_failing_on_state_store(notice, base):
        if getattr(notice, "alarm_name", "") == "StateStoreErrors":
            raise RuntimeError("bug")
        return real_assess(notice, base)

    monkeypatch.setattr(relay_module, "assess", assess_failing_on_state_store)

    with pytest.raises(AlarmRelayError) as raised:
        bench.invoke_file("sns_multiple_records")

    assert "slack for d2e3f4a5-b6c7-5d8e-9f0a-1b2c3d4e5f08" in raised.value.failures
    headers = [m["blocks"][0]["text"]["text"] for m in bench.slack.bodies()]
    assert headers == [
        ":red_circle: ALARM: OrderServiceCircuitOpen",
        ":red_circle: ALARM: PromotionsCircuitOpen",
        ":red_circle: ALARM: NightlyExportLag",
    ]


def test_a_first_deploy_settles_quietly_and_real_recoveries_are_still_posted(bench):
    """A new alarm goes INSUFFICIENT_DATA -> OK at every deploy: logged, not posted. Once it has been in ALARM,
    its recoveries (directly, or through INSUFFICIENT_DATA when the metric stops) are posted and resolve PagerDuty."""
    ok = load_event("alarm_ok")

    def step(n: int, old: str, new: str) -> dict:
        event = with_message(
            ok,
            message_id=f"deploy-{n}",
            OldStateValue=old,
            NewStateValue=new,
            StateChangeTime=f"2025-03-14T18:{10 + n:02d}:00.000+0000",
        )
        return bench.invoke(event)["records"][0]["channels"]

    # The deploy: the alarm is created without data, then its first evaluation finds it healthy.
    assert step(0, "INSUFFICIENT_DATA", "OK") == {"slack": "quiet", "pagerduty": "quiet"}
    assert bench.slack.requests == []
    assert bench.pagerduty.requests == []
    # Data stops and comes back while healthy: still nothing happened worth a message.
    assert step(1, "OK", "INSUFFICIENT_DATA") == {"slack": "delivered", "pagerduty": "not_applicable"}
    assert step(2, "INSUFFICIENT_DATA", "OK") == {"slack": "quiet", "pagerduty": "quiet"}
    # A real incident and its recovery.
    assert step(3, "OK", "ALARM") == {"slack": "delivered", "pagerduty": "delivered"}
    assert step(4, "ALARM", "OK") == {"slack": "delivered", "pagerduty": "delivered"}
    # Another incident that ends because the metric stops (missing data), then settles: that OK is a recovery.
    assert step(5, "OK", "ALARM") == {"slack": "delivered", "pagerduty": "delivered"}
    assert step(6, "ALARM", "INSUFFICIENT_DATA") == {"slack": "delivered", "pagerduty": "not_applicable"}
    assert step(7, "INSUFFICIENT_DATA", "OK") == {"slack": "delivered", "pagerduty": "delivered"}
    actions = [body["event_action"] for body in bench.pagerduty.bodies()]
    assert actions == ["trigger", "resolve", "trigger", "resolve"]
    headers = [body["blocks"][0]["text"]["text"] for body in bench.slack.bodies()]
    assert [h.split(":")[-2].strip().split()[-1] for h in headers] == [
        "INSUFFICIENT_DATA",
        "ALARM",
        "OK",
        "ALARM",
        "INSUFFICIENT_DATA",
        "OK",
    ]
