"""The chat API's error contract: every failure a client can cause is a 4xx ``{"error": {"code", "message"}}``.

Nothing internal is ever said (no field values, no exception text, no table names). An internal error on
either chat route still becomes a polite answer with a way to a human (counted as a failed chat by the SLI);
on the other routes a bare 500 body without details.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from mangaassist.chat.api_models import MESSAGE_MAX_CHARS, ErrorResponse
from mangaassist.chat.resolver import JSON, JSON_CONTENT_TYPE, ROUTES, ChatResolver
from mangaassist.observability import logger

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


def register_error_handlers(app: ChatResolver) -> None:
    """Powertools' validation, content-type, 404 and uncaught errors answered in the contract's shape."""

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
        return _internal_error(app, exc)

    @app.exception_handler(Exception)
    def unexpected(exc: Exception) -> Response:
        return _internal_error(app, exc)


def _internal_error(app: ChatResolver, exc: Exception) -> Response:
    # Powertools parses form and multipart bodies itself before any route runs, and some malformed ones
    # (multipart without a boundary) raise plain errors: a non-JSON body is the client's doing, a 415.
    if app.current_event.body and not _declares_json(app):
        return error_response(415, "unsupported_media_type")
    # A body that cannot even be decoded (bad base64, bad UTF-8, absurd nesting) is the client's doing.
    if _unreadable_body(app):
        return error_response(400, "invalid_json")
    logger.exception("unhandled_error", extra={"path": app.current_event.path})
    if app.on_chat_route():
        app.mark_chat_failed()
        return _chat_apology(app)
    return error_response(500, "internal_error")


def _declares_json(app: ChatResolver) -> bool:
    content_type = app.current_event.headers.get("content-type")
    return content_type is None or re.match(JSON_CONTENT_TYPE, content_type) is not None


def _unreadable_body(app: ChatResolver) -> bool:
    if not app.current_event.body:
        return False
    try:
        app.current_event.json_body  # noqa: B018 - decoding it is the check
    except (ValueError, RecursionError):  # JSONDecodeError, binascii.Error, UnicodeDecodeError are ValueErrors
        return True
    return False


def _chat_apology(app: ChatResolver) -> Response:
    from mangaassist.chat.replies import label, text

    lang = _language_of_body(app)
    body = {
        "message": text("something_went_wrong", lang),
        "intent": "open_ended",
        "language": lang,
        "actions": [{"type": "escalation", "label": label("escalation", lang)}],
        "degraded": True,
        "degraded_reason": None,
        "request_id": app.request_id(),
    }
    return Response(status_code=200, content_type=JSON, body=body)


def _language_of_body(app: ChatResolver) -> str:
    try:
        message = app.current_event.json_body.get("message")
        from mangaassist.language import detect_language

        return detect_language(message) if isinstance(message, str) else "en"
    except Exception:  # the apology itself must not fail
        return "en"
