"""Builds the health pinger an execution environment uses, from its environment variables.

STATE_TABLE names the state table; each HTTP service's base URL comes from its registry env var
(e.g. ORDER_SERVICE_URL), the model from BEDROCK_MODEL_ID, endpoints from AWS_ENDPOINT_URL*.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Mapping

from mangaassist.aws_clients import client
from mangaassist.breaker import CircuitBreakers
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from mangaassist.downstream.bedrock import BedrockLlm
from mangaassist.downstream.http_services import HttpDownstream, pooled_session
from mangaassist.health.pinger import BANNER_AFTER_S, HealthPinger, Prober
from mangaassist.health.store import HealthStore
from mangaassist.registry import REGISTRY, ServiceSpec


def probers_for(
    breakers: CircuitBreakers,
    registry: Mapping[str, ServiceSpec] = REGISTRY,
    base_urls: Mapping[str, str] | None = None,
) -> dict[str, Prober]:
    """One prober per registry service: the downstream adapters' own ping, outside the breaker."""
    http = HttpDownstream(breakers, session=pooled_session(pool_maxsize=len(registry)), base_urls=base_urls)
    llm = BedrockLlm(breakers)
    probers: dict[str, Prober] = {}
    for spec in registry.values():
        if spec.kind == "bedrock":
            probers[spec.name] = llm.ping
        else:
            probers[spec.name] = functools.partial(http.ping, spec.name)
    return probers


def pinger_from_env(
    clock: Callable[[], float] = time.time,
    registry: Mapping[str, ServiceSpec] = REGISTRY,
    banner_after_s: float = BANNER_AFTER_S,
) -> HealthPinger:
    """``clock`` is the one time source of the run, the breaker and the store: tests and game days pass
    an accelerated one to see five minutes of outage in seconds. Game days also pass a registry with
    shorter open periods and a shorter wait before the banner."""
    table = os.environ["STATE_TABLE"]
    # The pinger is background work: the patient client with retries, not the chat's 0.5 s one.
    dynamodb = client("dynamodb", hot_path=False)
    # The pinger's transitions must reach the copies the chat reads: the same STATE_READ_COPIES as the chat's.
    store = DynamoCircuitStore(table, dynamodb, read_copies=int(os.getenv("STATE_READ_COPIES", "1")))
    breakers = CircuitBreakers(store, registry=registry, clock=clock, cache_ttl_s=0)
    return HealthPinger(
        store=HealthStore(table, dynamodb, registry=registry, clock=clock),
        breakers=breakers,
        probers=probers_for(breakers, registry),
        registry=registry,
        clock=clock,
        banner_after_s=banner_after_s,
    )
