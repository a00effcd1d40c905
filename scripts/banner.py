"""On-call's banner in the chat: post one in Japanese and English with a reason and an expiry, show it, clear it.

    python scripts/banner.py [--stack mangaassist | --table NAME] [--region R] post \\
        --en "Order tracking is unavailable right now. ..." --ja "現在、注文状況の確認ができません。..." \\
        --reason "INC-1234 order_service outage" --expires-in 2h [--by NAME]
    python scripts/banner.py [...] show
    python scripts/banner.py [...] clear

It writes the state table's "flags" partition (pk="flags", sk="operator_banner") with the operator's own AWS
credentials, beside the circuits and their overrides; every chat environment shows it within its banner cache
(BANNER_CACHE_S, 5 s), readers drop it at its expiry, and the health pinger never touches it. Bad input
(a missing language, an empty text, more than 300 characters, an expiry in the past or more than 7 days
ahead) exits 2 with every problem named and writes nothing. Prints JSON: what was posted or cleared, and
what a customer now sees in each language (joined with the pinger's banner when Bedrock is down too).
The endpoint comes from AWS_ENDPOINT_URL like every other client (moto locally).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "layers" / "mangaassist"), str(REPO)]

from mangaassist.health import BannerInputError, HealthStore, HealthStoreError, operator_banner  # noqa: E402
from scripts.state_table import add_table_arguments, aws_client, table_and_region  # noqa: E402

DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
EXIT_BAD_INPUT = 2
EXIT_STORE_FAILED = 1


def duration_s(text: str) -> float:
    """``90m``, ``2h``, ``1.5d``: how long from now."""
    match = DURATION.match(text.strip())
    if not match:
        raise BannerInputError([f"expires_in: {text!r} is not a duration like 30m, 2h or 1d"])
    return float(match[1]) * UNIT_S[match[2]]


def instant(text: str) -> float:
    """An ISO 8601 time with its offset (``2026-12-06T20:00:00+09:00``, ``...Z``) as epoch seconds."""
    try:
        parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BannerInputError([f"until: {text!r} is not an ISO 8601 time such as 2026-12-06T20:00:00+09:00"]) from None
    if parsed.tzinfo is None:
        raise BannerInputError([f"until: {text!r} has no UTC offset; add Z or +09:00 so nobody guesses the zone"])
    return parsed.timestamp()


def describe(banner: Any | None) -> dict[str, Any] | None:
    return None if banner is None else banner.as_dict()


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python scripts/banner.py", description=__doc__.splitlines()[0])
    add_table_arguments(cli)
    commands = cli.add_subparsers(dest="command", required=True)
    post = commands.add_parser("post", help="post (or replace) the operator banner")
    post.add_argument("--en", required=True, help="English text, at most 300 characters")
    post.add_argument("--ja", required=True, help="Japanese text, at most 300 characters")
    post.add_argument("--reason", required=True, help="why: the incident id and what is down")
    until = post.add_mutually_exclusive_group(required=True)
    until.add_argument("--expires-in", help="how long it stays up: 30m, 2h, 1d (at most 7d)")
    until.add_argument("--until", help="when it comes down: ISO 8601 with offset, e.g. 2026-12-06T20:00:00+09:00")
    post.add_argument("--by", default=os.getenv("USER", ""), help="who posts it (default: $USER)")
    commands.add_parser("show", help="the operator banner and what customers see now")
    commands.add_parser("clear", help="take the operator banner down (the pinger's own banner stays)")
    return cli


def run(args: argparse.Namespace, store: HealthStore, clock: Callable[[], float]) -> dict[str, Any]:
    now = clock()
    banner = None
    if args.command == "post":
        expires_at = now + duration_s(args.expires_in) if args.expires_in else instant(args.until)
        banner = operator_banner(
            message_en=args.en,
            message_ja=args.ja,
            reason=args.reason,
            expires_at=expires_at,
            now=now,
            posted_by=args.by,
        )
    return apply(args.command, store, clock, banner)


def apply(command: str, store: HealthStore, clock: Callable[[], float], banner: Any = None) -> dict[str, Any]:
    """Post ``banner``, clear or show, then what customers see: this CLI's answer and /_local/banner's."""
    if command == "post":
        result = {"posted": describe(banner), "replaced": describe(store.put_operator_banner(banner))}
    elif command == "clear":
        result = {"cleared": describe(store.clear_operator_banner())}
    else:
        result = {"operator_banner": describe(store.get_operator_banner())}
    result["customers_see"] = store.load_banners().customers_see(clock())
    return result


def main(argv: list[str] | None = None, clock: Callable[[], float] = time.time, client: Any = None) -> int:
    args = parser().parse_args(argv)
    table, region = table_and_region(args)
    store = HealthStore(table, client or aws_client("dynamodb", region), clock=clock)
    try:
        result = run(args, store, clock)
    except BannerInputError as err:
        print("banner not posted, nothing was written:", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except HealthStoreError as err:
        print(f"state table {table} in {region} could not be read or written: {err}", file=sys.stderr)
        return EXIT_STORE_FAILED
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
