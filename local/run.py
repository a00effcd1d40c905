"""`make run`: the whole of MangaAssist on 127.0.0.1, in the foreground until Ctrl-C or SIGTERM.

This module is the supervisor: it starts, wires and stops the parts docs/local-stack.md lists under "What
starts", each of which has a module of its own.

Environment: PORT (3000; 0 = any free port), WORKERS (2), PING_INTERVAL_S (30; 0 = only on request),
LOCAL_ALARM_EVAL_S (10; 0 = alarms only on request), LOCAL_TIME_SCALE (1; game days compress the breakers'
open periods and the banner delay by it), STACK_NAME (mangaassist-local), LOCAL_LOG_DIR (a fresh temp dir),
LOCAL_QUIET (1 = no worker log lines on the console).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.alarm_loop import AlarmLoop
from local.async_invoke import AsyncInvoker, iso
from local.circuits import CircuitAdmin
from local.control import ControlApi
from local.fault_proxy import FaultProxy
from local.front import Front
from local.metric_sink import MetricSink, json_documents
from local.moto_process import FAKE_CREDENTIALS, MotoServer, free_port
from local.provision import REGION, aws_client, function_env, local_refs, provision
from local.receivers import Receiver, pagerduty_receiver, slack_receiver
from local.simulators import SimulatorFleet
from local.sns import lambda_event
from local.template_resources import ROOT, function_properties, resource
from local.workers import TIME_SCALE_ENV, Outcome, WorkerPool

CHAT = "ChatFunction"
HEALTH_PING = "HealthPingFunction"
ALARM_RELAY = "AlarmRelayFunction"
SCHEDULED_EVENT = ROOT / "events" / "scheduled_ping.json"
SLACK_WEBHOOK_PATH = "/services/TLOCAL000/BLOCAL000/localwebhook"
PAGERDUTY_ROUTING_KEY = "local-routing-key-00000000000000"  # what the local receiver is sent; not a secret
# Fields every Powertools log line carries: the console shows a warning's own fields only.
LOG_NOISE = {
    *("level", "location", "message", "timestamp", "service", "cold_start", "xray_trace_id", "correlation_id"),
    *("function_name", "function_memory_size", "function_arn", "function_request_id", "sampling_rate"),
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
        self.alarms: AlarmLoop | None = None
        self.circuits: CircuitAdmin | None = None
        self.async_invoker: AsyncInvoker | None = None
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
        # Bound now, so workers know its URL; serving once everything is ready.
        self.front = Front(self.pools, self.control.handle, self.sns_delivery, port=config.port)
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
        pools = {CHAT: ("chat", config.workers), HEALTH_PING: ("health-ping", 1), ALARM_RELAY: ("alarm-relay", 1)}
        for logical_id, (prefix, size) in pools.items():
            props = function_properties(logical_id)
            name = f"{config.stack_name}-{prefix}"
            overrides = {
                **common,
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props.get("MemorySize", 128)),
                "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
                "DASHBOARD_URL": f"{front_url}/dashboard",
            }
            env = {**os.environ, **function_env(logical_id, refs, overrides)}
            self.pools[logical_id] = WorkerPool(
                logical_id, prefix, size, env, float(props.get("Timeout", 3)), self._on_output
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
        # Straight at moto, past the store proxies: the stack's own housekeeping is never faulted.
        moto = self.moto.url
        self.alarms = AlarmLoop(self.sink, refs, aws_client("sns", moto))
        self.circuits = CircuitAdmin(aws_client("dynamodb", moto), refs["StateTable"])
        self.async_invoker = AsyncInvoker(self.pools, refs, aws_client("sqs", moto), self._stop)
        self.front.start()
        if config.ping_interval_s > 0:
            self._background("ping-schedule", self._ping_schedule)
        if config.alarm_eval_s > 0:
            self._background("alarm-evaluator", lambda: self.alarms.run(config.alarm_eval_s, self._stop))
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
        arn = f"arn:aws:events:{REGION}:{self.refs['AWS::AccountId']}:rule/{self.config.stack_name}-{rule}"
        # The sample `sam local invoke` sends (same account and region), as this run's rule fires it now.
        event = json.loads(SCHEDULED_EVENT.read_text(encoding="utf-8"))
        event.update(id=str(uuid.uuid4()), time=iso(time.time()), resources=[arn] if trigger == "schedule" else [])
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
        """SNS posted to the function's HTTP subscription: invoke it asynchronously, as Lambda does for SNS."""
        event = lambda_event(body)
        if event is not None and self.async_invoker is not None:
            self.async_invoker.invoke(function_id, event)

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
    except Exception as err:
        busy = getattr(err, "errno", None) == errno.EADDRINUSE
        hint = " (another `make run`? choose one with PORT=...)" if busy else ""
        print(f"the local stack could not start: {err}{hint}", file=sys.stderr, flush=True)
        return 1
    finally:
        with contextlib.suppress(Exception):
            stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
