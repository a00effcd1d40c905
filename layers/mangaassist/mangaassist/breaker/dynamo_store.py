"""DynamoDB adapter for the circuit store: one item per circuit, all in the "circuits" partition.

With ``read_copies`` > 1, every transition and override is also written, in the same transaction, to that
many read copies ("circuits#0", "circuits#1", ...: other partition keys, so other partitions once the table
has split them), and each environment reads one copy instead of "circuits". The copies carry every field
but the failure count: counting (ADD) and its return value stay on "circuits", which nobody Queries then.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, ReadTimeoutError

from mangaassist.breaker.model import CircuitRecord, CircuitState, Override
from mangaassist.breaker.store import (
    CircuitStore,
    LostRaceError,
    NotClosedError,
    StateStoreError,
    with_known_counts,
)
from mangaassist.dynamo import from_item, is_conditional_failure, to_attribute, to_item
from mangaassist.registry import STATE_CIRCUITS_PK

# Attributes a transition owns; the override and the failure map are written elsewhere.
_TRANSITION_FIELDS = (
    "state",
    "opened_at",
    "open_until",
    "reopen_count",
    "probe_owner",
    "lease_until",
    "probe_successes",
    "reason",
    "updated_at",
)


def _to_record(item: Mapping[str, Any]) -> CircuitRecord:
    values = from_item(item)
    return CircuitRecord(
        service=values["sk"],
        state=CircuitState(values.get("state", "CLOSED")),
        version=int(values.get("version", 0)),
        failure_buckets={int(k): int(n) for k, n in values.get("fb", {}).items()},
        opened_at=float(values.get("opened_at", 0)),
        open_until=float(values.get("open_until", 0)),
        reopen_count=int(values.get("reopen_count", 0)),
        probe_owner=values.get("probe_owner", ""),
        lease_until=float(values.get("lease_until", 0)),
        probe_successes=int(values.get("probe_successes", 0)),
        override=Override(values.get("override", Override.NONE.value)),
        reason=values.get("reason", ""),
        updated_at=float(values.get("updated_at", 0)),
    )


def _attr(value: Any) -> dict[str, Any]:
    # The enums are str subclasses the serializer would pass through as they are; the item holds their value.
    return to_attribute(value.value if isinstance(value, CircuitState | Override) else value)


# Eventually consistent: half the read capacity of a strongly consistent Query, which at thousands of
# environments is the difference between one partition coping or throttling (bench/fleet_sim). A stale
# read is safe here: every write is conditional, so a snapshot a few milliseconds old costs at most a
# lost race, never a wrong transition or a lost count.
DEFAULT_CONSISTENT_READ = False


class _ItemMissingError(Exception):
    """The circuit's item is gone although this environment had seen it."""


class DynamoCircuitStore(CircuitStore):
    """Talks to the state table through a low-level client the caller configured (timeouts, retries)."""

    def __init__(
        self,
        table_name: str,
        client: Any,
        *,
        consistent_read: bool = DEFAULT_CONSISTENT_READ,
        read_copies: int = 1,
        copy: int | None = None,
    ):
        self.table_name = table_name
        self.client = client
        self.consistent_read = consistent_read
        self.read_copies = max(1, read_copies)
        # Environments pick their copy at random: the copies' partitions share the fleet's reads evenly.
        self.copy = random.randrange(self.read_copies) if copy is None else copy % self.read_copies
        self._known: set[str] = set()  # circuits whose item this environment knows exists
        self._counts: dict[str, CircuitRecord] = {}  # the last "circuits" item each count write returned

    def _key(self, service: str, pk: str = STATE_CIRCUITS_PK) -> dict[str, dict[str, str]]:
        return to_item({"pk": pk, "sk": service})

    def _copy_pks(self) -> list[str]:
        return [copy_pk(i) for i in range(self.read_copies)] if self.read_copies > 1 else []

    def load_all(self) -> dict[str, CircuitRecord]:
        records = self._query(copy_pk(self.copy) if self.read_copies > 1 else STATE_CIRCUITS_PK)
        return with_known_counts(records, self._counts) if self.read_copies > 1 else records

    def _query(self, pk: str) -> dict[str, CircuitRecord]:
        records: dict[str, CircuitRecord] = {}
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": _attr(pk)},
            "ConsistentRead": self.consistent_read,
        }
        try:
            while True:
                page = self.client.query(**kwargs)
                for item in page.get("Items", []):
                    record = _to_record(item)
                    records[record.service] = record
                    # Seen items need no creating PutItem before the first ADD: at an outage's start every
                    # environment's first failure would otherwise cost the hot item two writes, not one.
                    self._known.add(record.service)
                if "LastEvaluatedKey" not in page:
                    return records
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as err:
            raise StateStoreError(str(err)) from err

    def _counted(self, rec: CircuitRecord) -> CircuitRecord:
        self._counts[rec.service] = rec
        return rec

    def add_failure(self, service: str, bucket: int, stale_buckets: list[int], now: float) -> CircuitRecord:
        return self.merge_failures(service, {bucket: 1}, stale_buckets, now)

    def merge_failures(
        self, service: str, buckets: dict[int, int], stale_buckets: list[int], now: float
    ) -> CircuitRecord:
        try:
            return self._counted(self._add_failures(service, buckets, stale_buckets, now))
        except _ItemMissingError:
            # The item this environment knew of was deleted (an operator reset): create it and count again.
            self._known.discard(service)
            try:
                return self._counted(self._add_failures(service, buckets, stale_buckets, now))
            except _ItemMissingError as err:
                raise StateStoreError(f"circuit item {service} could not be created") from err

    def _add_failures(
        self, service: str, buckets: dict[int, int], stale_buckets: list[int], now: float
    ) -> CircuitRecord:
        names = {"#state": "state"}
        values = {":closed": _attr(CircuitState.CLOSED)}
        adds = []
        # One failure keeps the expression (and so the request) of every count write before merging existed.
        for i, (bucket, n) in enumerate(sorted(buckets.items())):
            name, value = ("#b", ":one") if len(buckets) == 1 and n == 1 else (f"#b{i}", f":n{i}")
            names[name] = str(bucket)
            values[value] = _attr(n)
            adds.append(f"fb.{name} {value}")
        remove = []
        for i, stale in enumerate(stale_buckets):
            names[f"#s{i}"] = str(stale)
            remove.append(f"fb.#s{i}")
        expression = "ADD " + ", ".join(adds)
        if remove:
            expression += " REMOVE " + ", ".join(remove)
        try:
            self._ensure_item(service, now)
            response = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(service),
                UpdateExpression=expression,
                ConditionExpression="#state = :closed",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if is_conditional_failure(err) and "Item" in err.response:
                raise NotClosedError(_to_record(err.response["Item"])) from err
            if is_conditional_failure(err) or err.response.get("Error", {}).get("Code") == "ValidationException":
                # No item (the condition on state fails) or no failure map to ADD into.
                raise _ItemMissingError from err
            raise StateStoreError(str(err)) from err
        except BotoCoreError as err:
            raise StateStoreError(str(err), may_have_landed=isinstance(err, ReadTimeoutError)) from err
        return _to_record(response["Attributes"])

    def _ensure_item(self, service: str, now: float) -> None:
        """Create the circuit's item on first use; the nested ADD needs its map to exist."""
        if service in self._known:
            return
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=to_item(
                    {
                        "pk": STATE_CIRCUITS_PK,
                        "sk": service,
                        "state": CircuitState.CLOSED.value,
                        "version": 0,
                        "fb": {},
                        "override": Override.NONE.value,
                        "updated_at": now,
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as err:
            if not is_conditional_failure(err):
                raise
        self._known.add(service)

    def compare_and_set(self, expected_version: int, new: CircuitRecord) -> CircuitRecord:
        names = {f"#{f}": f for f in _TRANSITION_FIELDS}
        names["#version"] = "version"
        values = {f":{f}": _attr(getattr(new, f)) for f in _TRANSITION_FIELDS}
        values[":expected"] = _attr(expected_version)
        values[":next"] = _attr(expected_version + 1)
        values[":empty"] = _attr({})
        sets = [f"#{f} = :{f}" for f in _TRANSITION_FIELDS] + ["#version = :next"]
        # Every transition starts a fresh failure window: counts from before it are history.
        sets.append("fb = :empty")
        condition = "#version = :expected"
        if expected_version == 0:
            condition = "attribute_not_exists(#version) OR #version = :expected"
        if self.read_copies > 1:
            return self._transact_transition(expected_version, new, names, values, sets, condition)
        record = self._conditional_update(new.service, "SET " + ", ".join(sets), condition, names, values)
        self._known.add(new.service)
        return record

    def withdraw_failures(self, service: str, expected_version: int, buckets: dict[int, int]) -> CircuitRecord:
        names = {"#state": "state", "#version": "version"}
        values = {":closed": _attr(CircuitState.CLOSED), ":v": _attr(expected_version)}
        adds, exists = [], []
        for i, (bucket, n) in enumerate(sorted(buckets.items())):
            names[f"#b{i}"] = str(bucket)
            values[f":m{i}"] = _attr(-n)
            adds.append(f"fb.#b{i} :m{i}")
            # A bucket another environment already pruned must not come back as a negative count.
            exists.append(f"attribute_exists(fb.#b{i})")
        condition = " AND ".join(["#state = :closed", "#version = :v", *exists])
        return self._counted(self._conditional_update(service, "ADD " + ", ".join(adds), condition, names, values))

    def _conditional_update(self, service: str, update: str, condition: str, names, values) -> CircuitRecord:
        """One conditional UpdateItem on the circuits item; a refused condition is a lost race, with the item."""
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(service),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as err:
            if is_conditional_failure(err):
                item = err.response.get("Item")
                raise LostRaceError(_to_record(item) if item else None) from err
            raise StateStoreError(str(err)) from err
        except BotoCoreError as err:
            raise StateStoreError(str(err)) from err
        return _to_record(response["Attributes"])

    def _transact_transition(
        self, expected_version: int, new: CircuitRecord, names, values, sets, condition
    ) -> CircuitRecord:
        """The transition on "circuits" and on every copy at once: a copy is never behind nor ahead."""
        primary = {
            "Update": {
                "TableName": self.table_name,
                "Key": self._key(new.service),
                "UpdateExpression": "SET " + ", ".join(sets),
                "ConditionExpression": condition,
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }
        }
        copy_names = {k: v for k, v in names.items()}
        copy_names["#override"] = "override"
        copy_values = {k: v for k, v in values.items() if k not in (":expected", ":empty")}
        copy_values[":none"] = _attr(Override.NONE)
        copy_sets = [x for x in sets if not x.startswith("fb ")] + ["#override = if_not_exists(#override, :none)"]
        copies = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": self._key(new.service, pk),
                    "UpdateExpression": "SET " + ", ".join(copy_sets),
                    "ExpressionAttributeNames": copy_names,
                    "ExpressionAttributeValues": copy_values,
                }
            }
            for pk in self._copy_pks()
        ]
        try:
            self.client.transact_write_items(TransactItems=[primary, *copies])
        except ClientError as err:
            self._lost_race(err)
            raise StateStoreError(str(err)) from err
        except BotoCoreError as err:
            raise StateStoreError(str(err)) from err
        self._known.add(new.service)
        version = expected_version + 1
        return new.with_changes(version=version, failure_buckets={})

    @staticmethod
    def _lost_race(err: ClientError) -> None:
        """A cancelled transaction whose condition failed (or that met another writer's) lost the race."""
        if err.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            return
        reasons = err.response.get("CancellationReasons") or []
        codes = {r.get("Code") for r in reasons}
        if "ConditionalCheckFailed" in codes:
            item = next((r.get("Item") for r in reasons if r.get("Code") == "ConditionalCheckFailed"), None)
            raise LostRaceError(_to_record(item) if item else None) from err
        if "TransactionConflict" in codes:
            raise LostRaceError(None) from err

    def set_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        if self.read_copies > 1:
            return self._transact_override(service, override, now)
        try:
            self._ensure_item(service, now)
            response = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(service),
                UpdateExpression="SET #o = :o, updated_at = :now",
                ExpressionAttributeNames={"#o": "override"},
                ExpressionAttributeValues={":o": _attr(override), ":now": _attr(now)},
                ReturnValues="ALL_NEW",
            )
        except (ClientError, BotoCoreError) as err:
            raise StateStoreError(str(err)) from err
        return _to_record(response["Attributes"])

    def _transact_override(self, service: str, override: Override, now: float) -> CircuitRecord:
        try:
            self._ensure_item(service, now)
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table_name,
                            "Key": self._key(service, pk),
                            "UpdateExpression": "SET #o = :o, updated_at = :now",
                            "ExpressionAttributeNames": {"#o": "override"},
                            "ExpressionAttributeValues": {":o": _attr(override), ":now": _attr(now)},
                        }
                    }
                    for pk in [STATE_CIRCUITS_PK, *self._copy_pks()]
                ]
            )
            item = self.client.get_item(TableName=self.table_name, Key=self._key(service), ConsistentRead=True)
        except (ClientError, BotoCoreError) as err:
            raise StateStoreError(str(err)) from err
        return _to_record(item["Item"])


def copy_pk(i: int) -> str:
    return f"{STATE_CIRCUITS_PK}#{i}"
