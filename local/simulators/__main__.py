"""`python -m local.simulators`: start every simulator, print their URLs as JSON, run until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading

from local.simulators import SimulatorFleet
from mangaassist.registry import SERVICE_NAMES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.simulators", description=__doc__)
    parser.add_argument(
        "--base-port",
        type=int,
        default=0,
        help="first port; services take consecutive ports in registry order (default: free ports)",
    )
    parser.add_argument("--env", action="store_true", help="print the env variables clients need instead of URLs")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")

    ports = {name: args.base_port + i for i, name in enumerate(SERVICE_NAMES)} if args.base_port else None
    fleet = SimulatorFleet(ports=ports).start()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        # One line, so a script can read exactly one line and parse it.
        print(json.dumps(fleet.env() if args.env else fleet.urls()), flush=True)
        stop.wait()
    finally:
        fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
