"""The local Slack and PagerDuty receivers: they record every request and answer exactly as configured."""

from __future__ import annotations

import json
import threading

import pytest
import requests

from local.receivers import CannedResponse, pagerduty_receiver, slack_receiver

pytestmark = pytest.mark.integration


def post(url: str, body: dict, timeout: float = 2.0) -> requests.Response:
    return requests.post(url, json=body, timeout=timeout)


def test_slack_receiver_answers_like_slack_and_records_each_request():
    with slack_receiver() as slack:
        first = post(f"{slack.url}/services/T1/B1/abc", {"text": "one"})
        slack.answer(400)
        second = post(f"{slack.url}/services/T1/B1/abc", {"text": "two"})

        assert (first.status_code, first.text) == (200, "ok")
        assert (second.status_code, second.text) == (400, "invalid_payload")
        assert [r.path for r in slack.requests] == ["/services/T1/B1/abc", "/services/T1/B1/abc"]
        assert slack.bodies() == [{"text": "one"}, {"text": "two"}]


def test_a_sequence_is_used_up_in_order_then_the_steady_answer_returns():
    with slack_receiver() as slack:
        slack.answer_sequence(429, 500)
        answers = [post(f"{slack.url}/hook", {"n": n}) for n in range(3)]

        assert [a.status_code for a in answers] == [429, 500, 200]
        assert answers[0].headers["Retry-After"] == "1"
        assert answers[0].text == "rate_limited"


def test_pagerduty_receiver_echoes_the_dedup_key_and_throttles_on_request():
    with pagerduty_receiver() as pager:
        accepted = post(f"{pager.url}/v2/enqueue", {"event_action": "trigger", "dedup_key": "arn:alarm:X"})
        pager.answer_sequence(429)
        throttled = post(f"{pager.url}/v2/enqueue", {"event_action": "trigger", "dedup_key": "arn:alarm:X"})

        assert accepted.status_code == 202
        assert accepted.json() == {"status": "success", "message": "Event processed", "dedup_key": "arn:alarm:X"}
        assert throttled.status_code == 429
        assert throttled.json()["status"] == "throttle event"


def test_a_delayed_answer_outlasts_a_short_client_timeout():
    with slack_receiver() as slack:
        slack.answer_sequence(CannedResponse(200, "ok", delay_s=0.6))
        with pytest.raises(requests.Timeout):
            post(f"{slack.url}/hook", {"late": True}, timeout=0.2)
        assert len(slack.wait_for(1)) == 1  # the request was still recorded


def test_concurrent_requests_are_all_recorded():
    with slack_receiver() as slack:
        threads = [threading.Thread(target=post, args=(f"{slack.url}/hook", {"n": n})) for n in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

        assert sorted(body["n"] for body in slack.bodies()) == list(range(16))


def test_stop_releases_the_port_and_url_is_unavailable_afterwards():
    slack = slack_receiver().start()
    url = slack.url
    slack.stop()

    with pytest.raises(requests.ConnectionError):
        requests.post(f"{url}/hook", data=json.dumps({}), timeout=1)
    with pytest.raises(RuntimeError):
        _ = slack.url
