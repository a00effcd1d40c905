"""DynamoDB and Secrets Manager adapters of the per-client Bedrock budget (mangaassist.chat.client_budget).

Counters live in the state table, one item per client and window: pk ``llm_budget#<hmac>`` (a partition per
client, so a flood from one never heats the partition every other client counts in), sk the window's start,
``calls``, and ``expires_at``, the table's TTL attribute.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from mangaassist.chat.client_budget import BudgetStoreError
from mangaassist.dynamo import is_conditional_failure

LLM_BUDGET_PK_PREFIX = "llm_budget#"  # template.yaml's chat policy allows writes to these partitions only


class DynamoBudgetStore:
    def __init__(self, table_name: str, client: Any):
        self.table_name = table_name
        self.client = client

    def spend(self, client_hash: str, window_start: int, limit: int, expires_at: int) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": LLM_BUDGET_PK_PREFIX + client_hash}, "sk": {"S": str(window_start)}},
                UpdateExpression="ADD calls :one SET expires_at = :expires_at",
                ConditionExpression="attribute_not_exists(calls) OR calls < :limit",
                ExpressionAttributeValues={
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                    ":expires_at": {"N": str(expires_at)},
                },
            )
        except ClientError as err:
            if is_conditional_failure(err):
                return False
            raise BudgetStoreError(err.response.get("Error", {}).get("Code", "ClientError")) from None
        except BotoCoreError as err:
            raise BudgetStoreError(type(err).__name__) from None
        return True


class SecretKey:
    """The HMAC key from Secrets Manager, read once per environment; after a failed read, retried a minute later
    (None meanwhile), so a Secrets Manager outage costs one slow call a minute, not one per message."""

    RETRY_AFTER_S = 60.0

    def __init__(self, secret_id: str, client: Callable[[], Any], clock: Callable[[], float] = time.monotonic):
        self.secret_id = secret_id
        self.client = client
        self.clock = clock
        self._key: bytes | None = None
        self._retry_at = 0.0

    def __call__(self) -> bytes | None:
        if self._key is not None or not self.secret_id or self.clock() < self._retry_at:
            return self._key
        try:
            value = self.client().get_secret_value(SecretId=self.secret_id).get("SecretString") or ""
        except (ClientError, BotoCoreError) as err:
            self._retry_at = self.clock() + self.RETRY_AFTER_S
            code = err.response.get("Error", {}).get("Code") if isinstance(err, ClientError) else type(err).__name__
            raise BudgetStoreError(f"key unreadable ({code})") from None
        if value.strip():
            self._key = value.strip().encode("utf-8")
        else:
            self._retry_at = self.clock() + self.RETRY_AFTER_S
        return self._key
