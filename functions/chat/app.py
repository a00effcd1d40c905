"""Chat Lambda: POST /chat, POST /chat/guest, POST /feedback, GET /health, GET /status behind API Gateway (REST)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from mangaassist.chat.app_factory import create_app
from mangaassist.chat.runtime import ChatRuntime
from mangaassist.observability import capture_lambda_handler, logger

# One runtime per execution environment; its clients, breaker and FAQ store are built on first use.
runtime = ChatRuntime()
app = create_app(lambda: runtime)


def bootstrap(**wiring: Any) -> ChatRuntime:
    """A runtime wired otherwise, before the first event: the local stack's game days pass a scaled registry."""
    global runtime
    runtime = ChatRuntime(**wiring)
    return runtime


# Metrics are single EMF documents (breaker, chat telemetry, the SLI), so nothing needs flushing at the end.
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
