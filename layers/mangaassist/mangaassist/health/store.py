"""Health-ping results, per-service health summaries and the maintenance banner in the state table.

Items (all carry the TTL attribute ``expires_at``):
- pk="health" sk=<service>: the summary `/status` shows (status, latency, error rate, consecutive
  failures, when the current failure streak began) plus the last ``HISTORY_LENGTH`` pings.
- pk="flags" sk="banner": the maintenance banner the chat shows while the LLM is down.
- pk="flags" sk="operator_banner": the banner on-call posts (``banners.OperatorBanner``); its TTL is its expiry.

Concurrency: a summary is derived from its history, so the two must change together. Every write of a
health item is a PutItem conditioned on the ``version`` the writer read (optimistic concurrency); on
a conflict DynamoDB hands back the item that won (ReturnValuesOnConditionCheckFailure) and the writer
merges its ping into that and tries again. Two overlapping invocations therefore both land their
pings, in time order, and no one ever sees a history that disagrees with its summary. (``list_append``
alone could not trim the list and recompute the summary in the same atomic step.)
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.breaker.failure import FailureKind
from mangaassist.downstream.models import PingResult
from mangaassist.dynamo import is_conditional_failure
from mangaassist.health.banners import OPERATOR_BANNER_SK, BannerInputError, Banners, OperatorBanner
from mangaassist.health.status import ServiceStatus
from mangaassist.registry import REGISTRY, ServiceSpec

HEALTH_PK = "health"
FLAGS_PK = "flags"
BANNER_SK = "banner"

HISTORY_LENGTH = 10  # one ping a minute: the error rate covers the last ten minutes
LATENCY_WINDOW = 3  # median of the last three successful pings: one slow blip does not flip to warn
WARN_ERROR_RATE = 0.05  # the design's dashboard shows a service at 5 % errors as WARN
HEALTH_TTL_S = 24 * 3600  # a service nobody pings any more disappears from the table after a day
BANNER_TTL_S = 3600  # refreshed every minute while active, so a banner outlives a dead pinger by an hour at most
STALE_AFTER_S = 180  # three missed pings: `/status` should say "unknown" rather than trust old news
MAX_WRITE_ATTEMPTS = 10
RETRY_BACKOFF_S = 0.01  # jittered, times the attempt number: contending writers spread out instead of colliding again


class HealthStoreError(Exception):
    """The state table could not be read or written."""


@dataclass(frozen=True)
class ServiceHealth:
    """What `/status` shows for one service (the design's health dashboard row)."""

    service: str
    status: ServiceStatus
    latency_ms: float | None  # median of the last successful pings (None if none succeeded recently)
    error_rate: float  # failed share of the recent history, 0..1
    checked_at: float  # when the newest ping in the history started
    consecutive_failures: int
    history: tuple[PingResult, ...] = field(default_factory=tuple)  # oldest first, at most HISTORY_LENGTH
    failing_since: float | None = None  # start of the current failure streak, None while the last ping is ok
    version: int = 0  # bumped on every write; writes are conditional on it

    def is_stale(self, now: float, max_age_s: float = STALE_AFTER_S) -> bool:
        return now - self.checked_at > max_age_s


@dataclass(frozen=True)
class Banner:
    """The maintenance banner; the chat shows it while ``active`` is true."""

    active: bool
    message_en: str
    message_ja: str
    since: float  # when the outage it announces began
    reason: str = ""


# ---------------------------------------------------------------- the status rule


def error_rate(history: Sequence[PingResult]) -> float:
    if not history:
        return 0.0
    return sum(1 for r in history if not r.ok) / len(history)


def typical_latency_ms(history: Sequence[PingResult]) -> float | None:
    answered = [r.latency_ms for r in history if r.ok and r.latency_ms is not None]
    if not answered:
        return None
    return float(statistics.median(answered[-LATENCY_WINDOW:]))


def health_status(spec: ServiceSpec, history: Sequence[PingResult], consecutive_failures: int) -> ServiceStatus:
    """The one status rule, applied in this order:

    - ``unknown``: no ping recorded yet;
    - ``down``: the last ``spec.ping_failures_to_open`` pings all failed (the same count that opens the
      circuit fleet-wide, so "down" on /status and an open circuit mean the same thing);
    - ``warn``: failing right now but not yet down, or flaky (error rate over the history at or above
      ``WARN_ERROR_RATE``), or slow (typical latency above ``spec.slow_call_ms``, the threshold at which
      the breaker counts a successful call as a failure);
    - ``ok`` otherwise.
    """
    if not history:
        return ServiceStatus.UNKNOWN
    if consecutive_failures >= spec.ping_failures_to_open:
        return ServiceStatus.DOWN
    if consecutive_failures > 0 or error_rate(history) >= WARN_ERROR_RATE:
        return ServiceStatus.WARN
    latency = typical_latency_ms(history)
    if latency is not None and latency > spec.slow_call_ms:
        return ServiceStatus.WARN
    return ServiceStatus.OK


def merge_ping(previous: ServiceHealth | None, result: PingResult, spec: ServiceSpec) -> ServiceHealth:
    """``previous`` with one more ping: history kept in time order and trimmed, summary recomputed.

    The failure streak is read off the time-ordered history, so a ping from an overlapping invocation
    that lands late still counts in its place. Only when every ping in the (bounded) history failed
    does the streak carry on from the stored count, which is how it can outgrow the history.
    """
    history = sorted([*(previous.history if previous else ()), result], key=lambda r: r.at)[-HISTORY_LENGTH:]
    trailing = 0
    for ping in reversed(history):
        if ping.ok:
            break
        trailing += 1
    if trailing < len(history):
        consecutive = trailing
        failing_since = history[-trailing].at if trailing else None
    else:
        carried = previous.consecutive_failures if previous else 0
        consecutive = max(trailing, carried + (0 if result.ok else 1))
        earlier = previous.failing_since if previous and previous.failing_since is not None else history[0].at
        failing_since = min(earlier, history[0].at)
    return ServiceHealth(
        service=result.service,
        status=health_status(spec, history, consecutive),
        latency_ms=typical_latency_ms(history),
        error_rate=round(error_rate(history), 4),
        checked_at=history[-1].at,
        consecutive_failures=consecutive,
        history=tuple(history),
        failing_since=failing_since,
        version=previous.version if previous else 0,
    )


# ---------------------------------------------------------------- DynamoDB encoding


def _n(value: float | int) -> dict[str, str]:
    return {"N": repr(round(float(value), 3)) if isinstance(value, float) else str(value)}


def _opt_n(value: float | int | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else _n(value)


def _opt_s(value: str | None) -> dict[str, Any]:
    return {"NULL": True} if value is None else {"S": value}


def _read_n(attr: dict[str, Any] | None) -> float | None:
    if not attr or "N" not in attr:
        return None
    return float(Decimal(attr["N"]))


def _ping_to_attr(result: PingResult) -> dict[str, Any]:
    return {
        "M": {
            "ok": {"BOOL": result.ok},
            "latency_ms": _opt_n(result.latency_ms),
            "status_code": _opt_n(result.status_code),
            "failure": _opt_s(result.failure.value if result.failure else None),
            # Only for people; the name predates `failure` and is kept so older readers still find it.
            "error_class": _opt_s(result.detail or None),
            "at": _n(result.at),
        }
    }


def _ping_from_attr(service: str, attr: dict[str, Any]) -> PingResult:
    m = attr["M"]
    code = _read_n(m.get("status_code"))
    return PingResult(
        service=service,
        ok=m["ok"]["BOOL"],
        latency_ms=_read_n(m.get("latency_ms")),
        status_code=int(code) if code is not None else None,
        failure=FailureKind(m["failure"]["S"]) if "S" in m.get("failure", {}) else None,
        at=_read_n(m.get("at")) or 0.0,
        detail=m.get("error_class", {}).get("S", ""),
    )


def _health_from_item(item: dict[str, Any]) -> ServiceHealth:
    service = item["sk"]["S"]
    history = tuple(_ping_from_attr(service, a) for a in item.get("history", {}).get("L", []))
    return ServiceHealth(
        service=service,
        status=ServiceStatus(item.get("status", {}).get("S", ServiceStatus.UNKNOWN)),
        latency_ms=_read_n(item.get("latency_ms")),
        error_rate=_read_n(item.get("error_rate")) or 0.0,
        checked_at=_read_n(item.get("checked_at")) or 0.0,
        consecutive_failures=int(_read_n(item.get("consecutive_failures")) or 0),
        history=history,
        failing_since=_read_n(item.get("failing_since")),
        version=int(_read_n(item.get("version")) or 0),
    )


def _banner_from_item(item: dict[str, Any]) -> Banner:
    return Banner(
        active=item.get("active", {}).get("BOOL", False),
        message_en=item.get("message_en", {}).get("S", ""),
        message_ja=item.get("message_ja", {}).get("S", ""),
        since=_read_n(item.get("since")) or 0.0,
        reason=item.get("reason", {}).get("S", ""),
    )


def _operator_banner_from_item(item: dict[str, Any]) -> OperatorBanner:
    return OperatorBanner(
        message_en=item.get("message_en", {}).get("S", ""),
        message_ja=item.get("message_ja", {}).get("S", ""),
        reason=item.get("reason", {}).get("S", ""),
        expires_at=_read_n(item.get("expires_at")) or 0.0,
        posted_at=_read_n(item.get("posted_at")) or 0.0,
        posted_by=item.get("posted_by", {}).get("S", ""),
    )


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
        registry: dict[str, ServiceSpec] = REGISTRY,
        clock: Callable[[], float] = time.time,
    ):
        self.table_name = table_name
        self.client = client
        self.registry = registry
        self.clock = clock

    def _key(self, pk: str, sk: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": pk}, "sk": {"S": sk}}

    def _expired(self, item: dict[str, Any]) -> bool:
        # DynamoDB deletes expired items lazily (up to days later); readers must not trust them meanwhile.
        expires_at = _read_n(item.get("expires_at"))
        return expires_at is not None and expires_at <= self.clock()

    # ------------------------------------------------------------ health summaries

    def load_all(self, consistent: bool = False) -> dict[str, ServiceHealth]:
        """Every service's health in one Query; services never pinged (or expired) are absent."""
        kwargs: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": HEALTH_PK}},
            "ConsistentRead": consistent,
        }
        found: dict[str, ServiceHealth] = {}
        try:
            while True:
                page = self.client.query(**kwargs)
                for item in page.get("Items", []):
                    if not self._expired(item):
                        health = _health_from_item(item)
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
                previous = _health_from_item(item) if item else None
            except BotoCoreError as err:
                raise HealthStoreError(str(err)) from err
        raise HealthStoreError(f"health of {result.service} kept changing under {MAX_WRITE_ATTEMPTS} writers")

    def _put_health(self, health: ServiceHealth, expected_version: int | None, now: float) -> ServiceHealth:
        written = replace(health, version=(expected_version or 0) + 1)
        item = {
            **self._key(HEALTH_PK, health.service),
            "status": {"S": written.status.value},
            "latency_ms": _opt_n(written.latency_ms),
            "error_rate": _n(float(written.error_rate)),
            "checked_at": _n(float(written.checked_at)),
            "consecutive_failures": _n(written.consecutive_failures),
            "failing_since": _opt_n(written.failing_since),
            "history": {"L": [_ping_to_attr(r) for r in written.history]},
            "version": _n(written.version),
            "expires_at": _n(int(now + HEALTH_TTL_S)),
        }
        if expected_version is None:
            condition = "attribute_not_exists(pk)"
            values: dict[str, Any] = {}
        else:
            condition = "#v = :expected"
            values = {":expected": _n(expected_version)}
        self.client.put_item(
            TableName=self.table_name,
            Item=item,
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
            response = self.client.get_item(TableName=self.table_name, Key=self._key(FLAGS_PK, BANNER_SK))
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        item = response.get("Item")
        if not item or self._expired(item):
            return None
        return _banner_from_item(item)

    def set_banner(self, banner: Banner) -> Banner:
        """Activate ``banner`` (or refresh its TTL if one is already active); returns what is stored.

        An active banner keeps its original ``since`` and texts, so overlapping invocations cannot make
        the outage look younger than it is.
        """
        now = self.clock()
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key=self._key(FLAGS_PK, BANNER_SK),
                UpdateExpression=(
                    "SET active = :true, expires_at = :exp, updated_at = :now, "
                    "message_en = if_not_exists(message_en, :en), message_ja = if_not_exists(message_ja, :ja), "
                    "since = if_not_exists(since, :since), reason = if_not_exists(reason, :reason)"
                ),
                # An active banner whose TTL passed is history awaiting deletion, not the current outage.
                ConditionExpression="active = :true AND expires_at > :now",
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":exp": _n(int(now + BANNER_TTL_S)),
                    ":now": _n(float(now)),
                    ":en": {"S": banner.message_en},
                    ":ja": {"S": banner.message_ja},
                    ":since": _n(float(banner.since)),
                    ":reason": {"S": banner.reason},
                },
                ReturnValues="ALL_NEW",
            )
            return _banner_from_item(response["Attributes"])
        except ClientError as err:
            if not is_conditional_failure(err):
                raise HealthStoreError(str(err)) from err
        except BotoCoreError as err:
            raise HealthStoreError(str(err)) from err
        # No active banner yet: write this one whole (a racing writer's identical banner is just as good).
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    **self._key(FLAGS_PK, BANNER_SK),
                    "active": {"BOOL": True},
                    "message_en": {"S": banner.message_en},
                    "message_ja": {"S": banner.message_ja},
                    "since": _n(float(banner.since)),
                    "reason": {"S": banner.reason},
                    "updated_at": _n(float(now)),
                    "expires_at": _n(int(now + BANNER_TTL_S)),
                },
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
                Key=self._key(FLAGS_PK, BANNER_SK),
                UpdateExpression="SET active = :false, cleared_at = :now, updated_at = :now, expires_at = :exp",
                ConditionExpression="active = :true",
                ExpressionAttributeValues={
                    ":true": {"BOOL": True},
                    ":false": {"BOOL": False},
                    ":now": _n(float(now)),
                    ":exp": _n(int(now + HEALTH_TTL_S)),
                },
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
            "ExpressionAttributeValues": {":pk": {"S": FLAGS_PK}},
        }
        automatic = operator = None
        try:
            while True:
                page = self.client.query(**kwargs)
                for item in page.get("Items", []):
                    if self._expired(item):
                        continue
                    if item["sk"]["S"] == BANNER_SK:
                        automatic = _banner_from_item(item)
                    elif item["sk"]["S"] == OPERATOR_BANNER_SK:
                        operator = _operator_banner_from_item(item)
                if "LastEvaluatedKey" not in page:
                    return Banners(automatic=automatic, operator=operator)
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err

    def get_operator_banner(self) -> OperatorBanner | None:
        try:
            response = self.client.get_item(
                TableName=self.table_name, Key=self._key(FLAGS_PK, OPERATOR_BANNER_SK), ConsistentRead=True
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        item = response.get("Item")
        if not item or self._expired(item):
            return None
        return _operator_banner_from_item(item)

    def put_operator_banner(self, banner: OperatorBanner) -> OperatorBanner | None:
        """Post ``banner`` in place of any earlier one; returns the one it replaced if that was still up.

        The rules are checked again against this store's clock, so no caller can write a banner that
        breaks them (BannerInputError, nothing written).
        """
        now = self.clock()
        problems = banner.problems(now)
        if problems:
            raise BannerInputError(problems)
        item = {
            **self._key(FLAGS_PK, OPERATOR_BANNER_SK),
            "message_en": {"S": banner.message_en},
            "message_ja": {"S": banner.message_ja},
            "reason": {"S": banner.reason},
            "posted_at": _n(float(banner.posted_at)),
            "posted_by": {"S": banner.posted_by},
            # The TTL attribute is the banner's own end: DynamoDB removes it some time after, readers at once.
            "expires_at": _n(float(banner.expires_at)),
        }
        try:
            response = self.client.put_item(TableName=self.table_name, Item=item, ReturnValues="ALL_OLD")
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        old = response.get("Attributes")
        return _operator_banner_from_item(old) if old and not self._expired(old) else None

    def clear_operator_banner(self) -> OperatorBanner | None:
        """Take the operator's banner down; returns it if it was still up. The pinger's banner is not touched."""
        try:
            response = self.client.delete_item(
                TableName=self.table_name, Key=self._key(FLAGS_PK, OPERATOR_BANNER_SK), ReturnValues="ALL_OLD"
            )
        except (ClientError, BotoCoreError) as err:
            raise HealthStoreError(str(err)) from err
        old = response.get("Attributes")
        return _operator_banner_from_item(old) if old and not self._expired(old) else None
