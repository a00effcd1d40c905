"""Lambda execution environments on one machine: one OS process per environment, a pool per function.

A worker process imports its function's handler once (the init phase), then handles one event at a time
for as long as it lives, exactly like a warm Lambda environment: its own memory, its own boto3 clients,
its own breaker snapshot. Events and results travel over a socket pair as JSON messages; the
process's stdout is what Lambda would send to CloudWatch Logs (Powertools log lines and EMF metrics),
and the parent reads it line by line.

Parent side: ``WorkerPool`` starts ``size`` workers, hands each event to an idle one, kills a worker
that overruns the function's Timeout (as Lambda does) and replaces any worker that dies.
Child side: ``python -m local.workers <FunctionLogicalId>`` (started by the pool, never by hand).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mangaassist.registry import ServiceSpec

ROOT = Path(__file__).resolve().parent.parent
LAYER_DIR = ROOT / "layers" / "mangaassist"
FD_ENV = "LOCAL_WORKER_FD"
PARENT_ENV = "LOCAL_WORKER_PARENT"
TIME_SCALE_ENV = "LOCAL_TIME_SCALE"
PR_SET_PDEATHSIG = 1
READY_TIMEOUT_S = 30.0  # a worker's init phase (imports, clients) must end within this

# --------------------------------------------------------------------------------------------- framing


def send_frame(conn: Connection, message: dict[str, Any]) -> None:
    conn.send_bytes(json.dumps(message, ensure_ascii=False, default=str).encode())


def recv_frame(conn: Connection, timeout_s: float | None = None) -> dict[str, Any] | None:
    """The next message; None when the other side closed; TimeoutError when none came within ``timeout_s``."""
    try:
        if conn.poll(timeout_s):
            return json.loads(conn.recv_bytes())
    except (EOFError, OSError):
        return None
    raise TimeoutError


# --------------------------------------------------------------------------------------------- child side


@dataclass
class LambdaContext:
    """The fields of Lambda's context object the handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float  # time.monotonic() at which Lambda would stop the invocation
    function_version: str = "$LATEST"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def die_with_parent() -> None:
    """Linux: the kernel kills this process when the stack process dies, even by SIGKILL."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    parent = os.getenv(PARENT_ENV)
    if parent and os.getppid() != int(parent):  # the parent died before prctl took effect
        os._exit(0)


def with_waiting_periods_scaled(registry: Mapping[str, ServiceSpec], scale: float) -> Mapping[str, ServiceSpec]:
    """A read-only copy of ``registry`` whose breakers wait ``scale`` times less (LOCAL_TIME_SCALE, game days).

    Thresholds, windows, timeouts and probe leases stay the registry's: what opens a circuit and how a
    probe is guarded is unchanged; only the waiting before the next probe is compressed. Every worker
    of the stack wires the same scaled copy, so the whole fleet agrees on when a circuit is due.
    """
    scaled = {
        name: replace(
            spec,
            breaker=replace(
                spec.breaker,
                open_seconds=spec.breaker.open_seconds / scale,
                max_open_seconds=spec.breaker.max_open_seconds / scale,
            ),
        )
        for name, spec in registry.items()
    }
    return MappingProxyType(scaled)


def load_handler(code_uri: str, handler: str) -> tuple[ModuleType, Callable[[Any, Any], Any]]:
    """The handler's module (its ``bootstrap`` is the wiring seam) and the handler function."""
    module_name, function_name = handler.rsplit(".", 1)
    code_dir = ROOT / code_uri
    sys.path[:0] = [str(code_dir), str(LAYER_DIR)]
    spec = importlib.util.spec_from_file_location(module_name, code_dir / f"{module_name.replace('.', '/')}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module, getattr(module, function_name)


def prepare_environment(logical_id: str, module: ModuleType, scale: float) -> None:
    """Game days only: wire the function with the scaled registry before its first event."""
    if scale == 1:
        return
    from mangaassist.registry import REGISTRY

    registry = with_waiting_periods_scaled(REGISTRY, scale)
    if logical_id == "HealthPingFunction":
        # The maintenance banner waits the design's 5 minutes of LLM outage; game days compress it too.
        from mangaassist.health.pinger import BANNER_AFTER_S

        module.bootstrap(registry=registry, banner_after_s=BANNER_AFTER_S / scale)
    elif logical_id == "ChatFunction":
        module.bootstrap(registry=registry)


def child_main(logical_id: str) -> int:
    die_with_parent()
    from local.template_resources import function_properties

    conn = Connection(int(os.environ[FD_ENV]))
    props = function_properties(logical_id)
    scale = float(os.getenv(TIME_SCALE_ENV, "1") or 1)
    module, handler = load_handler(props["CodeUri"], props["Handler"])
    prepare_environment(logical_id, module, scale)
    send_frame(conn, {"type": "ready"})
    function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
    timeout_s = float(props.get("Timeout", 3))
    while True:
        message = recv_frame(conn)
        if message is None:  # the stack closed our socket: it is shutting down
            return 0
        context = LambdaContext(
            function_name=function_name,
            memory_limit_in_mb=int(props.get("MemorySize", 128)),
            invoked_function_arn=f"arn:aws:lambda:{os.environ['AWS_REGION']}:123456789012:function:{function_name}",
            aws_request_id=message["request_id"],  # the pool always sends one
            log_group_name=os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", ""),
            log_stream_name=os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", ""),
            deadline=time.monotonic() + timeout_s,
        )
        try:
            result = handler(message["event"], context)
            reply = {"ok": True, "result": result}
        except Exception as exc:  # what the Lambda runtime reports as a function error
            trace = traceback.format_exception(exc)
            print(json.dumps({"level": "ERROR", "message": "unhandled_exception", "errorType": type(exc).__name__}))
            error = {"errorType": type(exc).__name__, "errorMessage": str(exc)[:500], "stackTrace": trace}
            reply = {"ok": False, "error": error}
        sys.stdout.flush()
        send_frame(conn, reply)


# --------------------------------------------------------------------------------------------- parent side


@dataclass
class Outcome:
    """What an invocation came to: ok, error (the handler raised), timeout or died."""

    kind: str
    worker: str
    result: Any = None
    error: dict[str, Any] | None = None


class Worker:
    """One execution environment: the process, its end of the socket pair, its counters."""

    def __init__(self, name: str, logical_id: str, env: dict[str, str], on_output: Callable[[str, str], None]):
        self.name = name
        self.logical_id = logical_id
        self.invocations = 0
        self.busy = False
        self.dead = False
        self.last_used = 0.0
        self.started_at = time.time()
        parent_sock, child_sock = socket.socketpair()
        self.conn = Connection(parent_sock.detach())
        child_env = {
            **env,
            FD_ENV: str(child_sock.fileno()),
            PARENT_ENV: str(os.getpid()),
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{name}-{uuid.uuid4().hex[:8]}",
            "PYTHONUNBUFFERED": "1",
        }
        # A session of its own: Ctrl-C in the terminal reaches the stack, which then stops its workers in order.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local.workers", logical_id],
            cwd=ROOT,
            env=child_env,
            pass_fds=(child_sock.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        child_sock.close()
        self._pump = threading.Thread(target=self._read_output, args=(on_output,), name=f"out-{name}", daemon=True)
        self._pump.start()

    def alive(self) -> bool:
        # ``dead`` too: the socket closes while the kernel tears the process down, before poll() can see it.
        return not self.dead and self.process.poll() is None

    def _read_output(self, on_output: Callable[[str, str], None]) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            on_output(self.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def wait_ready(self, timeout_s: float) -> None:
        try:
            message = recv_frame(self.conn, timeout_s)
        except TimeoutError:
            message = None
        if not message or message.get("type") != "ready":
            self.kill()
            raise RuntimeError(f"worker {self.name} ({self.logical_id}) did not start; see its log")

    def invoke(self, event: dict[str, Any], timeout_s: float, request_id: str) -> Outcome:
        self.invocations += 1
        try:
            send_frame(self.conn, {"event": event, "request_id": request_id})
            # Lambda stops an invocation at the function's Timeout; a little slack for the frame itself.
            reply = recv_frame(self.conn, timeout_s + 0.5)
        except TimeoutError:
            self.kill()
            return Outcome(
                "timeout", self.name, error={"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"}
            )
        except OSError:
            reply = None
        if reply is None:
            self.dead = True
            with contextlib.suppress(OSError):
                self.conn.close()
            return Outcome(
                "died", self.name, error={"errorType": "Runtime.ExitError", "errorMessage": "worker process exited"}
            )
        if reply.get("ok"):
            return Outcome("ok", self.name, result=reply.get("result"))
        return Outcome("error", self.name, error=reply.get("error"))

    def kill(self) -> None:
        """SIGKILL to the worker's process group: the worker and anything it started."""
        self.dead = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def stop(self, grace_s: float = 2.0) -> None:
        """Close the socket (the worker exits on EOF), then kill its process group.

        No SIGTERM first: the worker sets no handler for it, so it would end the process as abruptly."""
        with contextlib.suppress(OSError):
            self.conn.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace_s)
        self.kill()
        self.process.wait(timeout=5)
        self._pump.join(timeout=2)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": self.logical_id,
            "pid": self.process.pid,
            "alive": self.alive(),
            "busy": self.busy,
            "invocations": self.invocations,
            "started_at": self.started_at,
        }


class NoWorkerError(Exception):
    """No execution environment became free in time (API Gateway answers 504)."""


@dataclass
class WorkerPool:
    """``size`` environments of one function; dead ones are replaced by a supervisor thread."""

    logical_id: str
    prefix: str
    size: int
    env: dict[str, str]
    timeout_s: float
    on_output: Callable[[str, str], None]
    workers: list[Worker] = field(default_factory=list)
    replaced: int = 0

    def __post_init__(self) -> None:
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._serial = 0
        self._supervisor: threading.Thread | None = None
        self._pending: list[Worker] = []

    def _spawn(self) -> Worker:
        self._serial += 1
        return Worker(f"{self.prefix}-{self._serial}", self.logical_id, self.env, self.on_output)

    def spawn(self) -> WorkerPool:
        """Start the processes; their init phase runs while the rest of the stack comes up."""
        self._pending = [self._spawn() for _ in range(self.size)]
        return self

    def wait_ready(self) -> WorkerPool:
        try:
            for worker in self._pending:
                worker.wait_ready(READY_TIMEOUT_S)
        except RuntimeError:
            for worker in self._pending:
                worker.stop(grace_s=0.1)
            raise
        with self._cond:
            self.workers, self._pending = self._pending, []
        self._supervisor = threading.Thread(target=self._supervise, name=f"supervise-{self.prefix}", daemon=True)
        self._supervisor.start()
        return self

    def _supervise(self) -> None:
        while not self._stopping.wait(0.1):
            with self._cond:
                dead = [w for w in self.workers if not w.alive()]
            for worker in dead:
                if self._stopping.is_set():
                    return
                self._replace(worker)

    def _replace(self, dead: Worker) -> None:
        # Reap it first: its end of the socket pair closes with it, so an invocation in flight sees EOF now.
        with contextlib.suppress(subprocess.TimeoutExpired):
            dead.process.wait(timeout=5)
        with self._cond:
            if not dead.busy:
                # Never under an invocation in flight: closing a socket another thread waits on does not wake
                # it, and the next socket pair may reuse the number; that invocation closes it itself.
                with contextlib.suppress(OSError):
                    dead.conn.close()
        print(f"[local] {dead.name} (pid {dead.process.pid}) exited with {dead.process.returncode}; starting a new one")
        try:
            fresh = self._spawn()
            fresh.wait_ready(READY_TIMEOUT_S)
        except (RuntimeError, OSError) as err:
            print(f"[local] could not replace {dead.name}: {err}")
            time.sleep(1)
            return
        with self._cond:
            self.workers = [fresh if w is dead else w for w in self.workers]
            self.replaced += 1
            self._cond.notify_all()

    def _acquire(self, wait_s: float) -> Worker:
        deadline = time.monotonic() + wait_s
        with self._cond:
            while True:
                idle = [w for w in self.workers if not w.busy and w.alive()]
                if idle:
                    # Least recently used first: consecutive requests visit every environment of the fleet.
                    worker = min(idle, key=lambda w: w.last_used)
                    worker.busy = True
                    worker.last_used = time.monotonic()
                    return worker
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    raise NoWorkerError(self.logical_id)
                self._cond.wait(min(remaining, 0.2))

    def invoke(self, event: dict[str, Any], wait_s: float = 29.0, request_id: str | None = None) -> Outcome:
        worker = self._acquire(wait_s)
        try:
            return worker.invoke(event, self.timeout_s, request_id or str(uuid.uuid4()))
        finally:
            with self._cond:
                worker.busy = False
                self._cond.notify_all()

    def kill(self, name: str) -> Worker | None:
        """SIGKILL to this pool's worker ``name``; that worker, or None when the pool has no such worker."""
        with self._cond:
            worker = next((w for w in self.workers if w.name == name), None)
        if worker is not None:
            worker.kill()
        return worker

    def describe(self) -> list[dict[str, Any]]:
        with self._cond:
            return [w.describe() for w in self.workers]

    def stop(self) -> None:
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
            workers = [*self.workers, *self._pending]
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        threads = [threading.Thread(target=w.stop, daemon=True) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)


if __name__ == "__main__":
    sys.exit(child_main(sys.argv[1]))
