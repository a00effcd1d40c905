"""`make status`: the service health dashboard in the terminal, read from GET /status of a running stack.

python -m local.status_cli [--url http://127.0.0.1:3000] [--watch SECONDS] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from typing import Any

STATUS_WORDS = {"ok": ("OK", "32"), "warn": ("WARN", "33"), "down": ("DOWN", "31"), "unknown": ("UNKNOWN", "90")}
CAPABILITY_WORDS = {
    "available": ("Available", "32"),
    "degraded": ("Degraded", "33"),
    "unavailable": ("Degraded (using fallback)", "31"),
}
WIDTH = 75


def _paint(text: str, code: str, color: bool) -> str:
    return f"\033[{code}m{text}\033[0m" if color else text


def render(body: dict[str, Any], color: bool = False) -> str:
    """The seed's dashboard as text: one row per service, then the capability map."""
    rule = "─" * WIDTH
    lines = [f"MangaAssist Service Health (updated {body.get('updated_at', '?')})", rule]
    lines.append(f"{'Service':<20}{'Status':<10}{'Latency':>10}{'Error Rate':>12}  {'Circuit':<10}")
    lines.append(rule)
    for row in body.get("services", []):
        word, code = STATUS_WORDS.get(row.get("status"), STATUS_WORDS["unknown"])
        ms, rate = row.get("latency_ms"), row.get("error_rate")
        latency = "---" if ms is None or row.get("status") == "down" else f"{round(ms):,}ms"
        error_rate = "---" if rate is None else f"{rate * 100:.1f}%"
        circuit = row.get("circuit", "?")
        if row.get("override") not in (None, "none"):
            circuit = f"{circuit} ({row['override']})"
        lines.append(
            f"{row.get('display_name') or row.get('name'):<20}{_paint(f'{word:<10}', code, color)}"
            f"{latency:>10}{error_rate:>12}  {circuit}"
        )
    lines.append(rule)
    lines.append("Capability Map:")
    for name, state in (body.get("capabilities") or {}).items():
        word, code = CAPABILITY_WORDS.get(state, (state, "90"))
        label = "FAQ" if name == "faq" else name.replace("_", " ").capitalize()
        lines.append(f"  {label + ':':<32}{_paint(word, code, color)}")
    lines.append(rule)
    banner = body.get("banner")
    lines.append(f"State store: {body.get('state_store', '?')}   Health pings: {body.get('health_pings', '?')}")
    if banner:
        sources = " + ".join(banner.get("sources") or []) or "shown"
        lines.append(f"Banner ({sources}), as customers see it:")
        lines.append(f"  en: {banner.get('message_en')}")
        lines.append(f"  ja: {banner.get('message_ja')}")
        operator = banner.get("operator")
        if operator:
            lines.append(
                f"  operator: {operator.get('reason')} (by {operator.get('posted_by') or '?'}, "
                f"until {operator.get('expires_at')}; `python scripts/banner.py clear` takes it down)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.status_cli", description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.getenv("STACK_URL") or f"http://127.0.0.1:{os.getenv('PORT', '3000')}")
    parser.add_argument("--watch", type=float, default=0.0, help="refresh every N seconds until Ctrl-C")
    parser.add_argument("--json", action="store_true", help="print the /status body as JSON")
    args = parser.parse_args(argv)
    color = sys.stdout.isatty() and not os.getenv("NO_COLOR")
    status_url = f"{args.url.rstrip('/')}/status"
    while True:
        try:
            request = urllib.request.Request(status_url, headers={"Accept": "application/json"})  # noqa: S310
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the user's URL
                body = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as err:
            print(f"cannot read {status_url} ({err}); is the stack running? Start it with `make run`.")
            return 1
        output = json.dumps(body, indent=2, ensure_ascii=False) if args.json else render(body, color)
        if args.watch and color:
            print("\033[2J\033[H", end="")
        print(output, flush=True)
        if not args.watch:
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
