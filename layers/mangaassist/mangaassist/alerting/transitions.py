"""Remembers the newest transition relayed per alarm (state table, pk="alarms", sk=<AlarmName>).

SNS and Lambda's asynchronous retries do not keep order: an ALARM delivered after the OK that ended it would
re-open a resolved incident. A conditional write claims each transition; it succeeds only for a
StateChangeTime newer than the one recorded, or for the very same SNS message (a retry of a claim that
already won), so exactly one of two racing transitions is news.

The item also keeps the last *definite* state relayed (ALARM or OK, never INSUFFICIENT_DATA), so the relay
can tell a recovery from an alarm settling after a deploy: INSUFFICIENT_DATA -> OK of an alarm whose last
definite state was not ALARM recovers nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.alerting.notification import ALARM, OK, AlarmNotification
from mangaassist.dynamo import from_item, is_conditional_failure, to_item

ALARMS_PK = "alarms"


@dataclass(frozen=True)
class Claim:
    is_news: bool
    checked: bool = True  # False when the ledger could not be consulted and the transition is relayed anyway
    newer_change: str = ""  # when not news: the StateChangeTime already relayed
    newer_state: str = ""
    problem: str = ""
    # The last ALARM or OK relayed before this transition ("" for none yet: a new alarm, or an unchecked claim).
    previous_definite_state: str = ""


class DynamoTransitionLedger:
    def __init__(self, table_name: str, client: Any, memory_days: int = 30, clock: Callable[[], float] = time.time):
        self.table_name = table_name
        self.client = client
        self.memory_s = memory_days * 86400
        self.clock = clock

    def claim(self, notification: AlarmNotification, message_id: str) -> Claim:
        moment = notification.state_change_time
        if moment is None:
            # Nothing to order by: relaying a possibly stale message beats dropping a possibly fresh one.
            return Claim(is_news=True, checked=False, problem="no StateChangeTime")
        now = self.clock()
        definite = notification.new_state in (ALARM, OK)
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=to_item({"pk": ALARMS_PK, "sk": notification.alarm_name}),
                UpdateExpression=(
                    "SET last_change_ms = :t, last_change = :iso, last_state = :state, message_id = :mid, "
                    "relayed_at = :now, expires_at = :exp" + (", last_definite_state = :state" if definite else "")
                ),
                ConditionExpression=(
                    "attribute_not_exists(last_change_ms) OR last_change_ms < :t "
                    "OR (last_change_ms = :t AND message_id = :mid)"
                ),
                # Whole numbers: milliseconds of the change, seconds of the relay's clock (what TTL reads).
                ExpressionAttributeValues=to_item(
                    {
                        ":t": int(moment.timestamp() * 1000),
                        ":iso": notification.state_change_time_raw or moment.isoformat(),
                        ":state": notification.new_state,
                        ":mid": message_id,
                        ":now": int(now),
                        ":exp": int(now + self.memory_s),
                    }
                ),
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
                ReturnValues="ALL_OLD",
            )
        except ClientError as err:
            error = err.response.get("Error", {})
            if is_conditional_failure(err):
                old = from_item(err.response.get("Item") or {})
                return Claim(
                    is_news=False, newer_change=old.get("last_change", ""), newer_state=old.get("last_state", "")
                )
            return Claim(is_news=True, checked=False, problem=str(error.get("Code") or "ClientError"))
        except BotoCoreError as err:
            return Claim(is_news=True, checked=False, problem=type(err).__name__)
        old = from_item(response.get("Attributes") or {})
        return Claim(is_news=True, previous_definite_state=old.get("last_definite_state", ""))
