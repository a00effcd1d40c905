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
    def forbidden_metric(self) -> str:
        """401/403 answers: our signature refused. Never an outage the breaker counts, so it has its own alarm."""
        return f"{self.metric_prefix}Forbidden"

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


def _spec(row: tuple, capabilities: tuple[str, ...], **extra) -> ServiceSpec:
    name, display_name, tier, failure_threshold, open_seconds, timeout_ms, slow_call_ms, metric_prefix, share = row
    return ServiceSpec(
        name=name,
        display_name=display_name,
        tier=tier,
        breaker=BreakerSettings(failure_threshold=failure_threshold, open_seconds=open_seconds),
        timeout_ms=timeout_ms,
        slow_call_ms=slow_call_ms,
        fallback=_FALLBACK[name],
        impact=_IMPACT[name],
        metric_prefix=metric_prefix,
        runbook=f"{name.replace('_', '-')}-unavailable",
        capabilities=capabilities,
        traffic_share=share,
        **extra,
    )


# The design's degradation matrix (Q36): what the chatbot does instead while a service is down ...
_FALLBACK: dict[str, str] = {
    "catalog": "text-only answer plus a link to the store page",
    "llm": "templates for known intents; honest 'I can't help with that' plus escalation for open-ended",
    "recommendations": "popular/trending manga from the catalog",
    "order_service": "link to the order history page plus escalation",
    "returns_service": "link to the returns help page plus escalation",
    "promotions": "skip promotion nudges",
    "user_profile": "treat the customer as a guest (no personalisation)",
    "analytics": "log the event locally for later replay",
    "feedback": "drop the feedback and count the loss",
}
# ... and what users lose meanwhile.
_IMPACT: dict[str, str] = {
    "catalog": "No product details; FAQ still answered",
    "llm": "Limited natural-language understanding; templates answer known intents",
    "recommendations": "No personalised recommendations",
    "order_service": "Users cannot track orders",
    "returns_service": "Users cannot start returns in chat",
    "promotions": "No promotion nudges",
    "user_profile": "No personalisation",
    "analytics": "None in real time; events replayed later",
    "feedback": "Some feedback is lost",
}

# The criticality matrix (Q34) beside the breaker and timeout table (Q17), one row a service. Every service's
# runbook is docs/runbooks/<name with dashes>-unavailable.md.
# fmt: off
SERVICES: tuple[ServiceSpec, ...] = (
    #      name               display name       tier               fails open  timeout slow  metric prefix      share
    _spec(("catalog",         "Product Catalog", Tier.CRITICAL,     5,    30,   800,    600,  "Catalog",         0.30),
          ("product_info", "popular_items")),
    _spec(("llm",             "Bedrock LLM",     Tier.CRITICAL,     3,    120,  6000,   5000, "Bedrock",         0.40),
          ("generated_answers",), kind="bedrock", aliases=("bedrock",)),
    _spec(("recommendations", "Recommendations", Tier.IMPORTANT,    5,    30,   800,    600,  "Recommendations", 0.15),
          ("personalized_recommendations",)),
    _spec(("order_service",   "Order Service",   Tier.IMPORTANT,    3,    60,   1000,   900,  "OrderService",    0.20),
          ("order_tracking",)),
    _spec(("returns_service", "Returns Service", Tier.NICE_TO_HAVE, 5,    30,   1000,   800,  "ReturnsService",  0.05),
          ("return_requests",)),
    _spec(("promotions",      "Promotions",      Tier.NICE_TO_HAVE, 10,   15,   300,    250,  "Promotions",      0.0),
          ("promotion_nudges",)),
    _spec(("user_profile",    "User Profile",    Tier.NICE_TO_HAVE, 5,    30,   300,    250,  "UserProfile",     0.0),
          ("personalization",)),
    _spec(("analytics",       "Analytics",       Tier.ASYNC,        5,    30,   200,    150,  "Analytics",       0.0),
          ("analytics",)),
    _spec(("feedback",        "Feedback",        Tier.ASYNC,        5,    30,   300,    250,  "Feedback",        0.0),
          ("feedback",)),
)
# fmt: on

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
