"""What an alarm means for MangaAssist: which registry services it is about, how severe, what users lose, runbooks.

Evidence, strongest first: the alarm's metric names (``<prefix>Error``, ``<prefix>Timeout``, ``<prefix>Latency``),
a ``service`` dimension, then the alarm name (``<prefix>...`` such as OrderServiceAvailability or
BedrockCircuitOpen, optionally behind a stack-name prefix). A composite alarm also carries the evidence of the
child alarms that triggered it (or, when the notification does not say, of every child its rule names).
Platform alarms (state store, FAQ store, region) map to PLATFORM_RUNBOOKS by name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mangaassist.alerting.notification import AlarmNotification, GenericNotice
from mangaassist.registry import PLATFORM_RUNBOOKS, SERVICES, ServiceSpec, Tier, service

# An alarm the registry does not know still reached the on-call topic: page at low urgency rather than not at all.
UNKNOWN_ALARM_SEVERITY = Tier.NICE_TO_HAVE.severity
# The platform parts (state store, FAQ store, region) degrade every conversation at once.
PLATFORM_ALARM_SEVERITY = Tier.IMPORTANT.severity
RUNBOOK_INDEX = "README"
SERVICE_DIMENSIONS = ("service", "Service")


@dataclass(frozen=True)
class Runbook:
    title: str
    url: str


@dataclass(frozen=True)
class Impact:
    services: tuple[ServiceSpec, ...]
    platform_parts: tuple[str, ...]
    severity: str  # P1..P4, the registry's Tier.severity vocabulary
    capabilities: tuple[str, ...]
    runbooks: tuple[Runbook, ...]
    known: bool = field(default=True)

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.services)

    @property
    def platform_labels(self) -> tuple[str, ...]:
        return tuple(part.replace("_", " ") for part in self.platform_parts)


def runbook_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/{name}.md"


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in key.split("_"))


def _name_matches(alarm_name: str, prefix: str) -> bool:
    # "OrderServiceAvailability" and "mangaassist-prod-OrderServiceAvailability" both name OrderService;
    # the next character must start a new CamelCase word or end the name, so "Catalog" never matches "Catalogue".
    pattern = rf"(?:^|[-_/.: ]){re.escape(prefix)}(?=$|[A-Z0-9\-_/.: ])"
    return re.search(pattern, alarm_name) is not None


def _name_tokens(spec: ServiceSpec) -> tuple[str, ...]:
    return (spec.metric_prefix, spec.name, *spec.aliases)


def services_for_alarm_name(alarm_name: str) -> list[ServiceSpec]:
    """The one service an alarm name is about (``OrderServiceAvailability``, ``prod-order_service-errors``)."""
    best: tuple[int, ServiceSpec] | None = None
    for spec in SERVICES:
        for token in _name_tokens(spec):
            # The longest matching token wins when one service's prefix is the start of another's.
            if _name_matches(alarm_name, token) and (best is None or len(token) > best[0]):
                best = (len(token), spec)
    return [best[1]] if best else []


def platform_parts_for_alarm_name(alarm_name: str) -> list[str]:
    """Platform parts an alarm name is about: ``StateStore...``, ``FaqStore...``, ``RegionalFailover...``."""
    return [
        key
        for key, runbook in PLATFORM_RUNBOOKS.items()
        if any(_name_matches(alarm_name, token) for token in (_camel(key), _camel(runbook.replace("-", "_"))))
    ]


def _services_for_metric(metric_name: str) -> list[ServiceSpec]:
    return [spec for spec in SERVICES if metric_name in (spec.error_metric, spec.timeout_metric, spec.latency_metric)]


def _service_for_dimension(value: str) -> ServiceSpec | None:
    try:
        return service(value)
    except KeyError:
        return None


def _evidence(notification: AlarmNotification) -> tuple[list[ServiceSpec], list[str]]:
    specs: list[ServiceSpec] = []
    for metric_name in notification.metric_names:
        specs.extend(_services_for_metric(metric_name))
    for dim in notification.dimensions:
        if dim.name in SERVICE_DIMENSIONS:
            spec = _service_for_dimension(dim.value)
            if spec:
                specs.append(spec)
    # A composite alarm is about the children that fired it; the whole rule only when CloudWatch did not say which.
    children = [c.name for c in notification.triggering_children] or notification.child_alarm_names
    names = [notification.alarm_name, *children]
    platform: list[str] = []
    for name in names:
        specs.extend(services_for_alarm_name(name))
        platform.extend(platform_parts_for_alarm_name(name))
    unique = {spec.name: spec for spec in specs}
    return list(unique.values()), list(dict.fromkeys(platform))


def assess(notice: AlarmNotification | GenericNotice, runbook_base_url: str) -> Impact:
    """Severity, capabilities and runbooks for a notice; unknown alarms get defaults and the runbook index."""
    index = Runbook("Runbook index", runbook_url(runbook_base_url, RUNBOOK_INDEX))
    if isinstance(notice, GenericNotice):
        return Impact((), (), UNKNOWN_ALARM_SEVERITY, (), (index,), known=False)
    specs, platform = _evidence(notice)
    if not specs and not platform:
        return Impact((), (), UNKNOWN_ALARM_SEVERITY, (), (index,), known=False)
    specs.sort(key=lambda spec: spec.tier)
    severities = [spec.tier.severity for spec in specs]
    if platform:
        severities.append(PLATFORM_ALARM_SEVERITY)
    capabilities = tuple(dict.fromkeys(cap for spec in specs for cap in spec.capabilities))
    runbooks = [Runbook(f"Runbook: {spec.runbook}", runbook_url(runbook_base_url, spec.runbook)) for spec in specs]
    runbooks += [
        Runbook(f"Runbook: {PLATFORM_RUNBOOKS[key]}", runbook_url(runbook_base_url, PLATFORM_RUNBOOKS[key]))
        for key in platform
    ]
    return Impact(
        services=tuple(specs),
        platform_parts=tuple(platform),
        severity=min(severities),  # "P1" < "P2": the most severe part decides
        capabilities=capabilities,
        runbooks=tuple(runbooks),
    )
