"""moto in server mode with DynamoDB's item-level atomicity: one DynamoDB request at a time.

Real DynamoDB applies each conditional write atomically: two writers racing on one item never both see
the condition hold. moto's threaded server checks the condition and writes without a lock, so under real
concurrency two conditional writes can both succeed, which DynamoDB never allows. Serialising DynamoDB
requests (and only those: SNS delivers to HTTP subscribers inside Publish, and those subscribers call
back into this server) restores the semantics the breaker relies on, without mocking anything.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple


class DynamoDBItemAtomicity:
    def __init__(self, app) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return self.app(environ, start_response)
        with self.lock:
            # Drain the response inside the lock: the write happens while the body is produced.
            return list(self.app(environ, start_response))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(args.host, args.port, DynamoDBItemAtomicity(app), threaded=True, request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
