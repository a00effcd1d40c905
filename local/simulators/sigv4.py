"""What API Gateway's IAM authorisation does for the simulated store services: recompute the SigV4 signature.

The simulator knows the one key it accepts (locally the stack's fake credentials) and recomputes the signature
over what actually arrived (method, path, query, the headers the caller signed, the body's SHA-256) with
botocore's own SigV4Auth, as the real service would with the caller's secret. Anything missing, stale or
different is a 403 in the services' JSON error shape. The reason names the check, never a header value.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from local.moto_process import FAKE_CREDENTIALS

SIGNING_SERVICE = "execute-api"
MAX_SKEW = dt.timedelta(minutes=5)  # API Gateway refuses a signature dated further from its clock than this
_AUTHORIZATION = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,"
    r"\s*SignedHeaders=(?P<signed>[a-z0-9;\-]+),\s*Signature=(?P<signature>[0-9a-f]{64})$"
)


class SignatureError(Exception):
    """Why a request is refused: ``code`` is the simulator's error code."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SigV4Verifier:
    access_key: str
    secret_key: str
    session_token: str | None
    region: str
    service: str = SIGNING_SERVICE
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    @classmethod
    def for_local_stack(cls) -> SigV4Verifier:
        """The key every local process signs with (FAKE_CREDENTIALS, set by the stack and by tests/conftest.py)."""
        return cls(
            FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            FAKE_CREDENTIALS["AWS_REGION"],
        )

    def verify(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> None:
        """Raises SignatureError unless the request is signed with this key. ``headers`` keys are lower case."""
        authorization = headers.get("authorization")
        if not authorization:
            raise SignatureError("missing_authentication", "the request is not signed")
        match = _AUTHORIZATION.match(authorization)
        if match is None:
            raise SignatureError("invalid_signature", "the Authorization header is not AWS4-HMAC-SHA256")
        if match["key"] != self.access_key:
            raise SignatureError("invalid_signature", "unknown access key")
        if (match["region"], match["service"]) != (self.region, self.service):
            raise SignatureError("invalid_signature", "the credential scope is not this service's")
        signed = match["signed"].split(";")
        needed = {"host", "x-amz-date"} | ({"x-amz-security-token"} if self.session_token else set())
        if not needed <= set(signed) or any(name not in headers for name in signed):
            raise SignatureError("invalid_signature", "a required header is not signed or not sent")
        if self.session_token and not hmac.compare_digest(headers["x-amz-security-token"], self.session_token):
            raise SignatureError("invalid_signature", "unknown session token")
        amz_date = headers["x-amz-date"]
        try:
            signed_at = dt.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            raise SignatureError("invalid_signature", "X-Amz-Date is not a SigV4 date") from None
        if abs(self.clock() - signed_at) > MAX_SKEW or match["date"] != amz_date[:8]:
            raise SignatureError("signature_expired", "the signature is not current")
        request = AWSRequest(
            method=method,
            url=f"http://{headers['host']}{raw_path}",
            data=body,
            headers={name: headers[name] for name in signed},
        )
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(self.access_key, self.secret_key, self.session_token), self.service, self.region)
        expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise SignatureError("invalid_signature", "the signature does not match the request")
