"""The local API front: what API Gateway (REST, Lambda proxy integration) does in front of the chat function.

Routes, authorizers, request models and gateway responses are read from template.yaml. A request on a
declared route becomes an API Gateway REST proxy event (requestContext, stage, identity, and the Cognito
authorizer's claims: locally ``Authorization: Bearer <customer_id>`` fills ``claims.sub``; no header is a
guest, where AWS would answer 401; a route without authorizer such as POST /chat/guest never gets claims,
whatever the headers say) and goes to an idle worker of the function; its proxy response becomes the HTTP
answer. What API Gateway answers by itself (unknown route, invalid body, a function error, no capacity) uses
the template's GatewayResponses. In front of all that sits the WAF's part (local/edge.py): bodies over 16 KB get
413 and an address over its rate 429, both with the WAF's JSON bodies, which are the gateway's own. The same
server also answers the local-only paths, /dashboard and /_local/*, which no WAF rule covers.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Request, Response

from local.edge import RateLimiter, body_too_large, client_address
from local.serving import HttpServer
from local.template_resources import gateway_response, resource, resources_of_type
from local.workers import NoWorkerError, Outcome, WorkerPool

API_ID = "ChatApi"
DASHBOARD = Path(__file__).with_name("dashboard.html")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's request payload limit
INTEGRATION_TIMEOUT_S = 29.0  # API Gateway gives up on an integration after 29 s
BEARER_RE = re.compile(r"^Bearer\s+([A-Za-z0-9._:@+=-]{1,128})$")
LOCAL_API_ID = "local000001"
STAGE = "local"  # what requestContext.stage and the event's path prefix say
JSON = ("Content-Type", "application/json")
HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "date", "server"}  # the server sets its own


@dataclass(frozen=True)
class Route:
    path: str
    method: str
    function_id: str
    auth: str  # "cognito", "iam" or "none"
    body_schema: dict[str, Any] | None  # request model when the route validates the body


def api_routes() -> dict[tuple[str, str], Route]:
    """(path, METHOD) -> Route for every Api event of every function that targets the chat API."""
    api = resource(API_ID)["Properties"]
    models = api.get("Models", {})
    default_auth = (api.get("Auth") or {}).get("DefaultAuthorizer")
    routes = {}
    for function_id, res in resources_of_type("AWS::Serverless::Function").items():
        for event in (res["Properties"].get("Events") or {}).values():
            props = event.get("Properties") or {}
            if event.get("Type") != "Api" or props.get("RestApiId") != {"Ref": API_ID}:
                continue
            authorizer = (props.get("Auth") or {}).get("Authorizer", default_auth)
            auth = "none" if authorizer in (None, "NONE") else "iam" if authorizer == "AWS_IAM" else "cognito"
            model = props.get("RequestModel") or {}
            schema = models.get(model.get("Model")) if model.get("ValidateBody") else None
            route = Route(props["Path"], props["Method"].upper(), function_id, auth, schema)
            routes[(route.path, route.method)] = route
    return routes


class GatewayAnswer(Exception):
    """API Gateway answers by itself with one of the template's gateway responses."""

    def __init__(self, response_type: str, default_status: int, default_message: str):
        status, body, headers = gateway_response(API_ID, response_type)
        if body is None:
            status, body, headers = gateway_response(API_ID, "DEFAULT_5XX" if default_status >= 500 else "DEFAULT_4XX")
        self.status = status or default_status
        self.body = (body or json.dumps({"message": default_message})).encode()
        self.headers = headers
        super().__init__(response_type)


def _body_problem(schema: dict[str, Any], body: bytes, mimetype: str) -> bool:
    """True when API Gateway's request validator would reject the body (JSON bodies are validated)."""
    if mimetype and mimetype != "application/json":
        return False
    import jsonschema

    try:
        document = json.loads(body or b"null")
    except ValueError:
        return True
    return not jsonschema.Draft4Validator(schema).is_valid(document)


def claims_for(route: Route, authorization: str | None) -> dict[str, str] | None:
    """The Cognito authorizer's claims, the local way: ``Bearer <customer_id>`` (no header = a guest)."""
    if route.auth != "cognito" or authorization is None:
        return None
    match = BEARER_RE.match(authorization.strip())
    if not match:
        raise GatewayAnswer("UNAUTHORIZED", 401, "Unauthorized")
    customer_id = match.group(1)
    return {
        "sub": customer_id,
        "cognito:username": customer_id,
        "token_use": "id",
        "email_verified": "true",
        "iss": "https://cognito-idp.ap-northeast-1.amazonaws.com/ap-northeast-1_LOCAL",
    }


def proxy_event(
    route: Route,
    request: Request,
    path: str,
    claims: dict[str, str] | None,
    source_ip: str,
    request_id: str,
) -> dict[str, Any]:
    """``path`` is the path as sent, still percent-encoded."""
    method, body = request.method, request.get_data()
    multi_headers = MultiDict(request.headers.items()).to_dict(flat=False)
    multi_query = request.args.to_dict(flat=False)
    # API Gateway's single-value maps keep the last value of a repeated name.
    single_headers = {k: v[-1] for k, v in multi_headers.items()}
    single_query = {k: v[-1] for k, v in multi_query.items()}
    try:
        text, encoded = (body.decode("utf-8"), False) if body else (None, False)
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = time.time()
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": LOCAL_API_ID,
        "resourceId": "local",
        "resourcePath": route.path,
        "httpMethod": method,
        "path": f"/{STAGE}{path}",
        "stage": STAGE,
        "protocol": "HTTP/1.1",
        "domainName": single_headers.get("Host", "127.0.0.1"),
        "requestId": request_id,
        "extendedRequestId": request_id,
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "identity": {
            "sourceIp": source_ip,
            "userAgent": single_headers.get("User-Agent"),
            **dict.fromkeys(("accountId", "caller", "accessKey", "user", "userArn"), None),
            **dict.fromkeys(("cognitoIdentityPoolId", "cognitoIdentityId"), None),
            **dict.fromkeys(("cognitoAuthenticationType", "cognitoAuthenticationProvider"), None),
        },
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": context,
        "body": text,
        "isBase64Encoded": encoded,
    }


def http_answer(outcome: Outcome) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP response for a function's proxy result; a function error or a malformed result is a 502."""
    result = outcome.result
    if outcome.kind != "ok" or not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        raise GatewayAnswer("DEFAULT_5XX", 502, "Internal server error")
    headers: list[tuple[str, str]] = [(k, str(v)) for k, v in (result.get("headers") or {}).items()]
    seen = {k.lower() for k, _ in headers}
    for key, values in (result.get("multiValueHeaders") or {}).items():
        if key.lower() not in seen:
            headers.extend((key, str(v)) for v in values)
    body = result.get("body") or ""
    payload = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    return int(result["statusCode"]), headers, payload


class Front:
    """The HTTP server on 127.0.0.1:$PORT (local/serving.py) and what it routes where."""

    def __init__(
        self,
        pools: dict[str, WorkerPool],
        control: Callable[[Request], tuple[int, Any]],
        sns_delivery: Callable[[str, bytes], None],
        port: int = 0,
    ):
        self.pools = pools
        self.control = control
        self.sns_delivery = sns_delivery
        self.routes = api_routes()
        self.rate_limiter = RateLimiter()
        self._http = HttpServer(self._app, "front", port=port)  # bound now: the URL is known before start()
        self.url = self._http.url
        self.start = self._http.start
        self.stop = self._http.stop

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        method, path = request.method, urlsplit(environ.get("RAW_URI") or request.full_path).path
        length = request.content_length or 0
        local_path = path.startswith("/_local") or path == "/dashboard"
        if length > MAX_PAYLOAD_BYTES or (not local_path and body_too_large(length)):
            answer = GatewayAnswer("REQUEST_TOO_LARGE", 413, "Request Too Long")
            status, headers, payload = answer.status, [*answer.headers.items(), JSON], answer.body
        elif path.startswith("/_local/sns/") and method == "POST":
            self.sns_delivery(path.rsplit("/", 1)[1], request.get_data())
            status, headers, payload = 200, [("Content-Type", "text/plain")], b""
        elif path.startswith("/_local/") or path == "/_local":
            status, answer = self.control(request)
            if isinstance(answer, bytes | str):
                headers, payload = [("Content-Type", "text/markdown; charset=utf-8")], answer
            else:
                headers, payload = [JSON], json.dumps(answer, ensure_ascii=False).encode()
        elif path == "/dashboard" and method in ("GET", "HEAD"):
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-store")]
            status, payload = 200, DASHBOARD.read_bytes()
        else:
            status, headers, payload = self.api(request, path)
        kept = [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
        response = Response(payload, status, kept)
        if not any(k.lower() == "content-type" for k, _ in kept):
            del response.headers["Content-Type"]  # a proxy result without one is passed on without one
        return response(environ, start_response)

    def api(self, request: Request, path: str):
        """``path`` is the path as sent, still percent-encoded, as routes and the event see it."""
        method, request_id = request.method, str(uuid.uuid4())
        source_ip = client_address(request.environ["REMOTE_ADDR"], request.headers.get("X-Forwarded-For"))
        try:
            blocked_by = self.rate_limiter.admit(source_ip, path)
            if blocked_by is not None:
                # The WAF's block: the gateway's throttled body, and a wait of the rule's window.
                answer = GatewayAnswer("THROTTLED", 429, "Too Many Requests")
                answer.headers = {**answer.headers, "Retry-After": str(blocked_by.window_s)}
                raise answer
            route = self.routes.get((path, method))
            if route is None:
                raise GatewayAnswer("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
            claims = claims_for(route, request.headers.get("Authorization"))
            if route.body_schema is not None and _body_problem(route.body_schema, request.get_data(), request.mimetype):
                raise GatewayAnswer("BAD_REQUEST_BODY", 400, "Invalid request body")
            event = proxy_event(route, request, path, claims, source_ip, request_id)
            try:
                outcome = self.pools[route.function_id].invoke(event, INTEGRATION_TIMEOUT_S, request_id)
            except NoWorkerError:
                raise GatewayAnswer("INTEGRATION_TIMEOUT", 504, "Endpoint request timed out") from None
            if outcome.kind != "ok":
                print(f"[front] {method} {path} -> {outcome.kind} on {outcome.worker}: {outcome.error}")
            status, headers, payload = http_answer(outcome)
            headers.append(("X-Local-Worker", outcome.worker))  # only on the function's own answers
        except GatewayAnswer as answer:
            status, headers, payload = answer.status, [*answer.headers.items(), JSON], answer.body
        return status, [*headers, ("x-amzn-RequestId", request_id)], payload
