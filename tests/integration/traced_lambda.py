"""Runs one Lambda handler on a list of events in this process as Lambda does with active tracing.

`python -m tests.integration.traced_lambda <function> <events.json> <results.json>`. The parent test sets the
environment that puts the X-Ray SDK in Lambda mode (LAMBDA_TASK_ROOT) and points it at its UDP stand-in for the
daemon (AWS_XRAY_DAEMON_ADDRESS). It is a separate process because the SDK decides Lambda mode once, when it is
imported, and its patches and recorder are process-wide: nothing of it may leak into the rest of the suite.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from tests.fakes import FakeLambdaContext

ROOT = Path(__file__).resolve().parents[2]


def trace_header() -> str:
    """A fresh _X_AMZN_TRACE_ID as the Lambda runtime sets it per invocation, sampled."""
    root = f"1-{int(time.time()):08x}-{secrets.token_hex(12)}"
    return f"Root={root};Parent={secrets.token_hex(8)};Sampled=1"


def main(function: str, events_path: str, results_path: str) -> None:
    # Loading the module is the init phase: Lambda sets no trace header until the first invocation.
    os.environ.pop("_X_AMZN_TRACE_ID", None)
    spec = importlib.util.spec_from_file_location(f"{function}_traced", ROOT / "functions" / function / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    outcomes: list[dict[str, Any]] = []
    for event in json.loads(Path(events_path).read_text(encoding="utf-8")):
        header = trace_header()
        os.environ["_X_AMZN_TRACE_ID"] = header
        context = FakeLambdaContext(function_name=f"mangaassist-{function}", remaining_ms=12_000)
        try:
            outcomes.append({"trace": header, "result": module.lambda_handler(event, context)})
        except Exception as err:  # the relay raises so Lambda retries; the parent checks what was traced
            outcomes.append({"trace": header, "raised": type(err).__name__})

    from aws_xray_sdk.core import patcher

    report = {"outcomes": outcomes, "patched": sorted(patcher._PATCHED_MODULES)}
    Path(results_path).write_text(json.dumps(report, ensure_ascii=False, default=str), encoding="utf-8")


if __name__ == "__main__":
    main(*sys.argv[1:])
