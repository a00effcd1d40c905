"""`make run`: the whole of MangaAssist on 127.0.0.1, in the foreground until Ctrl-C or SIGTERM.

What starts (docs/local-stack.md has the details):
- moto in server mode as the AWS endpoint, with the tables, FAQ bucket and document, alarm topic and its
  subscription, channel secrets and failure queue created from template.yaml (local/provision.py);
- the downstream simulators and the Bedrock Converse endpoint, with their sample data;
- fault proxies in front of moto for DynamoDB ("state_store") and S3 ("faq_store");
- local Slack and PagerDuty receivers;
- worker processes, one per Lambda execution environment: $WORKERS for the chat function, one each for the
  health-ping and alarm-relay functions (local/workers.py);
- the API front on http://127.0.0.1:$PORT (local/front.py) with /chat, /feedback, /health, /status, the
  live /dashboard and the /_local control API (local/control.py);
- the health ping every $PING_INTERVAL_S seconds, and a local alarm evaluator that publishes alarm state
  changes to the SNS topic (moto evaluates no alarms), so the alarm path runs end to end.

Environment: PORT (3000; 0 = any free port), WORKERS (2), PING_INTERVAL_S (30; 0 = only on request),
LOCAL_ALARM_EVAL_S (10; 0 = alarms only on request), LOCAL_TIME_SCALE (1; game days compress the breakers'
open periods and the banner delay by it), STACK_NAME (mangaassist-local), LOCAL_LOG_DIR (a fresh temp dir),
LOCAL_QUIET (1 = no worker log lines on the console).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import importlib.util
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# `python -m local.<this>` from the repository root: the layer's package is not installed, put it on the path.
LAYER = Path(__file__).resolve().parent.parent / "layers" / "mangaassist"
if importlib.util.find_spec("mangaassist") is None:
    sys.path.insert(0, str(LAYER))

from local.alarms import UnsupportedExpressionError, evaluable_alarms, evaluate, notification  # noqa: E402
from local.control import ControlApi  # noqa: E402
from local.fault_proxy import FaultProxy  # noqa: E402
from local.front import Front  # noqa: E402
from local.metric_sink import MetricSink, json_documents  # noqa: E402
from local.moto_process import FAKE_CREDENTIALS, MotoServer, free_port  # noqa: E402
from local.provision import REGION, aws_client, function_env, local_refs, provision  # noqa: E402
from local.receivers import Receiver, pagerduty_receiver, slack_receiver  # noqa: E402
from local.simulators import SimulatorFleet  # noqa: E402
from local.template_resources import function_properties, resource  # noqa: E402
from local.workers import TIME_SCALE_ENV, Outcome, WorkerPool  # noqa: E402

CHAT = "ChatFunction"
HEALTH_PING = "HealthPingFunction"
ALARM_RELAY = "AlarmRelayFunction"
SLACK_WEBHOOK_PATH = "/services/TLOCAL000/BLOCAL000/localwebhook"
PAGERDUTY_ROUTING_KEY = "local-routing-key-00000000000000"  # what the local receiver is sent; not a secret
ASYNC_RETRY_DELAYS_S = (1.0, 2.0)  # Lambda waits about 1 and 2 minutes between asynchronous retries
LOG_NOISE = {
    "level",
    "location",
    "message",
    "timestamp",
    "service",
    "cold_start",
    "function_name",
    "function_memory_size",
    "function_arn",
    "function_request_id",
    "xray_trace_id",
    "correlation_id",
    "sampling_rate",
}


@dataclass(frozen=True)
class StackConfig:
    port: int = 3000
    workers: int = 2
    ping_interval_s: float = 30.0
    alarm_eval_s: float = 10.0
    time_scale: float = 1.0
    stack_name: str = "mangaassist-local"
    log_dir: Path | None = None
    quiet: bool = False

    @classmethod
    def from_env(cls) -> StackConfig:
        def number(name: str, default: float) -> float:
            raw = os.getenv(name, "").strip()
            return float(raw) if raw else default

        log_dir = os.getenv("LOCAL_LOG_DIR", "").strip()
        return cls(
            port=int(number("PORT", 3000)),
            workers=max(1, int(number("WORKERS", 2))),
            ping_interval_s=number("PING_INTERVAL_S", 30.0),
            alarm_eval_s=number("LOCAL_ALARM_EVAL_S", 10.0),
            time_scale=max(1.0, number(TIME_SCALE_ENV, 1.0)),
            stack_name=os.getenv("STACK_NAME", "").strip() or "mangaassist-local",
            log_dir=Path(log_dir) if log_dir else None,
            quiet=os.getenv("LOCAL_QUIET", "").strip() in ("1", "true", "yes"),
        )


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _compact(worker: str, line: str) -> str | None:
    """A worker's WARNING/ERROR log line as one short console line; None for anything quieter."""
    try:
        doc = json.loads(line)
    except ValueError:
        return f"[{worker}] {line}" if line.strip() else None
    if not isinstance(doc, dict) or doc.get("level") not in ("WARNING", "ERROR", "CRITICAL"):
        return None
    details = " ".join(
        f"{k}={str(v).splitlines()[0][:160] if str(v) else v}"
        for k, v in doc.items()
        if k not in LOG_NOISE and not isinstance(v, dict | list)
    )
    return f"[{worker}] {doc['level']} {doc.get('message')} {details}".rstrip()


class LocalStack:
    def __init__(self, config: StackConfig):
        self.config = config
        self.sink = MetricSink()
        self.pools: dict[str, WorkerPool] = {}
        self.receivers: dict[str, Receiver] = {}
        self.proxies: dict[str, FaultProxy] = {}
        self.fleet: SimulatorFleet | None = None
        self.moto: MotoServer | None = None
        self.front: Front | None = None
        self.control = ControlApi(self)
        self.refs: Any = None
        self.started_at = time.time()
        self.ready_s: float | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._alarm_states: dict[str, str] = {}
        # Rounds the background evaluator has finished: what a test waits on to know "n more evaluations ran".
        self._evaluator_rounds = 0
        self._alarm_lock = threading.Lock()
        self._evaluable: list[str] = []
        self._log_lock = threading.Lock()
        self.log_dir = config.log_dir or Path(tempfile.mkdtemp(prefix="mangaassist-local-"))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self._log = (self.log_dir / "workers.log").open("a", encoding="utf-8")

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> LocalStack:
        started = time.perf_counter()
        config = self.config
        self.receivers = {"slack": slack_receiver().start(), "pagerduty": pagerduty_receiver().start()}
        self.fleet = SimulatorFleet().start()
        self.moto = MotoServer(port=free_port())
        self.proxies = {
            "state_store": FaultProxy("state_store", self.moto.url, "dynamodb").start(),
            "faq_store": FaultProxy("faq_store", self.moto.url, "s3").start(),
        }
        self.front = Front(
            self.pools, self.control.handle, self.sns_delivery, stage="local", port=config.port
        )  # bound now, serving once everything is ready
        front_url = self.front.url

        refs = local_refs(config.stack_name)
        refs["PagerDutyEventsUrl"] = f"{self.receivers['pagerduty'].url}/v2/enqueue"
        refs["RunbookBaseUrl"] = f"{front_url}/_local/runbooks"
        refs["local:started_at"] = self.started_at
        self.refs = refs
        common = {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_ENDPOINT_URL_DYNAMODB": self.proxies["state_store"].url,
            "AWS_ENDPOINT_URL_S3": self.proxies["faq_store"].url,
            **self.fleet.env(),
            # No X-Ray daemon locally; creating the Tracer would also cost each worker ~300 ms of init.
            "POWERTOOLS_TRACE_DISABLED": "true",
            TIME_SCALE_ENV: str(config.time_scale),
            # The local Slack stand-in is the only webhook the local relay may post to.
            "SLACK_WEBHOOK_PREFIX": self.receivers["slack"].url + "/services/",
        }
        sizes = {CHAT: config.workers, HEALTH_PING: 1, ALARM_RELAY: 1}
        prefixes = {CHAT: "chat", HEALTH_PING: "health-ping", ALARM_RELAY: "alarm-relay"}
        for logical_id, size in sizes.items():
            props = function_properties(logical_id)
            name = f"{config.stack_name}-{prefixes[logical_id]}"
            overrides = {
                **common,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "DASHBOARD_URL": f"{front_url}/dashboard",
            }
            env = {**os.environ, **function_env(logical_id, refs, overrides)}
            self.pools[logical_id] = WorkerPool(
                logical_id, prefixes[logical_id], size, env, float(props.get("Timeout", 3)), self._on_output
            ).spawn()

        self.moto.start()
        provision(
            self.moto.url,
            refs,
            {
                "SlackWebhookSecret": self.receivers["slack"].url + SLACK_WEBHOOK_PATH,
                "PagerDutyRoutingKeySecret": PAGERDUTY_ROUTING_KEY,
            },
            sns_endpoint=f"{front_url}/_local/sns",
        )
        for pool in self.pools.values():
            pool.wait_ready()
        self._evaluable = evaluable_alarms(refs)
        self.front.start()
        if config.ping_interval_s > 0:
            self._background("ping-schedule", self._ping_schedule)
        if config.alarm_eval_s > 0:
            self._background("alarm-evaluator", self._alarm_evaluator)
        self.ready_s = time.perf_counter() - started
        return self

    def stop(self) -> None:
        self._stop.set()
        if self.front is not None:
            self.front.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        stoppers = [threading.Thread(target=pool.stop) for pool in self.pools.values()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join(timeout=15)
        for proxy in self.proxies.values():
            proxy.stop()
        if self.fleet is not None:
            self.fleet.stop()
        for receiver in self.receivers.values():
            receiver.stop()
        if self.moto is not None:
            self.moto.stop()
        with self._log_lock:
            self._log.close()

    def _background(self, name: str, target) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _on_output(self, worker: str, line: str) -> None:
        if not line.strip():  # the newline of a line another thread's text already ended
            return
        if self.sink.add_line(line):
            # Threads that print at once can share a line: a log document next to an EMF one is kept.
            for doc in json_documents(line):
                if not (isinstance(doc, dict) and "_aws" in doc):
                    self._log_line(worker, json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
            return
        self._log_line(worker, line)

    def _log_line(self, worker: str, line: str) -> None:
        with self._log_lock:
            if not self._log.closed:
                self._log.write(f"{worker} {line}\n")
                self._log.flush()
        if not self.config.quiet:
            shown = _compact(worker, line)
            if shown:
                print(shown, flush=True)

    # ------------------------------------------------------------------ what the control API drives

    def fault_targets(self) -> dict[str, Any]:
        assert self.fleet is not None
        return {**self.fleet.servers, **self.proxies}

    def ping(self, trigger: str = "schedule") -> Outcome:
        rule = next(iter(resource(HEALTH_PING)["Properties"].get("Events", {})), "schedule")
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.refs["AWS::AccountId"],
            "time": _iso(time.time()),
            "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{self.refs['AWS::AccountId']}:rule/{self.config.stack_name}-{rule}"]
            if trigger == "schedule"
            else [],
            "detail": {},
        }
        return self.pools[HEALTH_PING].invoke(event, wait_s=60.0)

    def _ping_schedule(self) -> None:
        # The first run right away, so /status has latencies and error rates from the start.
        delay = 0.5
        while not self._stop.wait(delay):
            outcome = self.ping()
            if outcome.kind != "ok":
                print(f"[local] health ping failed: {outcome.kind} {outcome.error}", flush=True)
            delay = self.config.ping_interval_s

    def sns_delivery(self, function_id: str, body: bytes) -> None:
        """SNS posted a notification to the function's HTTP subscription: invoke it asynchronously, as
        Lambda does for SNS, with the retries and on-failure destination of its EventInvokeConfig."""
        try:
            message = json.loads(body)
        except ValueError:
            return
        if message.get("Type") != "Notification" or function_id not in self.pools:
            return
        event = {
            "Records": [
                {
                    "EventSource": "aws:sns",
                    "EventVersion": "1.0",
                    "EventSubscriptionArn": f"{message.get('TopicArn')}:{uuid.uuid4()}",
                    "Sns": {
                        "Type": "Notification",
                        "MessageId": message.get("MessageId"),
                        "TopicArn": message.get("TopicArn"),
                        "Subject": message.get("Subject"),
                        "Message": message.get("Message"),
                        "Timestamp": message.get("Timestamp"),
                        "SignatureVersion": message.get("SignatureVersion"),
                        "Signature": message.get("Signature"),
                        "SigningCertUrl": message.get("SigningCertURL"),
                        "UnsubscribeUrl": message.get("UnsubscribeURL"),
                        "MessageAttributes": message.get("MessageAttributes") or {},
                    },
                }
            ]
        }
        threading.Thread(target=self._invoke_async, args=(function_id, event), daemon=True).start()

    def _invoke_async(self, function_id: str, event: dict[str, Any]) -> None:
        config = function_properties(function_id).get("EventInvokeConfig") or {}
        retries = int(config.get("MaximumRetryAttempts", 2))
        outcome = None
        for attempt in range(retries + 1):
            delay = ASYNC_RETRY_DELAYS_S[min(attempt - 1, len(ASYNC_RETRY_DELAYS_S) - 1)] if attempt else 0.0
            if self._stop.wait(delay):
                return
            outcome = self.pools[function_id].invoke(event, wait_s=60.0)
            if outcome.kind == "ok":
                return
            print(f"[local] {function_id} attempt {attempt + 1} failed: {outcome.error}", flush=True)
        destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if isinstance(destination, dict) and "Fn::GetAtt" in destination and self.moto is not None:
            queue_url = self.refs[destination["Fn::GetAtt"][0]]
            record = {
                "version": "1.0",
                "timestamp": _iso(time.time()),
                "requestContext": {"condition": "RetriesExhausted", "approximateInvokeCount": retries + 1},
                "requestPayload": event,
                "responseContext": {"functionError": "Unhandled"},
                "responsePayload": outcome.error if outcome else None,
            }
            self._aws("sqs").send_message(QueueUrl=queue_url, MessageBody=json.dumps(record))

    # ------------------------------------------------------------------ alarms

    def _aws(self, service: str):
        assert self.moto is not None
        return aws_client(service, self.moto.url)

    def evaluate_alarms(self, name: str | None = None) -> dict[str, Any]:
        names = [name] if name else self._evaluable
        out: dict[str, Any] = {}
        for alarm in names:
            try:
                evaluation = evaluate(alarm, self.sink, self.refs).as_dict()
            except (UnsupportedExpressionError, KeyError) as err:
                evaluation = {"alarm": alarm, "state": None, "reason": f"not evaluated locally: {err}"}
            evaluation["last_published"] = self._alarm_states.get(alarm)
            evaluation["evaluator_rounds"] = self._evaluator_rounds
            out[alarm] = evaluation
        return out

    def publish_alarm(self, name: str, state: str, reason: str | None = None) -> dict[str, Any]:
        """Publish alarm ``name``'s change to ``state`` to the topic its actions name in template.yaml."""
        subject, message = notification(name, state, "OK", "", self.refs)
        doc = json.loads(message)
        topics = sorted({*doc["AlarmActions"], *doc["OKActions"], *doc["InsufficientDataActions"]})
        if not topics:
            raise UnsupportedExpressionError(f"{name} has no actions in template.yaml: CloudWatch notifies nobody")
        if reason is None:
            try:
                reason = evaluate(name, self.sink, self.refs).reason
            except (UnsupportedExpressionError, KeyError):
                reason = f"Set to {state} through the local control API."
        with self._alarm_lock:
            old = self._alarm_states.get(name) or ("OK" if state != "OK" else "INSUFFICIENT_DATA")
            subject, message = notification(name, state, old, reason, self.refs)
            sns = self._aws("sns")
            ids = [sns.publish(TopicArn=t, Subject=subject, Message=message)["MessageId"] for t in topics]
            self._alarm_states[name] = state
        notes = []
        actions = {"ALARM": "AlarmActions", "OK": "OKActions", "INSUFFICIENT_DATA": "InsufficientDataActions"}
        if not doc[actions[state]]:
            notes.append(f"template.yaml gives {name} no {actions[state]}: CloudWatch would not notify this change")
        return {"alarm": name, "state": state, "old_state": old, "message_ids": ids, "topics": topics, "notes": notes}

    def _alarm_evaluator(self) -> None:
        """CloudWatch's part: evaluate the alarms on the emitted metrics, notify on OK <-> ALARM changes."""
        while not self._stop.wait(self.config.alarm_eval_s):
            for name in self._evaluable:
                try:
                    evaluation = evaluate(name, self.sink, self.refs)
                except (UnsupportedExpressionError, KeyError):
                    continue
                previous = self._alarm_states.get(name, "OK")
                if evaluation.state in ("OK", "ALARM") and evaluation.state != previous:
                    try:
                        self.publish_alarm(name, evaluation.state, evaluation.reason)
                        print(f"[local] alarm {name}: {previous} -> {evaluation.state}", flush=True)
                    except Exception as err:  # keep evaluating the others; moto may be busy or stopping
                        print(f"[local] could not publish alarm {name}: {err}", flush=True)
            self._evaluator_rounds += 1

    # ------------------------------------------------------------------ circuits, read past the fault proxy

    def health_store(self):
        """The state table's health and flags partitions, read and written past any state_store fault."""
        from mangaassist.health import HealthStore

        return HealthStore(self.refs["StateTable"], self._aws("dynamodb"))

    def circuits(self) -> dict[str, Any]:
        from mangaassist.breaker.dynamo_store import DynamoCircuitStore

        records = DynamoCircuitStore(self.refs["StateTable"], self._aws("dynamodb")).load_all()
        return {
            name: {k: (v.value if hasattr(v, "value") else v) for k, v in dataclasses.asdict(rec).items()}
            for name, rec in records.items()
        }

    def reset_circuits(self) -> int:
        """Close every circuit through the breaker's own conditional writes (items are never deleted under a
        running fleet: its environments remember which items exist); clears failure counts and overrides."""
        from mangaassist.breaker import CircuitState, Override
        from mangaassist.breaker.dynamo_store import DynamoCircuitStore
        from mangaassist.breaker.store import LostRaceError

        store = DynamoCircuitStore(self.refs["StateTable"], self._aws("dynamodb"))
        changed = 0
        for name, record in store.load_all().items():
            now = time.time()
            if record.override is not Override.NONE:
                record = store.set_override(name, Override.NONE, now)
                changed += 1
            if record.state is CircuitState.CLOSED and not record.failure_buckets:
                continue
            closed = record.with_changes(
                state=CircuitState.CLOSED,
                opened_at=0.0,
                open_until=0.0,
                reopen_count=0,
                probe_owner="",
                lease_until=0.0,
                probe_successes=0,
                reason="local_reset",
                updated_at=now,
                failure_buckets={},
            )
            with contextlib.suppress(LostRaceError):  # a worker moved it meanwhile; the caller may reset again
                store.compare_and_set(record.version, closed)
                changed += 1
        self.forget_llm_budgets()
        return changed

    def forget_llm_budgets(self) -> int:
        """Delete every per-client Bedrock budget counter: a fresh fleet owes nobody's earlier scenario a budget."""
        from mangaassist.chat.client_budget_store import LLM_BUDGET_PK_PREFIX

        ddb, table = self._aws("dynamodb"), self.refs["StateTable"]
        pages = ddb.get_paginator("scan").paginate(
            TableName=table,
            FilterExpression="begins_with(pk, :prefix)",
            ExpressionAttributeValues={":prefix": {"S": LLM_BUDGET_PK_PREFIX}},
            ProjectionExpression="pk, sk",
        )
        keys = [item for page in pages for item in page["Items"]]
        for key in keys:
            ddb.delete_item(TableName=table, Key=key)
        return len(keys)

    def banner(self) -> str:
        assert self.front is not None
        assert self.moto is not None
        lines = [
            f"MangaAssist local stack ready in {self.ready_s:.1f} s",
            f"  API:        {self.front.url}  (POST /chat, POST /feedback, GET /health, GET /status)",
            f"  dashboard:  {self.front.url}/dashboard",
            f"  control:    {self.front.url}/_local  (faults, stats, notifications, ping, alarms, workers)",
            f"  workers:    {self.config.workers} chat + 1 health-ping + 1 alarm-relay processes",
            f"  AWS (moto): {self.moto.url}   state table: {self.refs['StateTable']}",
            f"  logs:       {self.log_dir / 'workers.log'}",
            f"  try:        curl -s -XPOST {self.front.url}/chat -H 'Content-Type: application/json' "
            "-H 'Authorization: Bearer cust-0001' -d '{\"message\": \"Where is my order?\"}'",
            "Ctrl-C stops everything.",
        ]
        if self.config.time_scale != 1:
            lines.insert(1, f"  time scale: open periods and the banner delay divided by {self.config.time_scale:g}")
        return "\n".join(lines)


def main() -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(StackConfig.from_env())
    try:
        stack.start()
        print(stack.banner(), flush=True)
        stop.wait()
        print("\nStopping the local stack ...", flush=True)
    except OSError as err:
        hint = " (another `make run`? choose one with PORT=...)" if err.errno == errno.EADDRINUSE else ""
        print(f"the local stack could not start: {err}{hint}", file=sys.stderr, flush=True)
        return 1
    except Exception as err:
        print(f"the local stack could not start: {err}", file=sys.stderr, flush=True)
        return 1
    finally:
        with contextlib.suppress(Exception):
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
