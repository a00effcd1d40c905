"""Alarm ledger items read and write exactly as the ledger wrote them with hand-built attributes.

``alarm_items_v1.json`` holds what that ledger put in a moto table, and the claims it answered, for the
transitions below (news, a retried message, a stale one, INSUFFICIENT_DATA between definite states, a
fractional StateChangeTime, a clock with a fraction): the ledger must keep writing those attributes and
answering those claims, or a relay deployed beside items already in the table would tell news apart
differently.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from mangaassist.alerting.notification import AlarmNotification
from mangaassist.alerting.transitions import DynamoTransitionLedger
from tests.conftest import dynamodb_client

pytestmark = pytest.mark.integration

WRITTEN_BEFORE = json.loads(Path(__file__).with_name("alarm_items_v1.json").read_text(encoding="utf-8"))

# (alarm, new state, StateChangeTime, SNS message id, the relay's clock)
TRANSITIONS = (
    ("OrderServiceAvailability", "ALARM", "2026-12-06T10:00:00.000+0000", "m-1", 1_796_551_200.5),
    ("OrderServiceAvailability", "ALARM", "2026-12-06T10:00:00.000+0000", "m-1", 1_796_551_201.25),  # retry
    ("OrderServiceAvailability", "OK", "2026-12-06T09:59:00.000+0000", "m-0", 1_796_551_202.0),  # stale
    ("OrderServiceAvailability", "INSUFFICIENT_DATA", "2026-12-06T10:05:00.000+0000", "m-2", 1_796_551_500.75),
    ("OrderServiceAvailability", "OK", "2026-12-06T10:10:00.000+0000", "m-3", 1_796_551_800.999),
    ("CatalogCircuitOpen", "OK", "2026-12-06T10:00:00.123+0000", "m-4", 1_796_551_200.0),
    ("CatalogCircuitOpen", "ALARM", "2026-12-06T10:00:00.123+0000", "m-5", 1_796_551_200.0),  # same ms, other id
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def scan(client, table) -> list[dict]:
    items = client.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def claim_every_transition(client, table) -> list[dict]:
    clock = Clock()
    ledger = DynamoTransitionLedger(table, client, memory_days=30, clock=clock)
    steps = []
    for alarm, state, moment, message_id, now in TRANSITIONS:
        clock.now = now
        notification = AlarmNotification.model_validate(
            {"AlarmName": alarm, "NewStateValue": state, "StateChangeTime": moment}
        )
        claim = ledger.claim(notification, message_id)
        steps.append({"claim": dataclasses.asdict(claim), "items": scan(client, table)})
    return steps


def test_the_ledger_writes_the_same_items_and_answers_the_same_claims(moto_server, state_table):
    assert claim_every_transition(dynamodb_client(moto_server.url), state_table) == WRITTEN_BEFORE


def test_items_written_before_answer_claims_as_they_did(moto_server, state_table):
    client = dynamodb_client(moto_server.url)
    for item in WRITTEN_BEFORE[-1]["items"]:
        client.put_item(TableName=state_table, Item=item)
    ledger = DynamoTransitionLedger(state_table, client, clock=lambda: 1_796_552_000.0)
    stale = AlarmNotification.model_validate(
        {"AlarmName": "OrderServiceAvailability", "NewStateValue": "ALARM", "StateChangeTime": "2026-12-06T10:01:00Z"}
    )
    claim = ledger.claim(stale, "m-6")
    assert (claim.is_news, claim.newer_change, claim.newer_state) == (False, "2026-12-06T10:10:00.000+0000", "OK")
    news = stale.model_copy(update={"state_change_time_raw": "2026-12-06T10:15:00.000+0000"})
    assert ledger.claim(news, "m-7").previous_definite_state == "OK"
