"""Every CloudWatch alarm MangaAssist deploys: its name, severity, runbook and whom it is about.

template.yaml's alarms are generated from this catalog plus the registry (scripts/generate_template_parts.py),
each alarm's description starts with ``<severity> | Runbook: <name> |`` and the alarm relay can look an alarm
up here by name, so the runbook link in a page can never disagree with the deployed alarm.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from mangaassist.ops.paging import pages
from mangaassist.ops.slo import BURN_RATE_ALERTS, window_label
from mangaassist.registry import PLATFORM_RUNBOOKS, SERVICES, Tier, service

# Runbooks for MangaAssist's own moving parts (the registry's PLATFORM_RUNBOOKS cover the shared stores).
CHAT_RUNBOOK = "chat-availability"
HEALTH_PING_RUNBOOK = "health-ping-failing"
ALARM_RELAY_RUNBOOK = "alarm-relay-failing"
OPS_RUNBOOKS: dict[str, str] = {
    "chat": CHAT_RUNBOOK,
    "health_ping": HEALTH_PING_RUNBOOK,
    "alarm_relay": ALARM_RELAY_RUNBOOK,
}

DOWNSTREAM_FORBIDDEN = "DownstreamForbidden"
DOWNSTREAM_FORBIDDEN_RUNBOOK = "downstream-forbidden"
ORDER_SERVICE_AVAILABILITY = "OrderServiceAvailability"  # the design's alarm (Q17), name and all
BEDROCK_AVAILABILITY = "BedrockAvailability"


@dataclass(frozen=True)
class AlarmSpec:
    name: str  # AlarmName, exactly as deployed
    runbook: str  # docs/runbooks/<runbook>.md
    severity: str  # P1..P4, the registry's Tier.severity vocabulary
    summary: str  # what it means, one sentence
    services: tuple[str, ...] = ()  # registry services whose capabilities it is about
    page: bool = True  # page the on-call (PagerDuty) or only tell the channel
    component: bool = False  # one window of a multi-window alert: no actions of its own

    @property
    def description(self) -> str:
        """AlarmDescription: parseable prefix for tools, sentence for people."""
        return f"{self.severity} | Runbook: {self.runbook} | {self.summary}"


def _service_alarms() -> list[AlarmSpec]:
    specs = []
    order = service("order_service")
    specs.append(
        AlarmSpec(
            ORDER_SERVICE_AVAILABILITY,
            order.runbook,
            order.tier.severity,
            f"More than 10 {order.error_metric} + {order.timeout_metric} in one minute. {order.impact}.",
            (order.name,),
            pages(order.tier.severity),
        )
    )
    llm = service("llm")
    specs.append(
        AlarmSpec(
            BEDROCK_AVAILABILITY,
            llm.runbook,
            llm.tier.severity,
            f"Bedrock failed its health pings or the chat's calls for {llm.ping_failures_to_open} minutes "
            f"in a row. {llm.impact}.",
            (llm.name,),
            pages(llm.tier.severity),
        )
    )
    for spec in SERVICES:
        specs.append(
            AlarmSpec(
                spec.circuit_open_alarm,
                spec.runbook,
                spec.tier.severity,
                f"The {spec.name} circuit is open fleet-wide; the chat uses its fallback ({spec.fallback}). "
                f"{spec.impact}.",
                (spec.name,),
                pages(spec.tier.severity),
            )
        )
    return specs


def _platform_alarms() -> list[AlarmSpec]:
    important = Tier.IMPORTANT.severity
    return [
        AlarmSpec(
            "ChatApi5xxErrors",
            CHAT_RUNBOOK,
            "P1",
            "More than 1 % of API requests answered 5xx for 3 of 5 minutes: customers get no answer at all.",
        ),
        AlarmSpec(
            "ChatApiLatencyP99",
            CHAT_RUNBOOK,
            important,
            "API p99 latency above the slowest dependency's timeout for 5 minutes: requests queue or retry.",
        ),
        AlarmSpec("ChatFunctionErrors", CHAT_RUNBOOK, important, "The chat Lambda raised unhandled errors."),
        AlarmSpec("ChatFunctionThrottles", CHAT_RUNBOOK, important, "The chat Lambda was throttled: requests fail."),
        AlarmSpec(
            "HealthPingErrors",
            HEALTH_PING_RUNBOOK,
            important,
            "The health pinger failed 3 runs in 5 minutes: capability flags no longer follow reality.",
        ),
        AlarmSpec("HealthPingThrottles", HEALTH_PING_RUNBOOK, important, "The health pinger was throttled."),
        AlarmSpec(
            "HealthPingSilent",
            HEALTH_PING_RUNBOOK,
            important,
            "No health ping results for 5 minutes: circuits are not opened ahead of failures, the banner is stale.",
        ),
        AlarmSpec(
            "AlarmRelayErrors",
            ALARM_RELAY_RUNBOOK,
            important,
            "The alarm relay keeps failing to deliver (Slack or PagerDuty answer 429/5xx or time out).",
        ),
        AlarmSpec("AlarmRelayThrottles", ALARM_RELAY_RUNBOOK, important, "The alarm relay was throttled."),
        AlarmSpec(
            "AlarmRelayFailedDeliveries",
            ALARM_RELAY_RUNBOOK,
            important,
            "Alarm notifications landed in the relay's on-failure queue after every retry: someone was not told.",
        ),
        AlarmSpec(
            DOWNSTREAM_FORBIDDEN,
            DOWNSTREAM_FORBIDDEN_RUNBOOK,
            important,
            "Internal services refused the functions' SigV4 signature (401/403) 5 times in 5 minutes: their "
            "answers degrade to the fallback and no circuit opens, since a refusal is not an outage.",
            tuple(spec.name for spec in SERVICES if spec.kind == "http"),
            pages(important),
        ),
        AlarmSpec(
            "StateStoreErrors",
            PLATFORM_RUNBOOKS["state_store"],
            important,
            "DynamoDB system errors or throttles on the state table: breakers run on local snapshots.",
        ),
        AlarmSpec(
            "FaqStoreErrors",
            PLATFORM_RUNBOOKS["faq_store"],
            Tier.NICE_TO_HAVE.severity,
            "Reads of the FAQ document fail: the chat answers from the copy bundled in the layer.",
        ),
    ]


def _slo_alarms() -> list[AlarmSpec]:
    specs = []
    for alert in BURN_RATE_ALERTS:
        spent = alert.budget_spent_before_alert * 100
        specs.append(
            AlarmSpec(
                alert.name,
                CHAT_RUNBOOK,
                alert.severity,
                f"The 99.95 % availability SLO burns at {alert.burn_rate:g}x over both "
                f"{window_label(alert.long_window_s)} and {window_label(alert.short_window_s)}: "
                f"{spent:g} % of the monthly error budget is gone.",
                page=alert.page,
            )
        )
        for window in (alert.long_window_s, alert.short_window_s):
            specs.append(
                AlarmSpec(
                    f"{alert.name}{window_label(window)}",
                    CHAT_RUNBOOK,
                    alert.severity,
                    f"Window of {alert.name}: error ratio over {window_label(window)} above "
                    f"{alert.burn_rate:g}x the budget. Notifies only through {alert.name}.",
                    page=False,
                    component=True,
                )
            )
    return specs


@functools.cache
def alarm_catalog() -> dict[str, AlarmSpec]:
    specs = [*_service_alarms(), *_platform_alarms(), *_slo_alarms()]
    catalog = {spec.name: spec for spec in specs}
    if len(catalog) != len(specs):
        raise ValueError("two alarms share a name")
    return catalog


def alarm(name: str) -> AlarmSpec | None:
    """The catalog entry for a deployed alarm name (a stack-name prefix such as ``prod-`` is tolerated)."""
    catalog = alarm_catalog()
    if name in catalog:
        return catalog[name]
    # Longest match first, so "ChatSloFastBurn1h" never resolves to "ChatSloFastBurn".
    for known in sorted(catalog, key=len, reverse=True):
        if name.endswith(known) and not name[-len(known) - 1].isalnum():
            return catalog[known]
    return None


def runbook_for(name: str) -> str | None:
    spec = alarm(name)
    return spec.runbook if spec else None


def all_runbooks() -> set[str]:
    """Every runbook an operator may be sent to: services, platform parts, alarms."""
    return (
        {spec.runbook for spec in SERVICES}
        | set(PLATFORM_RUNBOOKS.values())
        | set(OPS_RUNBOOKS.values())
        | {spec.runbook for spec in alarm_catalog().values()}
    )
