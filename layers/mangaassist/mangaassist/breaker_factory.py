"""Builds the one CircuitBreakers an execution environment uses, from its environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from mangaassist.aws_clients import client
from mangaassist.breaker import CircuitBreakers
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.registry import REGISTRY, ServiceSpec


def breakers_from_env(hot_path: bool = True, registry: Mapping[str, ServiceSpec] = REGISTRY) -> CircuitBreakers:
    table = os.environ["STATE_TABLE"]
    return CircuitBreakers(
        DynamoCircuitStore(
            table,
            client("dynamodb", hot_path=hot_path),
            read_copies=int(os.getenv("STATE_READ_COPIES", "1")),
        ),
        registry=registry,
        cache_ttl_s=float(os.getenv("STATE_CACHE_TTL_S", "1")),
    )
