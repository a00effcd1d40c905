"""What every DynamoDB adapter here shares: how values become attributes and back, and a refused conditional write."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"
STORED_DECIMALS = 3  # milliseconds of an epoch second, a thousandth of a millisecond of latency: nothing reads finer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


def is_conditional_failure(err: ClientError) -> bool:
    """True when a write was refused by its condition: someone else got there first, not an outage."""
    return err.response.get("Error", {}).get("Code") == CONDITIONAL_CHECK_FAILED


def _storable(value: Any) -> Any:
    # TypeSerializer refuses floats (they are inexact); repr of the rounded float keeps the digits the
    # items have always held ("45.123", "3000.0"), where Decimal(float) would spell out the binary error.
    if isinstance(value, float):
        return Decimal(repr(round(value, STORED_DECIMALS)))
    if isinstance(value, Mapping):
        return {k: _storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(v) for v in value]
    return value


def to_attribute(value: Any) -> dict[str, Any]:
    """One DynamoDB attribute value; floats rounded to ``STORED_DECIMALS`` places, ints kept as ints."""
    return _SERIALIZER.serialize(_storable(value))


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """An item (or expression values) from plain values, as ``to_attribute`` writes each one."""
    return {name: to_attribute(value) for name, value in values.items()}


def from_attribute(attr: Mapping[str, Any]) -> Any:
    """The plain value of one attribute; numbers come back as Decimal, for the reader to turn into float or int."""
    return _DESERIALIZER.deserialize(attr)


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values from an item, as ``from_attribute`` reads each one."""
    return {name: from_attribute(attr) for name, attr in item.items()}


def as_float(value: Decimal | None) -> float | None:
    return None if value is None else float(value)
