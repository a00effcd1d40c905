"""On-call's circuit overrides: show every circuit, force one open or closed, step the breaker aside, hand it back.

    python scripts/circuit.py [--stack mangaassist | --table NAME] [--region R] [--read-copies N] show
    python scripts/circuit.py [...] override order_service forced_open     # every call gets the fallback
    python scripts/circuit.py [...] override order_service forced_closed   # calls go through; never opens
    python scripts/circuit.py [...] override order_service disabled        # the breaker steps aside
    python scripts/circuit.py [...] override order_service none            # automatic again

Every environment of the fleet acts on an override within its snapshot's age (STATE_CACHE_TTL_S, 1 s).
The override goes through the breaker's own store, so with read copies (template parameter
CircuitReadCopies > 1) the circuits item and every copy change in one transaction: a hand-written
``aws dynamodb update-item`` on the circuits item alone would leave the copies, which is what environments
read, as they were. The number of copies is --read-copies, else the stack's CircuitReadCopies parameter,
else the number of copies found in the table; the output says which. A service or mode it does not know
exits 2 and writes nothing. Prints JSON: every circuit (or the one changed) as the circuits item holds it,
and whether every copy agrees.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO / "layers" / "mangaassist"), str(REPO)]

from mangaassist.breaker import CircuitRecord, Override  # noqa: E402
from mangaassist.breaker.dynamo_store import DynamoCircuitStore  # noqa: E402
from mangaassist.breaker.fleet import BUCKETS_PER_WINDOW  # noqa: E402
from mangaassist.breaker.store import StateStoreError  # noqa: E402
from mangaassist.registry import REGISTRY, service  # noqa: E402
from scripts.state_table import add_table_arguments, aws_client, table_and_region  # noqa: E402

EXIT_BAD_INPUT = 2
EXIT_STORE_FAILED = 1
MAX_COPIES = 16  # the template parameter's MaxValue


def parser() -> argparse.ArgumentParser:
    cli = argparse.ArgumentParser(prog="python scripts/circuit.py", description=__doc__.splitlines()[0])
    add_table_arguments(cli)
    cli.add_argument("--read-copies", type=int, help="copies of the circuits item (default: the stack's parameter)")
    commands = cli.add_subparsers(dest="command", required=True)
    commands.add_parser("show", help="every circuit: state, override, failures, and whether the copies agree")
    override = commands.add_parser("override", help="set one circuit's override, fleet-wide")
    override.add_argument("service", help=f"one of: {', '.join(REGISTRY)} (or an alias such as bedrock)")
    override.add_argument("mode", help=f"one of: {', '.join(o.value for o in Override)}")
    return cli


def stack_read_copies(cloudformation: Any, stack: str) -> int | None:
    """The deployed stack's CircuitReadCopies, or None when the stack cannot be read."""
    try:
        stacks = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except Exception:  # no such stack, no permission, no endpoint: the table itself is the next witness
        return None
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in stacks[0].get("Parameters", [])}
    value = params.get("CircuitReadCopies")
    return int(value) if value else 1


def copies_in_table(dynamodb: Any, table: str) -> int:
    """How many ``circuits#<i>`` partitions hold an item: the copies some transition has written."""
    found = 0
    while found < MAX_COPIES and DynamoCircuitStore(table, dynamodb, read_copies=MAX_COPIES, copy=found).load_all():
        found += 1
    return found or 1


def described(record: CircuitRecord, now: float, copies: list[CircuitRecord | None]) -> dict[str, Any]:
    window = REGISTRY[record.service].breaker.window_seconds if record.service in REGISTRY else 60
    bucket = max(1, window // BUCKETS_PER_WINDOW)  # the breaker's own bucketing of its window
    return {
        "state": record.state.value,
        "override": record.override.value,
        "failures_in_window": record.failures_in_window(now, window, bucket),
        "reason": record.reason,
        "opened_at": record.opened_at or None,
        "open_until": record.open_until or None,
        "version": record.version,
        # A copy that differs from the circuits item in state, version or override is what some environments act on.
        "copies_agree": all(
            c is not None and (c.state, c.version, c.override) == (record.state, record.version, record.override)
            for c in copies
        ),
    }


def run(args: argparse.Namespace, dynamodb: Any, read_copies: int, clock: Callable[[], float]) -> dict[str, Any]:
    writer = DynamoCircuitStore(args.table_name, dynamodb, consistent_read=True, read_copies=read_copies)
    changed = None
    if args.command == "override":
        changed = service(args.service).name
        writer.set_override(changed, Override(args.mode), clock())
    primary = DynamoCircuitStore(args.table_name, dynamodb, consistent_read=True).load_all()
    copies = [
        DynamoCircuitStore(args.table_name, dynamodb, consistent_read=True, read_copies=read_copies, copy=i).load_all()
        for i in range(read_copies if read_copies > 1 else 0)
    ]
    now = clock()
    names = [changed] if changed else sorted(primary)
    circuits = {
        name: described(primary.get(name) or CircuitRecord(name), now, [c.get(name) for c in copies]) for name in names
    }
    return {"circuits": circuits, "read_copies": read_copies}


def main(
    argv: list[str] | None = None,
    clock: Callable[[], float] = time.time,
    dynamodb: Any = None,
    cloudformation: Any = None,
) -> int:
    args = parser().parse_args(argv)
    args.table_name, region = table_and_region(args)
    if args.command == "override":
        problems = []
        try:
            service(args.service)
        except KeyError:
            problems.append(f"service: {args.service!r} is not one of {', '.join(REGISTRY)}")
        if args.mode not in {o.value for o in Override}:
            problems.append(f"mode: {args.mode!r} is not one of {', '.join(o.value for o in Override)}")
        if problems:
            print("override not set, nothing was written:", *(f"  - {p}" for p in problems), sep="\n", file=sys.stderr)
            return EXIT_BAD_INPUT
    dynamodb = dynamodb or aws_client("dynamodb", region)
    source = "--read-copies"
    read_copies = args.read_copies
    if read_copies is None:
        source = f"stack {args.stack} parameter CircuitReadCopies"
        read_copies = stack_read_copies(cloudformation or aws_client("cloudformation", region), args.stack)
    try:
        if read_copies is None:
            source = "copies found in the table"
            read_copies = copies_in_table(dynamodb, args.table_name)
        result = run(args, dynamodb, max(1, min(read_copies, MAX_COPIES)), clock)
    except StateStoreError as err:
        print(f"state table {args.table_name} in {region} could not be read or written: {err}", file=sys.stderr)
        return EXIT_STORE_FAILED
    print(json.dumps({**result, "read_copies_from": source}, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
