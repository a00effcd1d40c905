"""The service registry: the one place that says which dependencies MangaAssist has and how each fails.

Everything else (breakers, capability map, health pinger, status page, alarms, dashboards,
runbook links, tests) reads this module. The numbers come from the design (Q17, Q34, Q36).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from types import MappingProxyType

METRIC_NAMESPACE = "MangaAssist/ServiceHealth"
STATE_CIRCUITS_PK = "circuits"


class Tier(IntEnum):
    """Criticality tiers from the design's service criticality matrix (Q34)."""

    CRITICAL = 1  # chatbot fails gracefully if down
    IMPORTANT = 2  # degraded experience if down
    NICE_TO_HAVE = 3  # minor feature loss if down
    ASYNC = 4  # no real-time impact if down

    @property
    def severity(self) -> str:
        """Paging severity an alarm on a service of this tier carries."""
        return {1: "P1", 2: "P2", 3: "P3", 4: "P4"}[int(self)]


@dataclass(frozen=True)
class BreakerSettings:
    failure_threshold: int  # failures inside the window that open the circuit
    open_seconds: int  # how long the circuit stays open before one probe is allowed
    window_seconds: int = 60  # rolling window in which failures are counted
    probe_successes: int = 1  # successful probes needed to close a half-open circuit
    probe_lease_seconds: int = 10  # a probe owner that vanishes loses its lease after this
    max_open_seconds: int = 600  # cap for the backoff after failed probes


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # canonical name: API, metric dimension, state key, env var prefix
    display_name: str  # as the design's health dashboard prints it
    tier: Tier
    breaker: BreakerSettings
    timeout_ms: int  # per-call timeout the adapter enforces
    slow_call_ms: int  # a successful call slower than this still counts as a failure
    fallback: str  # what the chatbot does instead (design's degradation matrix)
    impact: str  # what users lose while it is down
    metric_prefix: str  # <prefix>Error, <prefix>Timeout, ...
    runbook: str  # docs/runbooks/<runbook>.md
    capabilities: tuple[str, ...]  # capabilities this service backs
    kind: str = "http"  # "http" (requests, base URL from <NAME>_URL) or "bedrock"
    health_path: str = "/health"
    ping_failures_to_open: int = 3  # consecutive failed health pings that open the circuit fleet-wide
    traffic_share: float = 0.0  # share of chat traffic that needs it, for runbooks and budgets
    aliases: tuple[str, ...] = field(default=())

    @property
    def url_env(self) -> str:
        return f"{self.name.upper()}_URL"

    @property
    def error_metric(self) -> str:
        return f"{self.metric_prefix}Error"

    @property
    def timeout_metric(self) -> str:
        return f"{self.metric_prefix}Timeout"

    @property
    def latency_metric(self) -> str:
        return f"{self.metric_prefix}Latency"

    @property
    def circuit_open_alarm(self) -> str:
        return f"{self.metric_prefix}CircuitOpen"

    @property
    def unavailable_reason(self) -> str:
        return f"{self.name}_unavailable"


# Metric names shared by every service (the service is the `service` dimension).
CIRCUIT_OPEN_METRIC = "CircuitOpen"  # 1 while open or half-open, 0 while closed
CIRCUIT_TRANSITION_METRIC = "CircuitTransition"
SHORT_CIRCUITED_METRIC = "ShortCircuitedCalls"
DEPENDENCY_LATENCY_METRIC = "DependencyLatency"
PING_AVAILABILITY_METRIC = "PingAvailability"
PING_LATENCY_METRIC = "PingLatency"


def _svc(**kwargs) -> ServiceSpec:
    return ServiceSpec(**kwargs)


SERVICES: tuple[ServiceSpec, ...] = (
    _svc(
        name="catalog",
        display_name="Product Catalog",
        tier=Tier.CRITICAL,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=800,
        slow_call_ms=600,
        fallback="text-only answer plus a link to the store page",
        impact="No product details; FAQ still answered",
        metric_prefix="Catalog",
        runbook="catalog-unavailable",
        capabilities=("product_info", "popular_items"),
        traffic_share=0.30,
    ),
    _svc(
        name="llm",
        display_name="Bedrock LLM",
        tier=Tier.CRITICAL,
        breaker=BreakerSettings(failure_threshold=3, open_seconds=120),
        timeout_ms=6000,
        slow_call_ms=5000,
        fallback="templates for known intents; honest 'I can't help with that' plus escalation for open-ended",
        impact="Limited natural-language understanding; templates answer known intents",
        metric_prefix="Bedrock",
        runbook="llm-unavailable",
        capabilities=("generated_answers",),
        kind="bedrock",
        traffic_share=0.40,
        aliases=("bedrock",),
    ),
    _svc(
        name="recommendations",
        display_name="Recommendations",
        tier=Tier.IMPORTANT,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=800,
        slow_call_ms=600,
        fallback="popular/trending manga from the catalog",
        impact="No personalised recommendations",
        metric_prefix="Recommendations",
        runbook="recommendations-unavailable",
        capabilities=("personalized_recommendations",),
        traffic_share=0.15,
    ),
    _svc(
        name="order_service",
        display_name="Order Service",
        tier=Tier.IMPORTANT,
        breaker=BreakerSettings(failure_threshold=3, open_seconds=60),
        timeout_ms=1000,
        slow_call_ms=900,
        fallback="link to the order history page plus escalation",
        impact="Users cannot track orders",
        metric_prefix="OrderService",
        runbook="order-service-unavailable",
        capabilities=("order_tracking",),
        traffic_share=0.20,
    ),
    _svc(
        name="returns_service",
        display_name="Returns Service",
        tier=Tier.NICE_TO_HAVE,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=1000,
        slow_call_ms=800,
        fallback="link to the returns help page plus escalation",
        impact="Users cannot start returns in chat",
        metric_prefix="ReturnsService",
        runbook="returns-service-unavailable",
        capabilities=("return_requests",),
        traffic_share=0.05,
    ),
    _svc(
        name="promotions",
        display_name="Promotions",
        tier=Tier.NICE_TO_HAVE,
        breaker=BreakerSettings(failure_threshold=10, open_seconds=15),
        timeout_ms=300,
        slow_call_ms=250,
        fallback="skip promotion nudges",
        impact="No promotion nudges",
        metric_prefix="Promotions",
        runbook="promotions-unavailable",
        capabilities=("promotion_nudges",),
    ),
    _svc(
        name="user_profile",
        display_name="User Profile",
        tier=Tier.NICE_TO_HAVE,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=300,
        slow_call_ms=250,
        fallback="treat the customer as a guest (no personalisation)",
        impact="No personalisation",
        metric_prefix="UserProfile",
        runbook="user-profile-unavailable",
        capabilities=("personalization",),
    ),
    _svc(
        name="analytics",
        display_name="Analytics",
        tier=Tier.ASYNC,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=200,
        slow_call_ms=150,
        fallback="log the event locally for later replay",
        impact="None in real time; events replayed later",
        metric_prefix="Analytics",
        runbook="analytics-unavailable",
        capabilities=("analytics",),
    ),
    _svc(
        name="feedback",
        display_name="Feedback",
        tier=Tier.ASYNC,
        breaker=BreakerSettings(failure_threshold=5, open_seconds=30),
        timeout_ms=300,
        slow_call_ms=250,
        fallback="drop the feedback and count the loss",
        impact="Some feedback is lost",
        metric_prefix="Feedback",
        runbook="feedback-unavailable",
        capabilities=("feedback",),
    ),
)

# Read-only: a process that needs other numbers (the game days' shorter open periods) builds its own copy and
# passes it to the wiring, so no import order or worker can change what every other reader sees.
REGISTRY: Mapping[str, ServiceSpec] = MappingProxyType({spec.name: spec for spec in SERVICES})
SERVICE_NAMES: tuple[str, ...] = tuple(REGISTRY)

# Parts of the platform that are not downstream services but still fail and have runbooks.
PLATFORM_RUNBOOKS: dict[str, str] = {
    "state_store": "state-store-unavailable",
    "faq_store": "faq-store-unavailable",
    "region": "regional-failover",
}


def service(name: str) -> ServiceSpec:
    """The spec for a canonical service name (or a known alias); KeyError for anything else."""
    if name in REGISTRY:
        return REGISTRY[name]
    for spec in SERVICES:
        if name in spec.aliases:
            return spec
    raise KeyError(f"unknown service {name!r}; known: {', '.join(SERVICE_NAMES)}")


def by_metric_prefix(prefix: str) -> ServiceSpec | None:
    for spec in SERVICES:
        if spec.metric_prefix == prefix:
            return spec
    return None
