"""The chat API: Powertools routes over the orchestrator, and the error contract every route keeps.

Routes: POST /chat (signed-in customers, Cognito), POST /chat/guest (guests, no authorizer; the same route
function and orchestrator, but never an identity), POST /feedback, GET /health, GET /status. Every failure a
client can cause gets a 4xx with ``{"error": {"code", "message"}}`` and nothing internal (no field values, no
exception text, no table names). Nothing a client sends produces a 5xx: an internal error on either chat
route still becomes a polite answer with a way to a human, and on the other routes a bare 500 body without
details. Every POST to a chat route is measured for the availability SLO (mangaassist.ops.slo).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Header
from aws_lambda_powertools.shared.json_encoder import Encoder

from mangaassist.chat.api_models import (
    MESSAGE_MAX_CHARS,
    ChatRequest,
    ChatResponse,
    ErrorResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    StatusResponse,
)
from mangaassist.chat.telemetry import ChatTelemetry
from mangaassist.observability import logger

if TYPE_CHECKING:  # the orchestrator is imported by the first /chat request, not at cold start
    from mangaassist.chat.orchestrator import ChatAnswer, ChatInput

API_TITLE = "MangaAssist chat API"
API_VERSION = "1.0.0"
JSON = content_types.APPLICATION_JSON

CHAT_PATH = "/chat"  # signed-in customers: API Gateway's Cognito authorizer fills claims.sub
GUEST_CHAT_PATH = "/chat/guest"  # guests: no authorizer, so never an identity
CHAT_PATHS = (CHAT_PATH, GUEST_CHAT_PATH)

# Methods each path answers; anything else on a known path is a 405 rather than a 404.
ROUTES: dict[str, tuple[str, ...]] = {
    CHAT_PATH: ("POST",),
    GUEST_CHAT_PATH: ("POST",),
    "/feedback": ("POST",),
    "/health": ("GET",),
    "/status": ("GET",),
}

# The request's Content-Type must be JSON; an absent header is taken as JSON (as Powertools does).
JSON_CONTENT_TYPE = r"^\s*application/json\s*(;.*)?$"

_ERRORS = {
    "invalid_json": "The request body is not valid JSON.",
    "invalid_request": "The request body does not match the expected shape.",
    "unsupported_media_type": "Send the request body as application/json.",
    "not_found": "There is no such resource.",
    "method_not_allowed": "This method is not allowed on this resource.",
    "internal_error": "Something went wrong on our side. Please try again.",
}

_FIELD_PROBLEMS = {
    "missing": "is required",
    "string_type": "must be a string",
    "string_too_short": "must not be empty",
    "string_too_long": "is too long",
    "string_pattern_mismatch": "has characters that are not allowed",
    "literal_error": "has a value that is not allowed",
    "model_attributes_type": "must be a JSON object",
    "dict_type": "must be a JSON object",
    "value_error": "is not acceptable",
    "extra_forbidden": "is not a field of this request",
}

ERROR_RESPONSES: dict[int, Any] = {
    status: {"description": description, "content": {JSON: {"model": ErrorResponse}}}
    for status, description in (
        (400, "malformed JSON"),
        (404, "unknown route"),
        (405, "method not allowed on this route"),
        (415, "the body is not application/json"),
        (422, "the body does not match the request model"),
        # Answered by the edge (the WAF, or locally the front) before the chat runs, in the same shape.
        (413, "the body is over the edge's 16 KB limit"),
        (429, "the caller's address is over a rate rule, or the stage is throttling"),
    )
}


class ChatRuntimeLike(Protocol):
    """What the routes need from the per-environment runtime (see mangaassist.chat.runtime)."""

    def answer(self, request: ChatInput, context: Any) -> ChatAnswer: ...

    def feedback(self, feedback: dict[str, Any], context: Any) -> bool: ...

    def health(self) -> tuple[bool, dict[str, dict[str, Any]]]: ...

    def status(self) -> dict[str, Any]: ...


def error_response(status: int, code: str, message: str | None = None, headers: dict | None = None) -> Response:
    return Response(
        status_code=status,
        content_type=JSON,
        body={"error": {"code": code, "message": message or _ERRORS[code]}},
        headers=headers or {},
    )


def _validation_message(errors: list[dict[str, Any]]) -> str:
    """Name the fields and what is wrong with them, never echo what the client sent."""
    problems = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ()) if part != "body"]
        field = loc[-1] if loc else "body"
        problem = _FIELD_PROBLEMS.get(err.get("type", ""), "is not valid")
        if field == "message" and err.get("type") in ("string_too_short", "string_too_long"):
            problem = f"must be 1 to {MESSAGE_MAX_CHARS} characters"
        elif field == "message" and err.get("type") == "value_error":
            problem = "must hold text and no NUL characters"
        problems.append(f"'{field}' {problem}")
    return "; ".join(dict.fromkeys(problems)) or _ERRORS["invalid_request"]


def answer_body(answer: ChatAnswer) -> dict[str, Any]:
    """The 200 body of /chat; ``orders``, ``items`` and ``banner`` appear only where relevant."""
    body = ChatResponse(
        message=answer.message,
        intent=answer.intent.value,
        language=answer.language,
        actions=[
            {"type": a.type, "label": a.label, "url": a.url, "message": a.message, "faq_id": a.faq_id}
            for a in answer.actions
        ],
        degraded=answer.degraded,
        degraded_reason=answer.degraded_reason,
        request_id=answer.request_id,
        session_id=answer.session_id,
        orders=[o.model_dump() for o in answer.orders] if answer.orders is not None else None,
        items=[p.model_dump() for p in answer.items] if answer.items is not None else None,
        banner=answer.banner,
        sources=[{"faq_id": s.faq_id, "title": s.title, "url": s.url} for s in answer.sources],
    ).model_dump(mode="json")
    for optional in ("orders", "items", "banner", "session_id"):
        if body[optional] is None:
            del body[optional]
    for action in body["actions"]:
        for optional in ("url", "message", "faq_id"):
            if action[optional] is None:
                del action[optional]
    return body


class ChatResolver(APIGatewayRestResolver):
    """Powertools' REST resolver that also measures the chat's SLI (mangaassist.ops.slo).

    Every POST to a chat route that ``resolve`` answers emits exactly one ChatRequests/ChatFailures document,
    whichever path produced the answer: a flow, a 4xx, or the apology after an internal error. An exception
    escaping ``resolve`` is a Lambda error that API Gateway counts as a 5XXError, which the SLI adds itself.
    """

    def __init__(self, telemetry: ChatTelemetry):
        # Plain UTF-8: Japanese as itself, not \\u-escaped (half the bytes, readable in curl and in logs).
        super().__init__(
            enable_validation=True,
            serializer=partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder),
        )
        self.telemetry = telemetry
        self.chat_failed = False  # the request being resolved got no useful answer (or got it too late)

    def on_chat_route(self) -> bool:
        event = self.current_event
        return str(event.get("httpMethod") or "").upper() == "POST" and chat_path(event.get("path")) is not None

    def on_guest_route(self) -> bool:
        return chat_path(self.current_event.get("path")) == GUEST_CHAT_PATH

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        self.chat_failed = False
        response = super().resolve(event, context)
        if self.on_chat_route():
            try:
                self.telemetry.chat_request(failed=self.chat_failed)
            except Exception:  # a lost datapoint must not turn an answer into a 5xx
                logger.exception("chat_sli_not_emitted")
        return response


def chat_path(path: Any) -> str | None:
    """The chat route a request path reaches (Powertools' REST resolver ignores trailing slashes), or None."""
    if not isinstance(path, str):
        return None
    normalised = path.rstrip("/")
    return normalised if normalised in CHAT_PATHS else None


def create_app(runtime: Callable[[], ChatRuntimeLike], telemetry: ChatTelemetry | None = None) -> ChatResolver:
    """The resolver with every route and error handler; ``runtime()`` is called per request (it caches)."""
    app = ChatResolver(telemetry or ChatTelemetry())

    def customer_id() -> str | None:
        # Identity only ever comes from the Cognito authorizer of POST /chat; the body and headers cannot claim
        # one. The guest route has no authorizer, so whatever its request context says, its customer is a guest.
        if app.on_guest_route():
            return None
        authorizer = (app.current_event.get("requestContext") or {}).get("authorizer") or {}
        claims = authorizer.get("claims") or {}
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) and 0 < len(sub) <= 128 else None

    def source_ip() -> str | None:
        # API Gateway's own view of the caller (the TCP peer at the edge), never X-Forwarded-For: the key of a
        # guest's Bedrock budget, so it must be what the caller cannot choose.
        identity = (app.current_event.get("requestContext") or {}).get("identity") or {}
        address = identity.get("sourceIp") if isinstance(identity, dict) else None
        return address if isinstance(address, str) and 0 < len(address) <= 64 else None

    def body_is_object() -> bool:
        # Powertools validates the first element of a JSON array as if it were the body; we want objects only.
        return isinstance(app.current_event.json_body, dict)

    def not_an_object() -> Response:
        return error_response(422, "invalid_request", "'body' must be a JSON object")

    def request_id() -> str:
        context_id = (app.current_event.get("requestContext") or {}).get("requestId")
        lambda_id = getattr(app.lambda_context, "aws_request_id", None)
        return str(context_id or lambda_id or uuid.uuid4())

    # Routes carry no return annotation on purpose: Powertools would re-validate and re-serialise the body
    # through the model, putting back the keys an answer leaves out; the OpenAPI schema comes from
    # ``responses`` instead.
    # One route function serves both chat routes: the same validation, orchestrator and answer; only the
    # identity differs, and it comes from the request context (see customer_id).
    def chat(
        body: ChatRequest,
        content_type: Annotated[str | None, Header(alias="content-type", pattern=JSON_CONTENT_TYPE)] = None,
    ):
        from mangaassist.chat.orchestrator import ChatInput

        if not body_is_object():
            return not_an_object()
        request = ChatInput(
            message=body.message,
            customer_id=customer_id(),
            session_id=body.session_id,
            request_id=request_id(),
            source_ip=source_ip(),
        )
        answer = runtime().answer(request, app.lambda_context)
        app.chat_failed = answer.failed
        return Response(status_code=200, content_type=JSON, body=answer_body(answer))

    chat_responses = {200: {"description": "the answer", "content": {JSON: {"model": ChatResponse}}}, **ERROR_RESPONSES}
    app.post(
        CHAT_PATH,
        summary="Answer one signed-in customer's message",
        description="Intent by rules, answer by the best flow the current capabilities allow. Identity comes "
        "only from the Cognito authorizer (claims.sub); the body cannot claim one.",
        responses=chat_responses,
        tags=["chat"],
    )(chat)
    app.post(
        GUEST_CHAT_PATH,
        summary="Answer one guest's message",
        description="The same answer as POST /chat for a customer who is not signed in: everything but personal "
        "data (order tracking and returns ask the guest to sign in). No authorizer, so never an identity, "
        "whatever the body or headers say.",
        responses=chat_responses,
        tags=["chat"],
    )(chat)

    @app.post(
        "/feedback",
        summary="Rate an answer",
        description="Accepted whatever happens next: while the feedback service is down the rating is dropped "
        "and the loss counted (FeedbackDropped).",
        responses={202: {"description": "accepted", "content": {JSON: {"model": FeedbackResponse}}}, **ERROR_RESPONSES},
        tags=["chat"],
    )
    def feedback(
        body: FeedbackRequest,
        content_type: Annotated[str | None, Header(alias="content-type", pattern=JSON_CONTENT_TYPE)] = None,
    ):
        if not body_is_object():
            return not_an_object()
        payload = {**body.model_dump(), "customer_id": customer_id()}
        runtime().feedback(payload, app.lambda_context)
        return Response(status_code=202, content_type=JSON, body={"status": "accepted"})

    @app.get(
        "/health",
        summary="Readiness: state store and FAQ store reachable",
        responses={
            200: {"description": "healthy", "content": {JSON: {"model": HealthResponse}}},
            503: {"description": "unhealthy", "content": {JSON: {"model": HealthResponse}}},
            422: ERROR_RESPONSES[422],
        },
        tags=["operations"],
    )
    def health():
        healthy, checks = runtime().health()
        body = HealthResponse(status="healthy" if healthy else "unhealthy", checks=checks).model_dump(mode="json")
        return Response(status_code=200 if healthy else 503, content_type=JSON, body=body)

    @app.get(
        "/status",
        summary="Service health dashboard and capability map",
        responses={
            200: {"description": "current status", "content": {JSON: {"model": StatusResponse}}},
            422: ERROR_RESPONSES[422],
        },
        tags=["operations"],
    )
    def status():
        body = StatusResponse.model_validate(runtime().status()).model_dump(mode="json")
        return Response(status_code=200, content_type=JSON, body=body)

    # ------------------------------------------------------------ the error contract

    @app.exception_handler(RequestValidationError)
    def invalid_request(exc: RequestValidationError) -> Response:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return error_response(400, "invalid_json")
        if any(tuple(e.get("loc", ()))[:1] == ("header",) for e in errors):
            return error_response(415, "unsupported_media_type")
        return error_response(422, "invalid_request", _validation_message(errors))

    @app.exception_handler(RequestUnsupportedContentType)
    def unsupported_media_type(_exc: RequestUnsupportedContentType) -> Response:
        return error_response(415, "unsupported_media_type")

    @app.not_found
    def not_found(_exc: NotFoundError) -> Response:
        path = app.current_event.path
        allowed = ROUTES.get(path.rstrip("/") or "/")
        if allowed:
            return error_response(405, "method_not_allowed", headers={"Allow": ", ".join(allowed)})
        return error_response(404, "not_found")

    @app.exception_handler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        status = int(exc.status_code)
        if status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE:
            return error_response(415, "unsupported_media_type")
        if 400 <= status < 500:
            return error_response(status, "invalid_request")
        return _internal_error(exc)

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        return _internal_error(exc)

    def _internal_error(exc: Exception) -> Response:
        # Powertools parses form and multipart bodies itself before any route runs, and some malformed ones
        # (multipart without a boundary) raise plain errors: a non-JSON body is the client's doing, a 415.
        if app.current_event.body and not _declares_json():
            return error_response(415, "unsupported_media_type")
        # A body that cannot even be decoded (bad base64, bad UTF-8, absurd nesting) is the client's doing.
        if _unreadable_body():
            return error_response(400, "invalid_json")
        logger.exception("unhandled_error", extra={"path": app.current_event.path})
        if app.on_chat_route():
            app.chat_failed = True
            return _chat_apology()
        return error_response(500, "internal_error")

    def _declares_json() -> bool:
        content_type = app.current_event.headers.get("content-type")
        return content_type is None or re.match(JSON_CONTENT_TYPE, content_type) is not None

    def _unreadable_body() -> bool:
        if not app.current_event.body:
            return False
        try:
            app.current_event.json_body  # noqa: B018 - decoding it is the check
        except (ValueError, RecursionError):  # JSONDecodeError, binascii.Error, UnicodeDecodeError are ValueErrors
            return True
        return False

    def _chat_apology() -> Response:
        from mangaassist.chat.replies import label, text

        lang = _language_of_body()
        body = {
            "message": text("something_went_wrong", lang),
            "intent": "open_ended",
            "language": lang,
            "actions": [{"type": "escalation", "label": label("escalation", lang)}],
            "degraded": True,
            "degraded_reason": None,
            "request_id": request_id(),
        }
        return Response(status_code=200, content_type=JSON, body=body)

    def _language_of_body() -> str:
        try:
            message = app.current_event.json_body.get("message")
            from mangaassist.language import detect_language

            return detect_language(message) if isinstance(message, str) else "en"
        except Exception:  # the apology itself must not fail
            return "en"

    app.configure_openapi(title=API_TITLE, version=API_VERSION)
    return app
