"""Lambda's asynchronous invocation, locally: the retries of the function's EventInvokeConfig (1 s and 2 s
apart instead of Lambda's minutes), then its on-failure destination (an SQS queue in moto)."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

from local.template_resources import function_properties
from local.workers import WorkerPool

ASYNC_RETRY_DELAYS_S = (1.0, 2.0)  # Lambda waits about 1 and 2 minutes between asynchronous retries


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class AsyncInvoker:
    def __init__(self, pools: dict[str, WorkerPool], refs: dict[str, Any], sqs: Any, stop: threading.Event):
        self.pools = pools
        self.refs = refs
        self.sqs = sqs
        self.stop = stop

    def invoke(self, function_id: str, event: dict[str, Any]) -> None:
        """Returns at once, as Lambda's Event invocation type does; the attempts run in the background."""
        if function_id in self.pools:
            threading.Thread(target=self._attempts, args=(function_id, event), daemon=True).start()

    def _attempts(self, function_id: str, event: dict[str, Any]) -> None:
        config = function_properties(function_id).get("EventInvokeConfig") or {}
        retries = int(config.get("MaximumRetryAttempts", 2))
        outcome = None
        for attempt in range(retries + 1):
            delay = ASYNC_RETRY_DELAYS_S[min(attempt - 1, len(ASYNC_RETRY_DELAYS_S) - 1)] if attempt else 0.0
            if self.stop.wait(delay):
                return
            outcome = self.pools[function_id].invoke(event, wait_s=60.0)
            if outcome.kind == "ok":
                return
            print(f"[local] {function_id} attempt {attempt + 1} failed: {outcome.error}", flush=True)
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if isinstance(destination, dict) and "Fn::GetAtt" in destination:
            record = {
                "version": "1.0",
                "timestamp": iso(time.time()),
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": retries + 1},
                "requestPayload": event,
                "responseContext": {"functionError": "Unhandled"},
                "responsePayload": outcome.error if outcome else None,
            }
            queue_url = self.refs[destination["Fn::GetAtt"][0]]
            self.sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))
