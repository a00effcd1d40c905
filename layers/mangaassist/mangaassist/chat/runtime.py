"""The chat's per-environment wiring, built from environment variables on first use.

Nothing here runs at import: boto3 alone costs ~100 ms, so clients, the breaker, the adapters and the
FAQ store are created by the first request that needs them and then live as long as the execution
environment (one CircuitBreakers, one HttpDownstream, one BedrockLlm, one FaqStore).

Environment: STATE_TABLE, STATE_CACHE_TTL_S, FAQ_BUCKET, FAQ_KEY, BEDROCK_MODEL_ID, <SERVICE>_URL for
every HTTP service, STORE_BASE_URL (links), BANNER_CACHE_S, CLIENT_KEY_SECRET_ID (the per-client budget's
HMAC key; unset, no per-client Bedrock budget); endpoints from AWS_ENDPOINT_URL[_<SERVICE>].
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mangaassist.registry import REGISTRY, ServiceSpec

if TYPE_CHECKING:
    from mangaassist.chat.banner import BannerBoard
    from mangaassist.chat.orchestrator import ChatAnswer, ChatInput, Orchestrator

READINESS_KEY = {"pk": {"S": "flags"}, "sk": {"S": "banner"}}  # any key: a GetItem is the cheapest data-plane read


class ChatRuntime:
    """Everything one execution environment shares between requests."""

    def __init__(self, registry: Mapping[str, ServiceSpec] = REGISTRY):
        self.registry = registry

    @functools.cached_property
    def table_name(self) -> str:
        return os.environ["STATE_TABLE"]

    @functools.cached_property
    def dynamodb(self) -> Any:
        from mangaassist.aws_clients import client

        return client("dynamodb", hot_path=True)

    @functools.cached_property
    def breakers(self):
        from mangaassist.breaker_factory import breakers_from_env

        return breakers_from_env(hot_path=True, registry=self.registry)

    @functools.cached_property
    def downstream(self):
        from mangaassist.downstream.http_services import HttpDownstream

        return HttpDownstream(self.breakers)

    @functools.cached_property
    def llm(self):
        from mangaassist.downstream.bedrock import BedrockLlm

        return BedrockLlm(self.breakers)

    @functools.cached_property
    def health_store(self):
        from mangaassist.health import HealthStore

        return HealthStore(self.table_name, self.dynamodb, registry=self.registry)

    @functools.cached_property
    def banner_board(self) -> BannerBoard:
        from mangaassist.chat.banner import BANNER_CACHE_S, BannerBoard

        return BannerBoard(
            self.health_store.load_banners, ttl_s=float(os.getenv("BANNER_CACHE_S", str(BANNER_CACHE_S)))
        )

    @functools.cached_property
    def faq_store(self):
        from mangaassist.faq import FaqStore
        from mangaassist.understanding.encoder import shared_encoder

        return FaqStore.from_env(encoder=shared_encoder)

    @functools.cached_property
    def classifier(self):
        from mangaassist.chat.intent_classifier import shared_classifier

        return shared_classifier()

    @functools.cached_property
    def llm_budget(self):
        secret_id = os.getenv("CLIENT_KEY_SECRET_ID", "")
        if not secret_id:
            return None
        from mangaassist.aws_clients import client
        from mangaassist.chat.client_budget import ClientBudget
        from mangaassist.chat.client_budget_store import DynamoBudgetStore, SecretKey

        key = SecretKey(secret_id, lambda: client("secretsmanager", hot_path=True))
        return ClientBudget(DynamoBudgetStore(self.table_name, self.dynamodb), key)

    @functools.cached_property
    def orchestrator(self) -> Orchestrator:
        from mangaassist.chat.orchestrator import Orchestrator
        from mangaassist.chat.replies import Links
        from mangaassist.language import detect_language

        return Orchestrator(
            breakers=self.breakers,
            downstream=self.downstream,
            llm=self.llm,
            detect_language=detect_language,
            faq=self._faq_index,
            banner=self.banner_board.current,
            links=Links.from_env(),
            classifier=self.classifier,
            llm_budget=self.llm_budget,
        )

    # ------------------------------------------------------------ what the routes call

    def answer(self, request: ChatInput, context: Any) -> ChatAnswer:
        return self.orchestrator.answer(request, context)

    def feedback(self, feedback: dict[str, Any], context: Any) -> bool:
        return self.orchestrator.feedback(feedback, context)

    def health(self) -> tuple[bool, dict[str, dict[str, Any]]]:
        from mangaassist.chat.health_check import run_checks

        return run_checks(
            self._state_store_reachable, self._faq_store_reachable, state_store_client=lambda: self.dynamodb
        )

    def status(self) -> dict[str, Any]:
        from mangaassist.status_view import status_body

        return status_body(self.breakers, self.health_store.load_all, self.banner_board.current())

    def _state_store_reachable(self) -> None:
        self.dynamodb.get_item(TableName=self.table_name, Key=READINESS_KEY, ProjectionExpression="pk")

    def _faq_index(self) -> Any:
        # Reached through the store on every message, so an ETag refresh takes effect without a restart;
        # a store that cannot even be built leaves the chat answering without FAQ matches.
        return self.faq_store.index()

    def _faq_store_reachable(self) -> bool:
        return bool(self.faq_store.healthy())
