"""Per-client limits: what the edge (the WAF, and the local front in its place) and the chat allow one client.

Written once here and read by everything that enforces them: scripts/generate_template_parts.py writes the
WAF web ACL into template.yaml from these values, local/front.py applies the same rules to the local stack,
and the chat's Bedrock budget (mangaassist.chat.client_budget) counts against LLM_BUDGET.
"""

from __future__ import annotations

from dataclasses import dataclass

# A message is at most 2,000 characters. Sent as JSON with every character \\u-escaped (what JSON.stringify
# does with a lone surrogate, and what some clients do with all non-ASCII) that is 12,000 bytes plus the session
# id: 16 KB holds any valid chat body with room to spare and refuses padding long before Lambda's 6 MB.
MAX_BODY_BYTES = 16 * 1024

# WAF's rate-based rules count over one of these windows only.
WAF_EVALUATION_WINDOWS_S = (60, 120, 300, 600)


@dataclass(frozen=True)
class RateRule:
    """At most ``limit`` requests per ``window_s`` from one client address, counting only ``path`` when set."""

    name: str  # the WAF rule's name and metric name
    limit: int
    window_s: int
    path: str | None = None

    def __post_init__(self) -> None:
        if self.window_s not in WAF_EVALUATION_WINDOWS_S:
            raise ValueError(f"{self.name}: WAF evaluates rate rules over {WAF_EVALUATION_WINDOWS_S} s only")
        if self.limit < 10:
            raise ValueError(f"{self.name}: WAF's smallest rate limit is 10 requests")

    def applies_to(self, path: str) -> bool:
        # The WAF sees /<stage>/chat/guest on the execute-api host and /chat/guest behind a custom domain.
        return self.path is None or path.endswith(self.path)


# Guests reach Bedrock without an account: one a second sustained is far above anyone typing, and still lets a
# household or a shop behind one address chat. Every route together: five a second, which a signed-in customer
# with a few tabs, and a monitor polling /health, never reach.
RATE_RULES = (
    RateRule("GuestChatPerClient", limit=60, window_s=60, path="/chat/guest"),
    RateRule("ApiPerClient", limit=300, window_s=60),
)


@dataclass(frozen=True)
class LlmBudget:
    """Bedrock calls one client (a guest's address, a customer's Cognito sub) may cause per window."""

    calls: int
    window_s: int


# The design's open-ended share is ~40 % of messages and a conversation is a few dozen messages: 30 generated
# answers in 10 minutes is a long, busy conversation. Beyond it the client gets templates and FAQ answers, so
# one client's flood costs its own answers, never the fleet-wide llm circuit.
LLM_BUDGET = LlmBudget(calls=30, window_s=600)
