"""The Downstream port over HTTP: one pooled requests.Session, every call through its service's circuit breaker.

Contracts: docs/downstream-contracts.md. Base URLs come from each service's registry env var
(``ServiceSpec.url_env``, e.g. ORDER_SERVICE_URL). Each call's connect and read timeouts are the
registry timeout capped by the request's deadline. Nothing retries here: a failed call is counted by the
breaker once and the orchestrator takes its fallback.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter

from mangaassist.breaker import CircuitBreakers, DependencyClientError, DependencyError, FailureKind, classify
from mangaassist.breaker.failure import dependency_error, failure_for_status
from mangaassist.deadline import Deadline
from mangaassist.downstream.models import Order, PingResult, Product, Profile, Promotion, ReturnCase
from mangaassist.downstream.ports import elapsed_ms, refuse_without_time
from mangaassist.downstream.sigv4 import SigV4RequestAuth
from mangaassist.observability import remote_call
from mangaassist.registry import ServiceSpec

logger = logging.getLogger("mangaassist.downstream")

USER_AGENT = "MangaAssist-chat/1.0"

M = TypeVar("M", bound=BaseModel)


class NoCookies(http.cookiejar.CookiePolicy):
    """Stores and sends no cookie: the session serves every customer of the environment in turn."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = False

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: Any) -> bool:
        return False

    def path_return_ok(self, path: str, request: Any) -> bool:
        return False


def pooled_session(pool_maxsize: int = 10) -> requests.Session:
    """A keep-alive session shared by every service; urllib3 retries off because the breaker decides."""
    session = requests.Session()
    # A Set-Cookie from a downstream service answering one customer would otherwise ride along on the next
    # customer's calls (a session cookie, a sticky route, a login) for the life of the execution environment.
    session.cookies.set_policy(NoCookies())
    adapter = HTTPAdapter(pool_connections=16, pool_maxsize=pool_maxsize, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    return session


def http_failure(outcome: requests.Response | Exception) -> FailureKind | None:
    """This transport's one translation into the breaker's vocabulary, for calls and pings alike.

    ``outcome`` is the response, or what was raised while getting or parsing it. None means no outage:
    a 2xx, or a 4xx other than 429 (our request was wrong, design Q17).
    """
    if isinstance(outcome, requests.Response):
        status = outcome.status_code
        if 200 <= status < 300 or (400 <= status < 500 and status != 429):
            return None
        # A redirect is not in any contract (they are never followed): the service is misbehaving.
        return failure_for_status(status) or FailureKind.ERROR
    # Anything else raised (a body that is not the promised JSON, say) is the service breaking its contract.
    return classify(outcome) or FailureKind.ERROR


def _failure_word(outcome: requests.Response | Exception) -> str:
    if isinstance(outcome, requests.Response):
        return "throttled" if outcome.status_code == 429 else f"http_{outcome.status_code}"
    if http_failure(outcome) is FailureKind.TIMEOUT:
        return "timeout"
    return "connection" if isinstance(outcome, requests.ConnectionError) else "request_error"


def _items(key: str, model: type[M]) -> Callable[[Any], list[M]]:
    def parse(body: Any) -> list[M]:
        if not isinstance(body, dict) or not isinstance(body.get(key), list):
            raise TypeError(f"expected an object with a list {key!r}")
        return [model.model_validate(item) for item in body[key]]

    return parse


class HttpDownstream:
    """The orchestrator's Downstream port, backed by the store's HTTP services."""

    def __init__(
        self,
        breakers: CircuitBreakers,
        session: requests.Session | None = None,
        base_urls: Mapping[str, str] | None = None,
        auth: requests.auth.AuthBase | None = None,
    ):
        self.breakers = breakers
        self.session = session or pooled_session()
        self.base_urls = dict(base_urls or {})
        # Every call and every ping is SigV4-signed with the function's role; on the request, not the session,
        # so a session handed in (tests, the fleet lab) signs too.
        self.auth = auth or SigV4RequestAuth()

    # ------------------------------------------------------------------ the Downstream port

    def recent_orders(self, customer_id: str, deadline: Deadline, limit: int = 5) -> list[Order]:
        path = f"/customers/{quote(customer_id, safe='')}/orders"
        params = {"limit": limit}
        return self._call("order_service", "GET", path, deadline, params=params, parse=_items("orders", Order))

    def search_products(self, query: str, lang: str, deadline: Deadline, limit: int = 5) -> list[Product]:
        params = {"q": query, "lang": lang, "limit": limit}
        return self._call("catalog", "GET", "/products/search", deadline, params=params, parse=_items("items", Product))

    def popular_products(self, deadline: Deadline, limit: int = 5) -> list[Product]:
        parse = _items("items", Product)
        return self._call("catalog", "GET", "/products/popular", deadline, params={"limit": limit}, parse=parse)

    def product(self, product_id: str, deadline: Deadline) -> Product:
        path = f"/products/{quote(product_id, safe='')}"
        return self._call("catalog", "GET", path, deadline, parse=Product.model_validate)

    def recommendations(self, customer_id: str | None, deadline: Deadline, limit: int = 5) -> list[Product]:
        params: dict[str, Any] = {"limit": limit}
        if customer_id:
            params["customer_id"] = customer_id
        return self._call(
            "recommendations", "GET", "/recommendations", deadline, params=params, parse=_items("items", Product)
        )

    def returns(self, customer_id: str, deadline: Deadline) -> list[ReturnCase]:
        path = f"/customers/{quote(customer_id, safe='')}/returns"
        return self._call("returns_service", "GET", path, deadline, parse=_items("returns", ReturnCase))

    def promotions(self, customer_id: str | None, lang: str, deadline: Deadline) -> list[Promotion]:
        params = {"lang": lang}
        if customer_id:
            params["customer_id"] = customer_id
        return self._call(
            "promotions", "GET", "/promotions", deadline, params=params, parse=_items("promotions", Promotion)
        )

    def profile(self, customer_id: str, deadline: Deadline) -> Profile:
        path = f"/profiles/{quote(customer_id, safe='')}"
        return self._call("user_profile", "GET", path, deadline, parse=Profile.model_validate)

    def record_event(self, event: dict[str, Any], deadline: Deadline) -> None:
        self._call("analytics", "POST", "/events", deadline, payload=event)

    def send_feedback(self, feedback: dict[str, Any], deadline: Deadline) -> None:
        self._call("feedback", "POST", "/feedback", deadline, payload=feedback)

    # ------------------------------------------------------------------ health pings (no breaker)

    def ping(self, service: str, timeout_s: float) -> PingResult:
        """GET the service's health path once, outside the breaker: the pinger's raw observation."""
        spec = self._spec(service)
        base = self.base_url(service)
        if base is None:
            return PingResult(service, False, 0.0, detail="not_configured")
        started = time.perf_counter()
        with remote_call(service, "GET") as trace:
            try:
                response = self.session.get(
                    base + spec.health_path, timeout=(timeout_s, timeout_s), allow_redirects=False, auth=self.auth
                )
            except requests.RequestException as err:
                return PingResult(
                    service, False, elapsed_ms(started), failure=http_failure(err), detail=_failure_word(err)
                )
            trace.answered(response.status_code)
        latency_ms = elapsed_ms(started)
        status = response.status_code
        if status == 200:
            return PingResult(service, True, latency_ms, status)
        # A health path answering anything but 200 (even a 4xx) is a failed ping: http_failure's None for a
        # 4xx means "our mistake" on a call, but the health path is ours to get right.
        return PingResult(
            service, False, latency_ms, status, failure=http_failure(response), detail=_failure_word(response)
        )

    # ------------------------------------------------------------------ plumbing

    def base_url(self, service: str) -> str | None:
        spec = self._spec(service)
        url = self.base_urls.get(service) or os.getenv(spec.url_env)
        return url.rstrip("/") if url else None

    def _spec(self, service: str) -> ServiceSpec:
        spec = self.breakers.registry[service]
        if spec.kind != "http":
            raise ValueError(f"{service} is not an HTTP service (kind {spec.kind!r})")
        return spec

    def _call(
        self,
        service: str,
        method: str,
        path: str,
        deadline: Deadline,
        *,
        params: Mapping[str, Any] | None = None,
        payload: Mapping[str, Any] | None = None,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        spec = self._spec(service)
        refuse_without_time(service, deadline, method=method)
        timeout_s = deadline.timeout_for(spec.timeout_ms)
        return self.breakers.call(service, self._request, spec, method, path, timeout_s, params, payload, parse)

    def _request(
        self,
        spec: ServiceSpec,
        method: str,
        path: str,
        timeout_s: float,
        params: Mapping[str, Any] | None,
        payload: Mapping[str, Any] | None,
        parse: Callable[[Any], Any] | None,
    ) -> Any:
        """One HTTP exchange; every outcome that is an outage leaves as a Dependency*Error the breaker counts."""
        name = spec.name
        base = self.base_url(name)
        if base is None:
            raise DependencyError(name, f"{spec.url_env} is not set")
        # `from None` below: requests' exception texts repeat the URL, whose path holds the customer's id, and a
        # chained cause would print it in any traceback that reaches a log line.
        with remote_call(name, method) as trace:
            try:
                response = self.session.request(
                    method,
                    base + path,
                    params=params,
                    json=payload,
                    timeout=(timeout_s, timeout_s),
                    allow_redirects=False,
                    auth=self.auth,
                )
            except requests.RequestException as err:
                kind = http_failure(err)
                raise dependency_error(kind, name, _request_failed(kind, err, timeout_s)) from None
            trace.answered(response.status_code)
        status = response.status_code
        kind = http_failure(response)
        if kind is not None:
            raise dependency_error(kind, name, f"HTTP {status}", status_code=status)
        if not 200 <= status < 300:
            code = _error_code(response)
            if status in (401, 403):
                # Not counted by the breaker (a 4xx), so a role or resource policy that stops matching would
                # degrade every answer silently: this line is what an alarm can count. No URL, no header.
                logger.error("downstream_forbidden", extra={"service": name, "status": status, "code": code})
            raise DependencyClientError(name, status, code)
        if parse is None:
            return None
        try:
            return parse(response.json())
        except (ValueError, TypeError, KeyError, ValidationError) as err:
            # ValidationError is a ValueError too; either way the service broke its contract.
            detail = f"malformed body ({type(err).__name__})"
            raise dependency_error(http_failure(err), name, detail, status_code=status) from err


def _request_failed(kind: FailureKind, err: requests.RequestException, timeout_s: float) -> str:
    if kind is FailureKind.TIMEOUT:
        return f"no answer within {timeout_s:.3f}s"
    if isinstance(err, requests.ConnectionError):
        return f"connection failed ({type(err).__name__})"
    return f"request failed ({type(err).__name__})"


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""
