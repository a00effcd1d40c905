"""The chat's 99.95 % availability SLO: what counts as a good request, the error budget, the burn-rate alarms.

The SLI is measured by the chat itself. Every POST to a chat route (POST /chat for signed-in customers,
POST /chat/guest for guests) the handler finishes emits, in one EMF document
(namespace ``MangaAssist/ServiceHealth``, dimension ``service`` = ``chat``, the POWERTOOLS_SERVICE_NAME):

- ``ChatRequests`` = 1
- ``ChatFailures`` = 1 when the customer got no useful answer (the catch-all error path answered with the
  generic apology, or the request ran out of its deadline before any flow answered), else 0.

A degraded answer (a fallback chosen because a dependency is down) is a success: hiding individual failures
behind fallbacks is exactly how the design reaches 99.95 % (Q36). A 4xx for bad input is a success too: the
service did the right thing. Requests the chat never got to count (Lambda crashed, timed out or was
throttled) surface as API Gateway 5XXError on those two methods; the chat never answers 5xx itself, so the
two sets are disjoint and the error ratio is (ChatFailures + 5xx) / (ChatRequests + 5xx).
"""

from __future__ import annotations

from dataclasses import dataclass

SLO_TARGET = 0.9995
ERROR_BUDGET = 1 - SLO_TARGET  # 0.05 % of requests may fail
SLO_PERIOD_DAYS = 30

CHAT_SERVICE = "chat"  # the chat function's POWERTOOLS_SERVICE_NAME, hence its metrics' `service` dimension
CHAT_REQUESTS_METRIC = "ChatRequests"
CHAT_FAILURES_METRIC = "ChatFailures"
# The API Gateway methods whose 5XXError joins the SLI: the chat's routes for signed-in customers and for
# guests (mangaassist.chat.resolver.CHAT_PATHS, template.yaml's ChatFunction events; a test keeps them equal).
CHAT_ROUTES: tuple[tuple[str, str], ...] = (("POST", "/chat"), ("POST", "/chat/guest"))

# Below this many requests in a window a single failure is anecdote, not a burn rate; the window then
# reads as "not burning" and the API 5xx and Lambda error alarms remain the safety net.
MIN_REQUESTS_PER_WINDOW = 100


@dataclass(frozen=True)
class BurnRateAlert:
    """One multi-window burn-rate alert (Google SRE workbook, chapter 5, table 5-8)."""

    name: str  # composite alarm name; its two windows are <name><long label> and <name><short label>
    long_window_s: int
    short_window_s: int
    burn_rate: float  # how many times faster than "exactly spend the budget in 30 days"
    severity: str
    page: bool  # False: a ticket (Slack only), True: page the on-call

    @property
    def error_ratio_threshold(self) -> float:
        return self.burn_rate * ERROR_BUDGET

    @property
    def budget_spent_before_alert(self) -> float:
        """Share of the 30-day budget gone once the long window has burned at this rate."""
        return self.burn_rate * self.long_window_s / (SLO_PERIOD_DAYS * 86400)


BURN_RATE_ALERTS: tuple[BurnRateAlert, ...] = (
    # 2 % of the monthly budget in one hour: page now.
    BurnRateAlert("ChatSloFastBurn", 3600, 300, 14.4, "P1", page=True),
    # 5 % in six hours: page, it will not stop by itself.
    BurnRateAlert("ChatSloSlowBurn", 6 * 3600, 1800, 6.0, "P2", page=True),
    # 10 % in three days: a ticket for working hours.
    BurnRateAlert("ChatSloBudgetBurn", 3 * 86400, 6 * 3600, 1.0, "P4", page=False),
)


def window_label(seconds: int) -> str:
    """3600 -> "1h", 300 -> "5m", 259200 -> "3d": the suffix of a window alarm's name."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    raise ValueError(f"window of {seconds} s is not a whole number of minutes")


def monthly_budget_minutes(target: float = SLO_TARGET, days: int = SLO_PERIOD_DAYS) -> float:
    """Minutes of full outage the target allows per period: 99.95 % over 30 days is 21.6 minutes."""
    return (1 - target) * days * 24 * 60


def serial_availability(*availabilities: float) -> float:
    """Availability of a request that needs every one of these parts (the product of theirs)."""
    result = 1.0
    for value in availabilities:
        result *= value
    return result
