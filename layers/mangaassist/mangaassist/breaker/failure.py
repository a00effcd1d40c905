"""What counts as a dependency outage, and the errors the breaker raises to its callers.

A failure is a timeout, a connection error, an HTTP 5xx, a 429/throttle, or a call slower than the
service's slow-call threshold. A 4xx is the caller's mistake, not an outage: it is re-raised and not
counted (design Q17).
"""

from __future__ import annotations

from enum import StrEnum


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    ERROR = "error"
    THROTTLED = "throttled"
    SLOW = "slow"
    CIRCUIT_OPEN = "circuit_open"

    def __str__(self) -> str:
        return self.value


class DependencyError(Exception):
    """Raised by adapters when a dependency failed in a way that counts as an outage."""

    kind = FailureKind.ERROR

    def __init__(self, service: str, detail: str = "", status_code: int | None = None):
        super().__init__(f"{service}: {self.kind.value} {detail}".strip())
        self.service = service
        self.status_code = status_code


class DependencyTimeoutError(DependencyError):
    kind = FailureKind.TIMEOUT


class DependencyThrottledError(DependencyError):
    kind = FailureKind.THROTTLED


class DependencyClientError(Exception):
    """A 4xx from a dependency: our request was wrong (or the thing does not exist). Not an outage."""

    def __init__(self, service: str, status_code: int, detail: str = ""):
        super().__init__(f"{service}: HTTP {status_code} {detail}".strip())
        self.service = service
        self.status_code = status_code


class ServiceUnavailableError(Exception):
    """The caller must use its fallback: the circuit is open or the call just failed."""

    def __init__(self, service: str, kind: FailureKind):
        super().__init__(f"{service} unavailable ({kind.value})")
        self.service = service
        self.kind = kind

    @property
    def degraded_reason(self) -> str:
        return f"{self.service}_unavailable"


_THROTTLE_CODES = {
    "ThrottlingException",
    "TooManyRequestsException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "ServiceQuotaExceededException",
}
_SERVER_CODES = {
    "ServiceUnavailableException",
    "InternalServerException",
    "InternalFailure",
    "ServiceUnavailable",
    "ModelNotReadyException",
    "ModelTimeoutException",
    "ModelErrorException",
}


def classify(exc: BaseException) -> FailureKind | None:
    """The failure kind ``exc`` represents, or None when it is not a dependency outage."""
    if isinstance(exc, DependencyError):
        return exc.kind
    if isinstance(exc, DependencyClientError):
        return None
    kind = _classify_requests(exc)
    if kind is not None:
        return kind
    kind = _classify_botocore(exc)
    if kind is not None:
        return kind
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, ConnectionError):
        return FailureKind.ERROR
    return None


def _classify_requests(exc: BaseException) -> FailureKind | None:
    try:
        import requests
    except ImportError:  # pragma: no cover - requests is in the layer
        return None
    if isinstance(exc, requests.Timeout):
        return FailureKind.TIMEOUT
    if isinstance(exc, requests.ConnectionError):
        return FailureKind.ERROR
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _from_status(exc.response.status_code)
    return None


def _classify_botocore(exc: BaseException) -> FailureKind | None:
    from botocore import exceptions as bx

    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError | bx.ConnectionError):
        return FailureKind.ERROR
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        if code in _THROTTLE_CODES:
            return FailureKind.THROTTLED
        if code in _SERVER_CODES:
            return FailureKind.ERROR
        return _from_status(status)
    return None


def _from_status(status: int) -> FailureKind | None:
    if status == 429:
        return FailureKind.THROTTLED
    if status >= 500:
        return FailureKind.ERROR
    return None
