"""Who is woken: the one rule that turns an alarm's severity into a page or a message to the channel."""

from __future__ import annotations

from mangaassist.registry import Tier

# Tier 1 and 2 outages cost customers answers now; tier 3 and 4 ones wait for working hours.
PAGING_SEVERITIES = frozenset({Tier.CRITICAL.severity, Tier.IMPORTANT.severity})


def pages(severity: str) -> bool:
    """True when an alarm of this severity pages the on-call (PagerDuty); otherwise only Slack is told."""
    return severity in PAGING_SEVERITIES
