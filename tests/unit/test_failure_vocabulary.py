"""The breaker's failure vocabulary: what an untranslated exception counts as, and the one PingResult."""

from __future__ import annotations

import pytest
import requests
from botocore.exceptions import ClientError
from urllib3.exceptions import ReadTimeoutError

from mangaassist.breaker import DependencyTimeoutError, FailureKind, classify
from mangaassist.breaker.failure import dependency_error, failure_for_aws_code
from mangaassist.downstream.models import PingResult


def test_a_read_timeout_that_requests_wraps_in_connection_error_is_a_timeout():
    wrapped = requests.ConnectionError(ReadTimeoutError(None, "/orders", "Read timed out."))
    assert classify(wrapped) is FailureKind.TIMEOUT
    assert classify(requests.ConnectionError("connection refused")) is FailureKind.ERROR


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 429, FailureKind.THROTTLED),
        ("ModelNotReadyException", 429, FailureKind.ERROR),
        ("ModelTimeoutException", 408, FailureKind.TIMEOUT),
        ("ValidationException", 400, None),
        ("AccessDeniedException", 403, None),
        ("InternalServerException", 500, FailureKind.ERROR),
    ],
)
def test_an_untranslated_aws_error_counts_as_its_code_says(code, status, kind):
    err = ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Converse")
    assert classify(err) is kind


def test_a_dependency_that_is_unusable_on_a_4xx_says_so():
    assert failure_for_aws_code("AccessDeniedException", 403) is None
    assert failure_for_aws_code("AccessDeniedException", 403, client_errors_are_outages=True) is FailureKind.ERROR
    assert failure_for_aws_code("ValidationException", 400, client_errors_are_outages=True) is None


@pytest.mark.parametrize("kind", [FailureKind.TIMEOUT, FailureKind.THROTTLED, FailureKind.ERROR])
def test_the_error_for_a_kind_is_classified_back_as_that_kind(kind):
    err = dependency_error(kind, "catalog", "health ping failed", 503)
    assert classify(err) is kind
    assert err.status_code == 503
    assert isinstance(dependency_error(FailureKind.TIMEOUT, "catalog"), DependencyTimeoutError)


def test_a_failed_ping_always_carries_a_failure_and_an_answered_one_never_does():
    assert PingResult("catalog", False, None).failure is FailureKind.ERROR
    assert PingResult("catalog", False, None, failure=FailureKind.TIMEOUT).failure is FailureKind.TIMEOUT
    assert PingResult("catalog", True, 12.0).failure is None
    with pytest.raises(ValueError, match="cannot also have failed"):
        PingResult("catalog", True, 12.0, failure=FailureKind.ERROR)
