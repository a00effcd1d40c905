"""What an alarm means for MangaAssist: which registry services it is about, how severe, whom to page, runbooks.

Sources, most authoritative first:
1. the alarm catalog (mangaassist.ops.alarms), from which template.yaml's alarms are generated: severity,
   runbook, services and whether it pages, for the alarm itself and for the children of a composite;
2. an AlarmDescription of the catalog's form ``P2 | Runbook: <name> | ...`` (an alarm deployed by a newer
   template than this layer);
3. evidence in the notification: metric names (``<prefix>Error``, ``<prefix>Timeout``, ``<prefix>Latency``), a
   ``service`` dimension, the alarm name (``OrderServiceAvailability``, ``prod-BedrockCircuitOpen``), and for
   a composite the children that triggered it (or, when it does not say, every child its rule names);
   platform alarms (state store, FAQ store, region) map to PLATFORM_RUNBOOKS by name.
Anything else is unknown: a default severity and the runbook index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mangaassist.alerting.notification import AlarmNotification, GenericNotice
from mangaassist.ops.alarms import AlarmSpec
from mangaassist.ops.alarms import alarm as catalog_alarm
from mangaassist.ops.paging import pages as severity_pages
from mangaassist.registry import PLATFORM_RUNBOOKS, SERVICES, ServiceSpec, Tier, service

# An alarm nobody catalogued still reached the on-call topic: tell the channel, do not wake anyone.
UNKNOWN_ALARM_SEVERITY = Tier.NICE_TO_HAVE.severity
# The platform parts (state store, FAQ store, region) degrade every conversation at once.
PLATFORM_ALARM_SEVERITY = Tier.IMPORTANT.severity
RUNBOOK_INDEX = "README"
SERVICE_DIMENSIONS = ("service", "Service")
_DESCRIPTION_PREFIX = re.compile(r"^\s*(P[1-4])\s*\|\s*Runbook:\s*([A-Za-z0-9_-]+)\s*\|")


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
    pages: bool  # PagerDuty is told (ALARM triggers, OK resolves); otherwise Slack only
    known: bool = True  # False: neither the catalog nor the registry knows this alarm

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.services)

    @property
    def platform_labels(self) -> tuple[str, ...]:
        return tuple(part.replace("_", " ") for part in self.platform_parts)


def runbook_url(base_url: str, name: str) -> str:
    return f"{base_url.rstrip('/')}/{name}.md"


def _camel(key: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[_-]", key))


def _name_matches(alarm_name: str, token: str) -> bool:
    # "OrderServiceAvailability" and "mangaassist-prod-OrderServiceAvailability" both name OrderService;
    # the next character must start a new CamelCase word or end the name, so "Catalog" never matches "Catalogue".
    pattern = rf"(?:^|[-_/.: ]){re.escape(token)}(?=$|[A-Z0-9\-_/.: ])"
    return re.search(pattern, alarm_name) is not None


def services_for_alarm_name(alarm_name: str) -> list[ServiceSpec]:
    """The one service an alarm name is about (``OrderServiceAvailability``, ``prod-order_service-errors``)."""
    best: tuple[int, ServiceSpec] | None = None
    for spec in SERVICES:
        for token in (spec.metric_prefix, spec.name, *spec.aliases):
            # The longest matching token wins when one service's prefix is the start of another's.
            if _name_matches(alarm_name, token) and (best is None or len(token) > best[0]):
                best = (len(token), spec)
    return [best[1]] if best else []


def platform_parts_for_alarm_name(alarm_name: str) -> list[str]:
    """Platform parts an alarm name is about: ``StateStore...``, ``FaqStore...``, ``RegionalFailover...``."""
    return [
        key
        for key, runbook in PLATFORM_RUNBOOKS.items()
        if any(_name_matches(alarm_name, token) for token in (_camel(key), _camel(runbook)))
    ]


def _services_for_metric(metric_name: str) -> list[ServiceSpec]:
    return [spec for spec in SERVICES if metric_name in (spec.error_metric, spec.timeout_metric, spec.latency_metric)]


def _service_or_none(name: str) -> ServiceSpec | None:
    try:
        return service(name)
    except KeyError:
        return None


def _described(description: str | None) -> AlarmSpec | None:
    match = _DESCRIPTION_PREFIX.match(description or "")
    if not match:
        return None
    severity, runbook = match.groups()
    return AlarmSpec(name="", runbook=runbook, severity=severity, summary="", page=severity_pages(severity))


def _children(notification: AlarmNotification) -> list[str]:
    # A composite alarm is about the children that fired it; the whole rule only when CloudWatch did not say which.
    return [c.name for c in notification.triggering_children] or notification.child_alarm_names


def _evidence(notification: AlarmNotification, entries: list[AlarmSpec]) -> tuple[list[ServiceSpec], list[str]]:
    specs = [s for entry in entries for s in map(_service_or_none, entry.services) if s]
    for metric_name in notification.metric_names:
        specs.extend(_services_for_metric(metric_name))
    for dim in notification.dimensions:
        if dim.name in SERVICE_DIMENSIONS and (spec := _service_or_none(dim.value)):
            specs.append(spec)
    platform: list[str] = []
    for name in (notification.alarm_name, *_children(notification)):
        specs.extend(services_for_alarm_name(name))
        platform.extend(platform_parts_for_alarm_name(name))
    unique = {spec.name: spec for spec in specs}
    return sorted(unique.values(), key=lambda spec: spec.tier), list(dict.fromkeys(platform))


def _unknown(runbook_base_url: str) -> Impact:
    index = Runbook("Runbook index", runbook_url(runbook_base_url, RUNBOOK_INDEX))
    return Impact(
        (), (), UNKNOWN_ALARM_SEVERITY, (), (index,), pages=severity_pages(UNKNOWN_ALARM_SEVERITY), known=False
    )


def assess(notice: AlarmNotification | GenericNotice, runbook_base_url: str) -> Impact:
    """Severity, paging, capabilities and runbooks for a notice; unknown alarms get defaults and the runbook index."""
    if isinstance(notice, GenericNotice):
        return _unknown(runbook_base_url)
    own = catalog_alarm(notice.alarm_name) or _described(notice.description)
    children = [entry for entry in map(catalog_alarm, _children(notice)) if entry]
    entries = [entry for entry in (own, *children) if entry]
    specs, platform = _evidence(notice, entries)
    if not entries and not specs and not platform:
        return _unknown(runbook_base_url)
    if own:
        severity, pages = own.severity, own.page
    else:
        candidates = [entry.severity for entry in children] + [spec.tier.severity for spec in specs]
        candidates += [PLATFORM_ALARM_SEVERITY] * bool(platform)
        severity = min(candidates)  # "P1" < "P2": the most severe part decides
        # Without a catalog entry of its own, the catalog's rule (mangaassist.ops.paging) decides who is woken.
        pages = any(entry.page for entry in children) or (not children and severity_pages(severity))
    names = [entry.runbook for entry in entries]
    names += [spec.runbook for spec in specs] + [PLATFORM_RUNBOOKS[key] for key in platform]
    runbooks = tuple(Runbook(f"Runbook: {name}", runbook_url(runbook_base_url, name)) for name in dict.fromkeys(names))
    return Impact(
        services=tuple(specs),
        platform_parts=tuple(platform),
        severity=severity,
        capabilities=tuple(dict.fromkeys(cap for spec in specs for cap in spec.capabilities)),
        runbooks=runbooks,
        pages=pages,
    )
