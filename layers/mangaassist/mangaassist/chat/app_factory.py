"""The chat API: the resolver (``resolver``), its routes (``routes``) and its error contract (``errors``).

Routes: POST /chat (signed-in customers, Cognito), POST /chat/guest (guests, no authorizer; the same route
function and orchestrator, but never an identity), POST /feedback, GET /health, GET /status. Every failure a
client can cause gets a 4xx with ``{"error": {"code", "message"}}`` and nothing internal. Nothing a client
sends produces a 5xx. Every POST to a chat route is measured for the availability SLO (mangaassist.ops.slo).
"""

from __future__ import annotations

from collections.abc import Callable

from mangaassist.chat.errors import register_error_handlers
from mangaassist.chat.resolver import ChatResolver
from mangaassist.chat.routes import ChatRuntimeLike, register_routes
from mangaassist.chat.telemetry import ChatTelemetry

API_TITLE = "MangaAssist chat API"
API_VERSION = "1.0.0"


def create_app(runtime: Callable[[], ChatRuntimeLike], telemetry: ChatTelemetry | None = None) -> ChatResolver:
    """The resolver with every route and error handler; ``runtime()`` is called per request (it caches)."""
    app = ChatResolver(telemetry or ChatTelemetry())
    register_routes(app, runtime)
    register_error_handlers(app)
    app.configure_openapi(title=API_TITLE, version=API_VERSION)
    return app
