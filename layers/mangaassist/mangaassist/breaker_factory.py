"""Builds the one CircuitBreakers an execution environment uses, from its environment variables."""

from __future__ import annotations

import os

from mangaassist.aws_clients import client
from mangaassist.breaker import CircuitBreakers
from mangaassist.breaker.dynamo_store import DynamoCircuitStore


def breakers_from_env(hot_path: bool = True) -> CircuitBreakers:
    table = os.environ["STATE_TABLE"]
    return CircuitBreakers(
        DynamoCircuitStore(table, client("dynamodb", hot_path=hot_path)),
        cache_ttl_s=float(os.getenv("STATE_CACHE_TTL_S", "1")),
    )
