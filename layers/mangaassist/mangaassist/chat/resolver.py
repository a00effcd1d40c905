"""The chat's Powertools resolver, the paths it serves, and the SLI it measures once per chat request.

Every POST to a chat route that ``resolve`` answers emits exactly one ChatRequests/ChatFailures document
(mangaassist.ops.slo), whichever path produced the answer: a flow, a 4xx, or the apology after an internal
error. An exception escaping ``resolve`` is a Lambda error that API Gateway counts as a 5XXError, which the
SLI adds itself.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import partial
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, content_types
from aws_lambda_powertools.shared.json_encoder import Encoder

from mangaassist.chat.telemetry import ChatTelemetry
from mangaassist.observability import logger

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

_OUTCOME_KEY = "chat_outcome"


@dataclass
class ChatOutcome:
    """What the SLI needs from one request; created per request and reached through the resolver's context."""

    failed: bool = False  # no useful answer (or one that came too late)


def chat_path(path: Any) -> str | None:
    """The chat route a request path reaches (Powertools' REST resolver ignores trailing slashes), or None."""
    if not isinstance(path, str):
        return None
    normalised = path.rstrip("/")
    return normalised if normalised in CHAT_PATHS else None


class ChatResolver(APIGatewayRestResolver):
    """Powertools' REST resolver that also measures the chat's SLI (see the module docstring)."""

    def __init__(self, telemetry: ChatTelemetry):
        # Plain UTF-8: Japanese as itself, not \\u-escaped (half the bytes, readable in curl and in logs).
        super().__init__(
            enable_validation=True,
            serializer=partial(json.dumps, separators=(",", ":"), ensure_ascii=False, cls=Encoder),
        )
        self.telemetry = telemetry

    def on_chat_route(self) -> bool:
        event = self.current_event
        return str(event.get("httpMethod") or "").upper() == "POST" and chat_path(event.get("path")) is not None

    def on_guest_route(self) -> bool:
        return chat_path(self.current_event.get("path")) == GUEST_CHAT_PATH

    def request_id(self) -> str:
        context_id = (self.current_event.get("requestContext") or {}).get("requestId")
        lambda_id = getattr(self.lambda_context, "aws_request_id", None)
        return str(context_id or lambda_id or uuid.uuid4())

    def mark_chat_failed(self, failed: bool = True) -> None:
        self.context[_OUTCOME_KEY].failed = failed

    def resolve(self, event: Any, context: Any) -> dict[str, Any]:
        # Powertools empties the context when resolve ends, so the outcome object is kept here to read after.
        outcome = ChatOutcome()
        self.append_context(**{_OUTCOME_KEY: outcome})
        response = super().resolve(event, context)
        if self.on_chat_route():
            try:
                self.telemetry.chat_request(failed=outcome.failed)
            except Exception:  # a lost datapoint must not turn an answer into a 5xx
                logger.exception("chat_sli_not_emitted")
        return response
