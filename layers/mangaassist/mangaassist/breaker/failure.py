"""What counts as a dependency outage, and the errors the breaker raises to its callers.

A failure is a timeout, a connection error, an HTTP 5xx, a 429/throttle, or a call slower than the
service's slow-call threshold. A 4xx is the caller's mistake, not an outage: it is re-raised and not
counted (design Q17). The rules live here only: each transport's one translation function builds on them,
and an exception that reaches the breaker untranslated is classified by the same rules.
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


# AWS error codes, shared by every AWS transport so the call path, the ping and an untranslated error agree.
THROTTLE_CODES = frozenset(
    {
        "ThrottlingException",
        "TooManyRequestsException",
        "Throttling",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ServiceQuotaExceededException",
    }
)
TIMEOUT_CODES = frozenset({"ModelTimeoutException"})
SERVER_CODES = frozenset(
    {
        "ServiceUnavailableException",
        "InternalServerException",
        "InternalFailure",
        "ServiceUnavailable",
        "ModelNotReadyException",
        "ModelErrorException",
    }
)
# Our request was wrong for this one call: never an outage, whatever the dependency.
REQUEST_CODES = frozenset({"ValidationException", "SerializationException"})

_ERROR_TYPES: dict[FailureKind, type[DependencyError]] = {
    FailureKind.TIMEOUT: DependencyTimeoutError,
    FailureKind.THROTTLED: DependencyThrottledError,
}


def dependency_error(
    kind: FailureKind, service: str, detail: str = "", status_code: int | None = None
) -> DependencyError:
    """The adapter error that stands for ``kind``, so the breaker counts it as exactly that kind."""
    return _ERROR_TYPES.get(kind, DependencyError)(service, detail, status_code)


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


def failure_for_status(status: int) -> FailureKind | None:
    """An HTTP status as the breaker sees it: 429 throttled, 5xx an error, anything else not an outage."""
    if status == 429:
        return FailureKind.THROTTLED
    if status >= 500:
        return FailureKind.ERROR
    return None


def failure_for_aws_code(code: str, status: int, *, client_errors_are_outages: bool = False) -> FailureKind | None:
    """An AWS error code and HTTP status as the breaker sees them.

    ``client_errors_are_outages`` is for a dependency where a 4xx other than a malformed request makes it
    unusable for every caller (Bedrock: a missing model grant is 403, a disabled model 404).
    """
    if code in REQUEST_CODES:
        return None
    # Bedrock answers 429 while a model is loading: that is the model being unavailable, not us being throttled.
    if code in THROTTLE_CODES or (status == 429 and code != "ModelNotReadyException"):
        return FailureKind.THROTTLED
    if code in TIMEOUT_CODES:
        return FailureKind.TIMEOUT
    if code in SERVER_CODES or status >= 500 or client_errors_are_outages:
        return FailureKind.ERROR
    return None


def _classify_requests(exc: BaseException) -> FailureKind | None:
    try:
        import requests
        from urllib3.exceptions import ReadTimeoutError
    except ImportError:  # pragma: no cover - requests is in the layer
        return None
    if isinstance(exc, requests.Timeout):
        return FailureKind.TIMEOUT
    if isinstance(exc, requests.ConnectionError):
        # requests wraps a read timeout hit while downloading the body in ConnectionError, not Timeout.
        if any(isinstance(arg, ReadTimeoutError) for arg in exc.args):
            return FailureKind.TIMEOUT
        return FailureKind.ERROR
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return failure_for_status(exc.response.status_code)
    return None


def _classify_botocore(exc: BaseException) -> FailureKind | None:
    from botocore import exceptions as bx
    from botocore.parsers import ResponseParserError

    if isinstance(exc, ResponseParserError):
        return FailureKind.ERROR  # an answer that breaks the service's own API contract

    if isinstance(exc, bx.ConnectTimeoutError | bx.ReadTimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, bx.EndpointConnectionError | bx.ConnectionClosedError | bx.ConnectionError | bx.HTTPClientError):
        return FailureKind.ERROR
    if isinstance(exc, bx.ClientError):
        code = exc.response.get("Error", {}).get("Code", "")
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return failure_for_aws_code(code, status)
    return None
