"""The seed's game days (Q36 section 6) as scenarios against a fresh local stack, one report row each.

Numbers (thresholds, timeouts, open periods, ping counts, alarm names) come from the registry, the alarm
catalogue and template.yaml; expected degradations come from the chat's own policy table.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from local.gameday_drill import Drill, Reply, Row, customers, event_message
from local.template_resources import function_environment
from mangaassist.chat.intents import Intent
from mangaassist.chat.policy import BUDGET_S, choose
from mangaassist.health.pinger import BANNER_AFTER_S
from mangaassist.ops.alarms import ORDER_SERVICE_AVAILABILITY
from mangaassist.registry import REGISTRY, SERVICE_NAMES

ORDER = REGISTRY["order_service"]
LLM = REGISTRY["llm"]
# The services of the seed's graceful degradation matrix (Q34), whose pairs and triples scenario 5 breaks.
SEED_MATRIX = ("recommendations", "catalog", "order_service", "returns_service", "llm")
# Overhead allowed on top of a dependency's timeout: the front, the handler, the state store round trips.
OVERHEAD_S = 0.75
FAST_S = 0.5
CACHE_TTL_S = float(function_environment("ChatFunction")["STATE_CACHE_TTL_S"])


def order_questions() -> list[tuple[str, str | None]]:
    message = event_message("chat_order_tracking_guest")
    return [(message, c) for c in customers(10)]


def intent_messages() -> dict[Intent, str]:
    return {
        Intent.ORDER_TRACKING: event_message("chat_order_tracking"),
        Intent.RECOMMENDATION: event_message("chat_recommendation"),
        Intent.PRODUCT_INFO: event_message("chat_product_info"),
        Intent.FAQ: event_message("chat_faq"),
        Intent.RETURNS: event_message("chat_returns"),
        Intent.ESCALATION: event_message("chat_escalation"),
        Intent.GREETING: event_message("chat_greeting"),
        Intent.OPEN_ENDED: event_message("chat_open_ended"),
    }


def _open_seconds(service: str, drill: Drill) -> float:
    return REGISTRY[service].breaker.open_seconds / drill.time_scale


def _circuit_state(drill: Drill, service: str) -> str:
    return drill.circuits().get(service, {}).get("state", "CLOSED")


def heal_and_close(drill: Drill, row: Row, service: str, traffic: Callable[[], object]) -> None:
    """Heal ``service``, keep ``traffic`` and the health pings going, and time until one probe closes it.

    The chat routes around an open circuit without calling it; the health ping is the fleet's probe."""
    healed_at = time.time()
    drill.fault(service, "ok")
    closed = drill.wait_until(
        lambda: drill.circuits().get(service, {}).get("state") == "CLOSED" and drill.circuits()[service],
        timeout_s=_open_seconds(service, drill) * 4 + 15,
        every_s=0.1,
        tick=lambda: (traffic(), drill.local("POST", "ping")),
    )
    if not row.expect(f"{service} circuit closes after healing", closed, "still open"):
        return
    row.close_s = closed["updated_at"] - healed_at
    probes = drill.probe_calls(service, REGISTRY[service].metric_prefix, healed_at, closed["updated_at"])
    row.expect(f"{service} closed through one probe", probes == 1, f"{probes} calls went through before it closed")


def publish_alarms(drill: Drill, row: Row, names: list[str]) -> list[str]:
    """Evaluate ``names`` on the emitted metrics and publish those in ALARM, as CloudWatch would."""
    tripped = []
    for name in names:
        evaluation = drill.local("GET", "alarms", name=name)[name]
        row.notes.append(f"{name}: {evaluation['state']} ({evaluation['reason']})")
        if evaluation["state"] == "ALARM":
            drill.local("POST", f"alarms/{name}", {"state": "ALARM"})
            tripped.append(name)
    return tripped


def wait_notifications(drill: Drill, slack: int, pagerduty: int) -> dict:
    drill.wait_until(
        lambda: (
            (n := drill.local("GET", "notifications")) and len(n["slack"]) >= slack and len(n["pagerduty"]) >= pagerduty
        ),
        timeout_s=15,
    )
    time.sleep(1.5)  # a duplicate, or a retry that should not have happened, would land right behind
    return drill.local("GET", "notifications")


# ---------------------------------------------------------------------------------------------- 1


def block_order_service(drill: Drill, row: Row) -> None:
    """Block order_service: graceful degradation, fleet-wide open after its threshold, the alarm path."""
    drill.fresh_fleet()
    drill.local("DELETE", "metrics")
    started = time.time()
    drill.fault("order_service", "down")
    load = drill.load(order_questions(), seconds=4)
    row.replies += load
    circuit = drill.circuits().get("order_service", {})
    row.reached = drill.calls("order_service")
    if row.expect("order_service circuit opens", circuit.get("state") == "OPEN", str(circuit.get("state"))):
        row.open_s = circuit["opened_at"] - started
    row.expect(
        f"opens after {ORDER.breaker.failure_threshold} failures fleet-wide",
        row.reached <= ORDER.breaker.failure_threshold + drill.workers - 1,
        f"{row.reached} calls reached it ({drill.workers} environments, each may act on a snapshot "
        f"up to {CACHE_TTL_S:g} s old)",
    )
    wrong = [r for r in load if r.body and r.body.get("degraded_reason") != ORDER.unavailable_reason]
    row.expect("every answer names order_service_unavailable", not wrong, f"{len(wrong)} did not")
    fabricated = [r for r in load if r.body and r.body.get("orders")]
    row.expect("no order data fabricated", not fabricated, f"{len(fabricated)} answers held orders")
    escalation = [r for r in load if r.body and any(a.get("type") == "escalation" for a in r.body.get("actions", []))]
    row.expect("escalation offered", len(escalation) == len(load), f"{len(escalation)}/{len(load)}")

    alarms = [ORDER_SERVICE_AVAILABILITY, ORDER.circuit_open_alarm]
    tripped = publish_alarms(drill, row, alarms)
    row.expect("an order_service alarm trips on the emitted metrics", tripped, "none in ALARM")
    notes = wait_notifications(drill, len(tripped), len(tripped))
    triggers = [p for p in notes["pagerduty"] if p.get("event_action") == "trigger"]
    row.expect("each alarm reaches Slack once", len(notes["slack"]) == len(tripped), f"{len(notes['slack'])} posts")
    row.expect("each alarm pages PagerDuty once", len(triggers) == len(tripped), f"{len(triggers)} triggers")

    heal_and_close(drill, row, "order_service", lambda: drill.chat(*order_questions()[0]))
    drill.local("DELETE", "notifications")
    for name in tripped:
        drill.local("POST", f"alarms/{name}", {"state": "OK"})
    notes = wait_notifications(drill, len(tripped), len(tripped))
    resolves = [p for p in notes["pagerduty"] if p.get("event_action") == "resolve"]
    row.expect("OK resolves each incident", len(resolves) == len(tripped), f"{len(resolves)} resolves")
    answer = drill.chat(*order_questions()[0])
    row.expect("order tracking works again", answer.body and not answer.degraded, str(answer.body)[:120])


# ---------------------------------------------------------------------------------------------- 2


def slow_order_service(drill: Drill, row: Row) -> None:
    """order_service answers in 3 s against its 1 s timeout: no pile-up, bounded by the timeout, then fast."""
    drill.fresh_fleet()
    started = time.time()
    drill.fault("order_service", "slow", latency_ms=3000)
    opened: list[float] = []

    def watch() -> bool:
        if not opened and _circuit_state(drill, "order_service") == "OPEN":
            opened.append(drill.circuits()["order_service"]["opened_at"])
        return bool(opened) and time.time() - opened[0] > 3

    load = drill.load(order_questions(), seconds=20, until=watch)
    row.replies += load
    row.reached = drill.calls("order_service")
    if not row.expect("order_service circuit opens", opened, "never opened"):
        return
    row.open_s = opened[0] - started
    before = [r for r in load if r.started_at < opened[0]]
    after = [r for r in load if r.started_at > opened[0] + CACHE_TTL_S]
    bound = ORDER.timeout_ms / 1000 + OVERHEAD_S
    slowest = max((r.latency_s for r in before), default=0.0)
    row.expect(
        f"until open, latency bounded by the {ORDER.timeout_ms} ms timeout", slowest <= bound, f"max {slowest:.2f} s"
    )
    slowest_after = max((r.latency_s for r in after), default=0.0)
    p99_after = Row("after", after).percentile_ms(99) or 0.0
    row.expect(
        "once open, nobody waits for order_service",
        after and slowest_after < ORDER.timeout_ms / 1000 and p99_after <= FAST_S * 1000,
        f"max {slowest_after:.2f} s, p99 {p99_after:.0f} ms",
    )
    row.notes.append(
        f"before open: {len(before)} answers, max {slowest:.2f} s; after: {len(after)}, p99 {p99_after:.0f} ms, "
        f"max {slowest_after:.2f} s"
    )
    heal_and_close(drill, row, "order_service", lambda: drill.chat(*order_questions()[0]))


# ---------------------------------------------------------------------------------------------- 3


def state_store_trouble(drill: Drill, row: Row) -> None:
    """DynamoDB 200 ms slower, then cut completely: the chat keeps answering."""
    drill.fresh_fleet()
    mixed = [(m, c) for (m, c) in zip(intent_messages().values(), itertools.cycle([None, *customers(4)]), strict=False)]
    drill.fault("state_store", "slow", latency_ms=200)
    slow = drill.load(mixed, seconds=4)
    drill.fault("state_store", "down")
    cut = drill.load(mixed, seconds=5)
    health = drill.session().get(f"{drill.stack.url}/health", timeout=30).json()["checks"]["state_store"]
    row.replies += slow + cut
    row.reached = drill.calls("state_store")
    row.expect("every answer a 200", all(r.status == 200 for r in row.replies), "some were not")
    row.expect("answers while the store is cut", len(cut) >= drill.workers * 3, f"{len(cut)} answers")
    row.expect("/health fails its state-store check while the store is cut", health["status"] == "fail", str(health))
    worst = max((r.latency_s for r in row.replies), default=0)
    bound = max(BUDGET_S.values()) + OVERHEAD_S
    row.expect("no answer beyond the largest request budget", worst <= bound, f"max {worst:.2f} s")
    row.notes.append(f"200 ms slower: p50 {_p(slow, 50)} ms; cut: p50 {_p(cut, 50)} ms, p99 {_p(cut, 99)} ms")
    drill.heal()
    recovered = drill.wait_until(
        lambda: (
            drill.session().get(f"{drill.stack.url}/health", timeout=30).json()["checks"]["state_store"]["status"]
            == "ok"
        ),
        timeout_s=20,
    )
    row.expect("/health's state-store check passes again after healing", recovered, "still failing")


def _p(replies: list[Reply], q: int) -> str:
    row = Row("tmp", list(replies))
    value = row.percentile_ms(q)
    return "-" if value is None else f"{value:.0f}"


# ---------------------------------------------------------------------------------------------- 4


def saturate_llm(drill: Drill, row: Row) -> None:
    """Bedrock throttles (bounded backoff, then templates), then is down past the banner delay."""
    drill.fresh_fleet()
    messages = [(event_message("chat_open_ended"), None), (event_message("chat_faq"), "cust-0003")]
    started = time.time()
    drill.fault("llm", "throttle")
    throttled = drill.load(messages, seconds=15, until=lambda: _circuit_state(drill, "llm") == "OPEN")
    row.replies += throttled
    circuit = drill.circuits().get("llm", {})
    if row.expect("llm circuit opens under throttling", circuit.get("state") == "OPEN", str(circuit.get("state"))):
        row.open_s = circuit["opened_at"] - started
    bound = max(BUDGET_S[Intent.OPEN_ENDED], BUDGET_S[Intent.FAQ]) + OVERHEAD_S
    worst = max((r.latency_s for r in throttled), default=0)
    row.expect("throttled answers within the request budget", worst <= bound, f"max {worst:.2f} s")
    templated = drill.load(messages, count=4)
    row.replies += templated
    reasons = {r.body.get("degraded_reason") for r in templated if r.body}
    row.expect("then templates, marked llm_unavailable", reasons == {LLM.unavailable_reason}, str(reasons))
    row.expect("templates answer fast", max(r.latency_s for r in templated) <= FAST_S, "slow")

    drill.fault("llm", "down")
    banner_after = BANNER_AFTER_S / drill.time_scale
    ping_every = 2.0

    def banner_on() -> bool:
        return bool(drill.session().get(f"{drill.stack.url}/status", timeout=30).json().get("banner"))

    shown = drill.wait_until(
        banner_on, timeout_s=banner_after + 30, every_s=ping_every, tick=lambda: drill.local("POST", "ping")
    )
    banner_s = time.time() - started
    row.notes.append(
        f"banner after {banner_s:.1f} s of LLM outage (design: {BANNER_AFTER_S:g} s, compressed {drill.time_scale:g}x "
        f"to {banner_after:g} s; pings every {ping_every:g} s)"
    )
    row.expect("maintenance banner shown once the LLM is down past the delay", shown, "no banner")
    row.expect("banner not shown before the delay", banner_s >= banner_after, f"{banner_s:.1f} s")
    with_banner = drill.chat(*messages[0])
    row.replies.append(with_banner)
    row.expect("chat answers carry the banner", with_banner.body and with_banner.body.get("banner"), "no banner")
    row.reached = drill.calls("llm")

    healed_at = time.time()
    drill.heal()
    closed = drill.wait_until(
        lambda: _circuit_state(drill, "llm") == "CLOSED" and not banner_on(),
        timeout_s=LLM.breaker.max_open_seconds / drill.time_scale + 20,
        every_s=1.0,
        tick=lambda: drill.local("POST", "ping"),
    )
    if row.expect("llm circuit closes and the banner clears after healing", closed, "still open or banner shown"):
        row.close_s = drill.circuits()["llm"]["updated_at"] - healed_at


# ---------------------------------------------------------------------------------------------- 5


def matrix_combinations(drill: Drill, row: Row) -> None:
    """Every pair and triple of the seed's matrix down at once: each answer degrades as the policy says."""
    messages = intent_messages()
    mismatches: list[str] = []
    reached = 0
    combos = [c for size in (2, 3) for c in itertools.combinations(SEED_MATRIX, size)]
    for combo in combos:
        drill.fresh_fleet()
        for service in combo:
            drill.fault(service, "down")
        traffic = [(m, "cust-0002") for m in messages.values()] + [(messages[Intent.ORDER_TRACKING], None)]
        replies = drill.load(traffic, count=len(traffic))
        row.replies += replies
        reached += drill.calls(*combo)
        for reply in replies:
            if not reply.body or "intent" not in reply.body:
                mismatches.append(f"{'+'.join(combo)}: HTTP {reply.status}")
                continue
            expected = choose(Intent(reply.body["intent"]), set(combo), reply.customer is not None).degraded_reason
            if reply.body.get("degraded_reason") != expected:
                mismatches.append(
                    f"{'+'.join(combo)} {reply.body['intent']}: {reply.body.get('degraded_reason')} != {expected}"
                )
    row.reached = reached
    row.notes.append(f"{len(combos)} combinations x {len(messages) + 1} messages")
    row.notes += mismatches[:10]
    row.expect("every answer degrades as the policy table says", not mismatches, f"{len(mismatches)} mismatches")
    drill.fresh_fleet()


# ---------------------------------------------------------------------------------------------- 6


def kill_a_worker(drill: Drill, row: Row) -> None:
    """Kill one chat worker process mid-load: it is replaced; only its in-flight request may fail."""
    drill.fresh_fleet()
    drill.fault("order_service", "slow", latency_ms=400)  # every request spends a while inside a worker
    before = {w["name"]: w["pid"] for w in drill.local("GET", "workers")["workers"] if w["function"] == "ChatFunction"}
    killed: list[tuple[str, float]] = []

    def kill_once() -> bool:
        if not killed and row_started and time.time() - row_started[0] > 1.5:
            busy = [
                w for w in drill.local("GET", "workers")["workers"] if w["function"] == "ChatFunction" and w["busy"]
            ]
            if busy:
                drill.local("DELETE", f"workers/{busy[0]['name']}")
                killed.append((busy[0]["name"], time.time()))
        return False

    row_started = [time.time()]
    load = drill.load(order_questions(), seconds=7, until=kill_once)
    row.replies += load
    failed = [r for r in load if r.status != 200]
    row.allowed_failures = min(1, len(failed))
    if not row.expect("a busy worker was killed", killed, "none was busy"):
        return
    row.expect("at most its in-flight request failed", len(failed) <= 1, f"{len(failed)} failed")
    row.expect(
        "that failure is API Gateway's 502 JSON",
        all(r.status == 502 and r.body for r in failed),
        str([r.status for r in failed]),
    )
    replaced = drill.wait_until(
        lambda: [
            w
            for w in drill.local("GET", "workers")["workers"]
            if w["function"] == "ChatFunction" and w["alive"] and w["pid"] not in before.values()
        ],
        timeout_s=20,
    )
    if row.expect("the dead worker is replaced", replaced, "no new worker"):
        row.close_s = replaced[0]["started_at"] - killed[0][1]
        row.notes.append(f"killed {killed[0][0]}; {replaced[0]['name']} (pid {replaced[0]['pid']}) took over")
    alive = [w for w in drill.local("GET", "workers")["workers"] if w["function"] == "ChatFunction" and w["alive"]]
    row.expect("the fleet is back to full size", len(alive) == drill.workers, f"{len(alive)} alive")


# ---------------------------------------------------------------------------------------------- 7


def heal_everything(drill: Drill, row: Row) -> None:
    """Every dependency down until the health pings open every circuit; heal; each closes through one probe."""
    drill.fresh_fleet()
    drill.local("DELETE", "metrics")
    started = time.time()
    for service in SERVICE_NAMES:
        drill.fault(service, "down")
    pings = max(spec.ping_failures_to_open for spec in REGISTRY.values())
    for _ in range(pings):
        drill.local("POST", "ping")
    circuits = drill.circuits()
    opened = [s for s in SERVICE_NAMES if circuits.get(s, {}).get("state") == "OPEN"]
    row.expect(f"{pings} failed pings open every circuit", len(opened) == len(SERVICE_NAMES), f"open: {opened}")
    if opened:
        row.open_s = max(circuits[s]["opened_at"] for s in opened) - started
    row.replies += drill.load([(m, "cust-0002") for m in intent_messages().values()], count=8)
    row.reached = drill.calls(*SERVICE_NAMES)

    healed_at = drill.heal()
    closed = drill.wait_until(
        lambda: all(c.get("state") == "CLOSED" for c in drill.circuits().values()),
        timeout_s=max(_open_seconds(s, drill) for s in SERVICE_NAMES) + 20,
        every_s=0.5,
        tick=lambda: drill.local("POST", "ping"),
    )
    if not row.expect("every circuit closes after healing", closed, "some stay open"):
        return
    circuits = drill.circuits()
    row.close_s = max(c["updated_at"] for c in circuits.values()) - healed_at
    extra = {}
    for service in SERVICE_NAMES:
        probes = drill.probe_calls(service, REGISTRY[service].metric_prefix, healed_at, circuits[service]["updated_at"])
        if probes != 1:
            extra[service] = probes
    row.expect("each circuit closed through exactly one probe", not extra, str(extra))
    healthy = drill.load([(m, "cust-0002") for m in intent_messages().values()], count=8)
    row.replies += healthy
    degraded = [r.body.get("degraded_reason") for r in healthy if r.degraded]
    row.expect("full service afterwards", not degraded, str(degraded))


SCENARIOS: list[tuple[str, Callable[[Drill, Row], None]]] = [
    ("1 block order_service", block_order_service),
    ("2 order_service slow 3 s", slow_order_service),
    ("3 state store slow, then cut", state_store_trouble),
    ("4 LLM throttled, then down", saturate_llm),
    ("5 matrix pairs and triples", matrix_combinations),
    ("6 kill a worker mid-load", kill_a_worker),
    ("7 heal everything", heal_everything),
]
