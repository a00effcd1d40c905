"""Reading and writing health summaries and both banners in the state table (the layout is in ``items``).

Concurrency: a summary is derived from its history, so the two must change together. Every write of a
health item is a PutItem conditioned on the ``version`` the writer read (optimistic concurrency); on
a conflict DynamoDB hands back the item that won (ReturnValuesOnConditionCheckFailure) and the writer
merges its ping into that and tries again. Two overlapping invocations therefore both land their
pings, in time order, and no one ever sees a history that disagrees with its summary. (``list_append``
alone could not trim the list and recompute the summary in the same atomic step.)
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.downstream.models import PingResult
from mangaassist.dynamo import is_conditional_failure, to_item
from mangaassist.health import items
from mangaassist.health.banners import OPERATOR_BANNER_SK, BannerInputError, Banners, OperatorBanner
from mangaassist.health.items import BANNER_SK, FLAGS_PK, HEALTH_PK
from mangaassist.health.models import Banner, HealthStoreError, ServiceHealth
from mangaassist.health.status_rules import merge_ping
from mangaassist.registry import REGISTRY, ServiceSpec

HEALTH_TTL_S = 24 * 3600  # a service nobody pings any more disappears from the table after a day
BANNER_TTL_S = 3600  # refreshed every minute while active, so a banner outlives a dead pinger by an hour at most
MAX_WRITE_ATTEMPTS = 10
RETRY_BACKOFF_S = 0.01  # jittered, times the attempt number: contending writers spread out instead of colliding again


class HealthStorage(Protocol):
    """What the pinger and `/status` need; HealthStore (DynamoDB) provides it, tests/fakes an in-memory one."""

    def load_all(self, consistent: bool = False) -> dict[str, ServiceHealth]: ...

    def record(self, results: Iterable[PingResult], now: float | None = None) -> dict[str, ServiceHealth]: ...

    def get_banner(self) -> Banner | None: ...

    def set_banner(self, banner: Banner) -> Banner: ...

    def clear_banner(self) -> bool: ...

    def load_banners(self) -> Banners: ...


class HealthStore:
    """Reads and writes the "health" and "flags" partitions through a low-level DynamoDB client.

    The caller configures the client (timeouts, retries): the pinger uses the patient background client,
    the chat its tight hot-path one.
    """

    def __init__(
        self,
        table_name: str,
        client: Any,
        *,
        registry: Mapping[str, ServiceSpec] = REGISTRY,
        clock: Callable[[], float] = time.time,
    ):
        self.table_name = table_name
        self.client = client
        self.registry = registry
        self.clock = clock

    def _expired(self, item: dict[str, Any]) -> bool:
        # DynamoDB deletes expired items lazily (up to days later); readers must not trust them meanwhile.
        expires_at = items.expires_at(item)
        return expires_at is not None and expires_at <= self.clock()

    # ------------------------------------------------------------ health summaries

    def load_all(self, consistent: bool = False) -> dict[str, ServiceHealth]:
        """Every service's health in one Query; services never pinged (or expired) are absent."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": HEALTH_PK}),
            "ConsistentRead": consistent,
        }
        found: dict[str, ServiceHealth] = {}
        try:
            while True:
                page = self.client.query(**kwargs)
                for item in page.get("Items", []):
                    if not self._expired(item):
                        health = items.health_from_item(item)
                        found[health.service] = health
                if "LastEvaluatedKey" not in page:
                    return found
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err

    def record(self, results: Iterable[PingResult], now: float | None = None) -> dict[str, ServiceHealth]:
        """Add one ping per service to its history; returns the summaries as written."""
        now = self.clock() if now is None else now
        results = list(results)
        known = self.load_all(consistent=True) if results else {}
        return {r.service: self._record_one(r, known.get(r.service), now) for r in results}

    def _record_one(self, result: PingResult, previous: ServiceHealth | None, now: float) -> ServiceHealth:
        spec = self.registry[result.service]
        for attempt in range(MAX_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(random.uniform(0, RETRY_BACKOFF_S * attempt))
            merged = merge_ping(previous, result, spec)
            try:
                return self._put_health(merged, expected_version=previous.version if previous else None, now=now)
            except ClientError as err:
                if not is_conditional_failure(err):
                    raise HealthStoreError(str(err)) from err
                item = err.response.get("Item")
                previous = items.health_from_item(item) if item else None
            except BotoCoreError as err:
                raise HealthStoreError(str(err)) from err
        raise HealthStoreError(f"health of {result.service} kept changing under {MAX_WRITE_ATTEMPTS} writers")

    def _put_health(self, health: ServiceHealth, expected_version: int | None, now: float) -> ServiceHealth:
        written = replace(health, version=(expected_version or 0) + 1)
        if expected_version is None:
            condition = "attribute_not_exists(pk)"
            values: dict[str, Any] = {}
        else:
            condition = "#v = :expected"
            values = to_item({":expected": expected_version})
        self.client.put_item(
            TableName=self.table_name,
            Item=items.health_to_item(written, expires_at=int(now + HEALTH_TTL_S)),
            ConditionExpression=condition,
            **({"ExpressionAttributeNames": {"#v": "version"}} if values else {}),
            **({"ExpressionAttributeValues": values} if values else {}),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return written

    # ------------------------------------------------------------ maintenance banner

    def get_banner(self) -> Banner | None:
        """The banner item (active or cleared), or None if there is none or it expired."""
        try:
            response = self.client.get_item(TableName=self.table_name, Key=items.key(FLAGS_PK, BANNER_SK))
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        item = response.get("Item")
        if not item or self._expired(item):
            return None
        return items.banner_from_item(item)

    def set_banner(self, banner: Banner) -> Banner:
        """Activate ``banner`` (or refresh its TTL if one is already active); returns what is stored.

        An active banner keeps its original ``since`` and texts, so overlapping invocations cannot make
        the outage look younger than it is.
        """
        now = self.clock()
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=items.key(FLAGS_PK, BANNER_SK),
                UpdateExpression=(
                    "SET active = :true, expires_at = :exp, updated_at = :now, "
                    "message_en = if_not_exists(message_en, :en), message_ja = if_not_exists(message_ja, :ja), "
                    "since = if_not_exists(since, :since), reason = if_not_exists(reason, :reason)"
                ),
                # An active banner whose TTL passed is history awaiting deletion, not the current outage.
                ConditionExpression="active = :true AND expires_at > :now",
                ExpressionAttributeValues=to_item(
                    {
                        ":true": True,
                        ":exp": int(now + BANNER_TTL_S),
                        ":now": float(now),
                        ":en": banner.message_en,
                        ":ja": banner.message_ja,
                        ":since": float(banner.since),
                        ":reason": banner.reason,
                    }
                ),
                ReturnValues="ALL_NEW",
            )
            return items.banner_from_item(response["Attributes"])
        except ClientError as err:
            if not is_conditional_failure(err):
                raise HealthStoreError(str(err)) from err
        except BotoCoreError as err:
            raise HealthStoreError(str(err)) from err
        # No active banner yet: write this one whole (a racing writer's identical banner is just as good).
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=items.banner_to_item(banner, updated_at=now, expires_at=int(now + BANNER_TTL_S)),
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        return replace(banner, active=True)

    def clear_banner(self) -> bool:
        """Deactivate the banner; True if one was active. The cleared item stays a day for the record."""
        now = self.clock()
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=items.key(FLAGS_PK, BANNER_SK),
                UpdateExpression="SET active = :false, cleared_at = :now, updated_at = :now, expires_at = :exp",
                ConditionExpression="active = :true",
                ExpressionAttributeValues=to_item(
                    {":true": True, ":false": False, ":now": float(now), ":exp": int(now + HEALTH_TTL_S)}
                ),
            )
        except ClientError as err:
            if is_conditional_failure(err):
                return False
            raise HealthStoreError(str(err)) from err
        except BotoCoreError as err:
            raise HealthStoreError(str(err)) from err
        return True

    # ------------------------------------------------------------ both banners, and the operator's

    def load_banners(self) -> Banners:
        """The pinger's banner and the operator's in one Query of the "flags" partition; expired ones absent."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": FLAGS_PK}),
        }
        automatic = operator = None
        try:
            while True:
                page = self.client.query(**kwargs)
                for item in page.get("Items", []):
                    if self._expired(item):
                        continue
                    if item["sk"]["S"] == BANNER_SK:
                        automatic = items.banner_from_item(item)
                    elif item["sk"]["S"] == OPERATOR_BANNER_SK:
                        operator = items.operator_banner_from_item(item)
                if "LastEvaluatedKey" not in page:
                    return Banners(automatic=automatic, operator=operator)
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err

    def get_operator_banner(self) -> OperatorBanner | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key=items.key(FLAGS_PK, OPERATOR_BANNER_SK), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        item = response.get("Item")
        if not item or self._expired(item):
            return None
        return items.operator_banner_from_item(item)

    def put_operator_banner(self, banner: OperatorBanner) -> OperatorBanner | None:
        """Post ``banner`` in place of any earlier one; returns the one it replaced if that was still up.

        The rules are checked again against this store's clock, so no caller can write a banner that
        breaks them (BannerInputError, nothing written).
        """
        problems = banner.problems(self.clock())
        if problems:
            raise BannerInputError(problems)
        try:
            response = self.client.put_item(
                TableName=self.table_name, Item=items.operator_banner_to_item(banner), ReturnValues="ALL_OLD"
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        old = response.get("Attributes")
        return items.operator_banner_from_item(old) if old and not self._expired(old) else None

    def clear_operator_banner(self) -> OperatorBanner | None:
        """Take the operator's banner down; returns it if it was still up. The pinger's banner is not touched."""
        try:
            response = self.client.delete_item(
                TableName=self.table_name, Key=items.key(FLAGS_PK, OPERATOR_BANNER_SK), ReturnValues="ALL_OLD"
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        old = response.get("Attributes")
        return items.operator_banner_from_item(old) if old and not self._expired(old) else None
