"""Fleet-wide circuit breaker whose state lives in the DynamoDB state table."""

from mangaassist.breaker.failure import (
    DependencyClientError,
    DependencyError,
    DependencyThrottledError,
    DependencyTimeoutError,
    FailureKind,
    ServiceUnavailableError,
    classify,
)
from mangaassist.breaker.fleet import CircuitBreakers
from mangaassist.breaker.model import CircuitInfo, CircuitRecord, CircuitState, Override, Transition
from mangaassist.breaker.store import CircuitStore, StateStoreError

__all__ = [
    "CircuitBreakers",
    "CircuitInfo",
    "CircuitRecord",
    "CircuitState",
    "CircuitStore",
    "DependencyClientError",
    "DependencyError",
    "DependencyThrottledError",
    "DependencyTimeoutError",
    "FailureKind",
    "Override",
    "ServiceUnavailableError",
    "StateStoreError",
    "Transition",
    "classify",
]
