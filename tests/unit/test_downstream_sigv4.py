"""SigV4 to the internal services: what the chat's signer sends is what the simulators' verifier accepts, and
nothing else is (no network: requests prepares the request, the verifier reads it as the server would)."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

import pytest
import requests

from local.simulators.sigv4 import SignatureError, SigV4Verifier
from mangaassist.downstream.sigv4 import SigV4RequestAuth

BASE = "http://127.0.0.1:18103"


def prepared(method: str = "GET", path: str = "/customers/cust-0001/orders", **kw) -> requests.PreparedRequest:
    request = requests.Request(method, BASE + path, **kw)
    return requests.Session().prepare_request(request)


def signed(method: str = "GET", path: str = "/customers/cust-0001/orders", **kw) -> requests.PreparedRequest:
    return SigV4RequestAuth()(prepared(method, path, **kw))


def as_received(request: requests.PreparedRequest) -> tuple[str, str, dict[str, str], bytes]:
    """What the simulator's handler sees: method, raw path with query, lower-case headers (Host added by
    http.client from the URL), body bytes."""
    url = urlsplit(request.url)
    raw_path = url.path + (f"?{url.query}" if url.query else "")
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = url.netloc
    body = request.body or b""
    return request.method, raw_path, headers, body.encode() if isinstance(body, str) else body


def verify(request: requests.PreparedRequest, verifier: SigV4Verifier | None = None) -> None:
    (verifier or SigV4Verifier.for_local_stack()).verify(*as_received(request))


def refused(request: requests.PreparedRequest, verifier: SigV4Verifier | None = None) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(request, verifier)
    return caught.value.code


def test_a_request_signed_with_the_stacks_key_verifies_get_and_post() -> None:
    verify(signed())
    verify(signed("POST", "/events", json={"type": "chat_turn", "intent": "greeting"}))


def test_a_query_with_spaces_and_japanese_is_sent_as_sigv4_canonicalises_it_and_verifies() -> None:
    request = signed("GET", "/products/search", params={"q": "one piece 葬送のフリーレン", "lang": "ja", "limit": 5})
    assert "q=one%20piece%20%E8%91%AC" in request.url  # %20, as API Gateway re-encodes it, not requests' '+'
    verify(request)


def test_an_unsigned_request_is_refused_as_missing() -> None:
    assert refused(prepared()) == "missing_authentication"


def test_a_request_signed_with_a_wrong_secret_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-roles-secret")
    assert refused(signed()) == "invalid_signature"


def test_a_wrong_access_key_or_session_token_is_refused(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHERROLE")
    assert refused(signed()) == "invalid_signature"
    monkeypatch.undo()
    monkeypatch.setenv("AWS_SESSION_TOKEN", "another-session")
    assert refused(signed()) == "invalid_signature"


def test_a_signature_moved_to_another_customers_path_is_refused() -> None:
    request = signed(path="/customers/cust-0001/orders")
    request.url = BASE + "/customers/cust-0002/orders"
    assert refused(request) == "invalid_signature"


def test_a_changed_query_or_body_is_refused() -> None:
    request = signed(params={"limit": 5})
    request.url = request.url.replace("limit=5", "limit=50")
    assert refused(request) == "invalid_signature"
    post = signed("POST", "/feedback", json={"rating": 5})
    post.body = b'{"rating": 1}'
    assert refused(post) == "invalid_signature"


def test_a_signature_from_another_region_or_service_scope_is_refused() -> None:
    assert refused(SigV4RequestAuth(region="us-east-1")(prepared())) == "invalid_signature"
    assert refused(SigV4RequestAuth(service="lambda")(prepared())) == "invalid_signature"


def test_a_signature_older_than_five_minutes_is_refused_as_expired() -> None:
    request = signed()
    later = SigV4Verifier.for_local_stack()
    skewed = SigV4Verifier(
        later.access_key,
        later.secret_key,
        later.session_token,
        later.region,
        clock=lambda: dt.datetime.now(dt.UTC) + dt.timedelta(minutes=6),
    )
    assert refused(request, skewed) == "signature_expired"


def test_without_credentials_in_the_environment_nothing_is_signed(monkeypatch) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    request = SigV4RequestAuth()(prepared())
    assert "Authorization" not in request.headers
    assert refused(request) == "missing_authentication"


def test_the_signer_never_shows_the_secret(monkeypatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "distinct-secret-value")
    auth = SigV4RequestAuth()
    request = auth(prepared())
    assert request.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "distinct-secret-value" not in repr(auth)
    assert not any("distinct-secret-value" in value for value in request.headers.values())
