"""What the adapter tests (HTTP and Bedrock) check alike: what the breaker counted and the outage a call raised,
over registry specs whose timeouts are shortened so a suite against real sockets stays fast."""

from __future__ import annotations

import dataclasses

import pytest

from mangaassist.breaker import CircuitBreakers, ServiceUnavailableError
from mangaassist.registry import ServiceSpec


def with_timeout(spec: ServiceSpec, timeout_ms: int) -> ServiceSpec:
    """The same service with a shorter timeout and a slow-call bound just under it; nothing else changes."""
    return dataclasses.replace(spec, timeout_ms=timeout_ms, slow_call_ms=timeout_ms - 10)


def counted(breakers: CircuitBreakers, service: str) -> int:
    """Failures the breaker holds against ``service`` in its current window."""
    return sum(breakers.record(service).failure_buckets.values())


def outage(call) -> ServiceUnavailableError:
    with pytest.raises(ServiceUnavailableError) as err:
        call()
    return err.value
