"""SigV4 signing of calls to the store's IAM-authorised internal APIs, with the function's own role.

botocore's SigV4Auth applied to requests' prepared request (docs/downstream-contracts.md, "Authentication").
Credentials are read from the Lambda environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_SESSION_TOKEN, which Lambda sets from the execution role) on every request, so a rotated value is
picked up at once. Nothing here logs: the Authorization header and the credentials never leave this module
except on the wire.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, EnvProvider

SIGNING_SERVICE = "execute-api"  # API Gateway's IAM authorisation
DEFAULT_REGION = "ap-northeast-1"
# Only what the service cannot do without: the signature covers the method, path, query, body (its SHA-256),
# host, date and session token. Headers a proxy or the HTTP stack may rewrite (User-Agent, Accept-Encoding,
# Connection) are left out so a hop in between cannot break a valid signature.
SIGNED_REQUEST_HEADERS = ("content-type",)
SIGNATURE_HEADERS = ("Authorization", "X-Amz-Date", "X-Amz-Security-Token")


def canonical_query(url: str) -> str:
    """The URL with its query encoded as SigV4 canonicalises it (RFC 3986: %20, not '+').

    botocore signs the query exactly as written; API Gateway re-encodes what it received before comparing, so a
    query sent as requests writes it (``q=one+piece``) would not verify there. Sending this form avoids that.
    """
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    return urlunsplit(parts._replace(query=urlencode(pairs, quote_via=quote, safe="-_.~")))


class SigV4RequestAuth(requests.auth.AuthBase):
    """requests auth that signs each request with SigV4; unsigned when the environment holds no credentials."""

    def __init__(self, region: str | None = None, service: str = SIGNING_SERVICE):
        self.region = region
        self.service = service
        self._env = EnvProvider()

    def credentials(self) -> Credentials | None:
        return self._env.load()

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        credentials = self.credentials()
        if credentials is None:
            # No role credentials (a misconfigured environment): the service answers 403 and the chat degrades.
            return request
        request.url = canonical_query(request.url or "")
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        headers = {k: v for k, v in request.headers.items() if k.lower() in SIGNED_REQUEST_HEADERS}
        aws_request = AWSRequest(method=request.method, url=request.url, data=body, headers=headers)
        region = self.region or os.getenv("AWS_REGION") or os.getenv("AWS_DEFAULT_REGION") or DEFAULT_REGION
        SigV4Auth(credentials.get_frozen_credentials(), self.service, region).add_auth(aws_request)
        for name in SIGNATURE_HEADERS:
            if name in aws_request.headers:
                request.headers[name] = aws_request.headers[name]
        return request

    def __repr__(self) -> str:  # never the credentials
        return f"SigV4RequestAuth(service={self.service!r})"
