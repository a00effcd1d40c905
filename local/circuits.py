"""Circuit admin for the local stack (`/_local/circuits`, `/_local/banner`): the state table's circuits, health
and budget items, read and written straight at moto, past any state_store fault, through the layer's own stores."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from typing import Any

from mangaassist.breaker import CircuitRecord, CircuitState, Override
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.breaker.store import LostRaceError
from mangaassist.chat.client_budget_store import LLM_BUDGET_PK_PREFIX
from mangaassist.health import HealthStore


class CircuitAdmin:
    def __init__(self, dynamodb: Any, table: str):
        self.dynamodb = dynamodb
        self.table = table

    def health_store(self) -> HealthStore:
        return HealthStore(self.table, self.dynamodb)

    def circuits(self) -> dict[str, Any]:
        records = DynamoCircuitStore(self.table, self.dynamodb).load_all()
        return {
            name: {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(rec).items()}
            for name, rec in records.items()
        }

    def reset(self) -> int:
        """Close every circuit through the breaker's own conditional writes (items are never deleted under a
        running fleet: its environments remember which items exist); clears failure counts and overrides."""
        store = DynamoCircuitStore(self.table, self.dynamodb)
        changed = 0
        for name, record in store.load_all().items():
            now = time.time()
            if record.override is not Override.NONE:
                record = store.set_override(name, Override.NONE, now)
                changed += 1
            if record.state is CircuitState.CLOSED and not record.failure_buckets:
                continue
            # A new record is the breaker's own idea of a closed circuit: no opening, probe or backoff left.
            closed = CircuitRecord(name, reason="local_reset", updated_at=now)
            with contextlib.suppress(LostRaceError):  # a worker moved it meanwhile; the caller may reset again
                store.compare_and_set(record.version, closed)
                changed += 1
        self.forget_llm_budgets()
        return changed

    def forget_llm_budgets(self) -> None:
        """Delete every per-client Bedrock budget counter: a fresh fleet owes nobody's earlier scenario a budget."""
        pages = self.dynamodb.get_paginator("scan").paginate(
            TableName=self.table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": LLM_BUDGET_PK_PREFIX}},
            ProjectionExpression="pk, sk",
        )
        for page in pages:
            for key in page["Items"]:
                self.dynamodb.delete_item(TableName=self.table, Key=key)
