"""What every DynamoDB adapter here needs to read a failed conditional write the same way."""

from __future__ import annotations

from botocore.exceptions import ClientError

CONDITIONAL_CHECK_FAILED = "ConditionalCheckFailedException"


def is_conditional_failure(err: ClientError) -> bool:
    """True when a write was refused by its condition: someone else got there first, not an outage."""
    return err.response.get("Error", {}).get("Code") == CONDITIONAL_CHECK_FAILED
