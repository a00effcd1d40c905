"""The chat API's routes: POST /chat and /chat/guest, POST /feedback, GET /health, GET /status.

Both chat routes run one route function (the same validation, orchestrator and answer); only the identity
differs, and it comes from the request context, never from the body or headers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Header

from mangaassist.chat.api_models import (
    ChatRequest,
    ChatResponse,
    FeedbackRequest,
    FeedbackResponse,
    HealthResponse,
    StatusResponse,
)
from mangaassist.chat.errors import ERROR_RESPONSES, error_response
from mangaassist.chat.resolver import CHAT_PATH, GUEST_CHAT_PATH, JSON, JSON_CONTENT_TYPE, ChatResolver

if TYPE_CHECKING:  # the orchestrator is imported by the first /chat request, not at cold start
    from mangaassist.chat.orchestrator import ChatAnswer, ChatInput


class ChatRuntimeLike(Protocol):
    """What the routes need from the per-environment runtime (see mangaassist.chat.runtime)."""

    def answer(self, request: ChatInput, context: Any) -> ChatAnswer: ...

    def feedback(self, feedback: dict[str, Any], context: Any) -> bool: ...

    def health(self) -> tuple[bool, dict[str, dict[str, Any]]]: ...

    def status(self) -> dict[str, Any]: ...


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


def customer_id(app: ChatResolver) -> str | None:
    # Identity only ever comes from the Cognito authorizer of POST /chat; the body and headers cannot claim
    # one. The guest route has no authorizer, so whatever its request context says, its customer is a guest.
    if app.on_guest_route():
        return None
    authorizer = (app.current_event.get("requestContext") or {}).get("authorizer") or {}
    claims = authorizer.get("claims") or {}
    sub = claims.get("sub") if isinstance(claims, dict) else None
    return sub if isinstance(sub, str) and 0 < len(sub) <= 128 else None


def source_ip(app: ChatResolver) -> str | None:
    # API Gateway's own view of the caller (the TCP peer at the edge), never X-Forwarded-For: the key of a
    # guest's Bedrock budget, so it must be what the caller cannot choose.
    identity = (app.current_event.get("requestContext") or {}).get("identity") or {}
    address = identity.get("sourceIp") if isinstance(identity, dict) else None
    return address if isinstance(address, str) and 0 < len(address) <= 64 else None


def body_is_object(app: ChatResolver) -> bool:
    # Powertools validates the first element of a JSON array as if it were the body; we want objects only.
    return isinstance(app.current_event.json_body, dict)


def not_an_object() -> Response:
    return error_response(422, "invalid_request", "'body' must be a JSON object")


def register_routes(app: ChatResolver, runtime: Callable[[], ChatRuntimeLike]) -> None:
    """Every route on ``app``; ``runtime()`` is called per request (it caches)."""

    # Routes carry no return annotation on purpose: Powertools would re-validate and re-serialise the body
    # through the model, putting back the keys an answer leaves out; the OpenAPI schema comes from
    # ``responses`` instead.
    def chat(
        body: ChatRequest,
        content_type: Annotated[str | None, Header(alias="content-type", pattern=JSON_CONTENT_TYPE)] = None,
    ):
        from mangaassist.chat.orchestrator import ChatInput

        if not body_is_object(app):
            return not_an_object()
        request = ChatInput(
            message=body.message,
            customer_id=customer_id(app),
            session_id=body.session_id,
            request_id=app.request_id(),
            source_ip=source_ip(app),
        )
        answer = runtime().answer(request, app.lambda_context)
        app.mark_chat_failed(answer.failed)
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
        if not body_is_object(app):
            return not_an_object()
        payload = {**body.model_dump(), "customer_id": customer_id(app)}
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
