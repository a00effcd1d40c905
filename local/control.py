"""The local-only control API under /_local (never in template.yaml): break things, count, look inside.

    POST   /_local/faults               {"target", "mode", "latency_ms"?, "rate"?, "expires_in_s"?}
    GET    /_local/faults               active fault per target;  DELETE clears every fault
    GET    /_local/stats                {target: {"calls", "failures"}} counted where the calls arrive;  DELETE resets
    GET    /_local/notifications        {"slack": [...], "pagerduty": [...]} as the receivers got them (?timed=1:
                                        each as {"at": epoch seconds received, "body"});  DELETE clears
    POST   /_local/ping                 runs the health-ping handler once, now; answers its report
    GET    /_local/alarms               local evaluation of every alarm the stack evaluates
    POST   /_local/alarms/<AlarmName>   {"state": "ALARM|OK|INSUFFICIENT_DATA", "reason"?}: publish to the topic
    GET    /_local/metrics              EMF datapoints, summed (?since=&until=&names=) or each (&raw=1);  DELETE clears
    GET    /_local/workers              execution environments;  DELETE /_local/workers/<name> kills one (SIGKILL)
    GET    /_local/circuits             the circuits partition of the state table, read past any fault
    DELETE /_local/circuits             close every circuit, clear failure counts and overrides (a fresh fleet)
    POST   /_local/banner               {"message_en", "message_ja", "reason", "expires_in_s"|"expires_at", "posted_by"}
                                        posts the operator banner (scripts/banner.py's rules; 400 names each problem)
    GET    /_local/banner               the operator banner and what customers see;  DELETE takes it down
    GET    /_local/runbooks/<name>.md   docs/runbooks/, where the alarm relay's runbook links point locally

Targets: the registry's service names (aliases too), "state_store" and "faq_store".
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request

from local.alarms import STATES, AlarmNotFoundError, UnsupportedExpressionError
from local.faults import FaultSpecError, fault_request
from mangaassist.health import BannerInputError, HealthStoreError, operator_banner
from mangaassist.registry import service
from scripts.banner import apply as banner_command

if TYPE_CHECKING:
    from local.run import LocalStack

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
BANNER_FIELDS = {"message_en", "message_ja", "reason", "expires_in_s", "expires_at", "posted_by"}
GET, POST, DELETE = ["GET"], ["POST"], ["DELETE"]
# Each endpoint is the ControlApi method that answers it; a method a rule does not list gets 405.
ROUTES = Map(
    [
        Rule("/_local", endpoint="index", methods=GET),
        Rule("/_local/faults", endpoint="faults", methods=GET + POST + DELETE),
        Rule("/_local/stats", endpoint="stats", methods=GET + DELETE),
        Rule("/_local/notifications", endpoint="notifications", methods=GET + DELETE),
        Rule("/_local/ping", endpoint="ping", methods=POST),
        Rule("/_local/alarms", endpoint="alarms", methods=GET),
        Rule("/_local/alarms/<name>", endpoint="publish_alarm", methods=POST),
        Rule("/_local/metrics", endpoint="metrics", methods=GET + DELETE),
        Rule("/_local/workers", endpoint="workers", methods=GET),
        Rule("/_local/workers/<name>", endpoint="kill_worker", methods=DELETE),
        Rule("/_local/circuits", endpoint="circuits", methods=GET + DELETE),
        Rule("/_local/banner", endpoint="banner", methods=GET + POST + DELETE),
        Rule("/_local/runbooks/<name>", endpoint="runbook", methods=GET),
    ]
)


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


def _json_object(request: Request) -> dict[str, Any] | None:
    try:
        value = json.loads(request.get_data() or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ControlApi:
    def __init__(self, stack: LocalStack):
        self.stack = stack

    def handle(self, request: Request) -> tuple[int, Any]:
        try:
            endpoint, args = ROUTES.bind("local").match(request.path.rstrip("/") or "/", request.method)
        except NotFound:
            return _error(404, "not_found", f"no control route {request.path}")
        except MethodNotAllowed as err:
            return _error(
                405, "method_not_allowed", f"use {', '.join(sorted(set(err.valid_methods or ()) - {'HEAD'}))}"
            )
        return getattr(self, f"_{endpoint}")(request, **args)

    def _index(self, request: Request) -> tuple[int, Any]:
        return 200, {"routes": (__doc__ or "").split("\n\n", 1)[1].strip().splitlines()}

    # ------------------------------------------------------------------ faults and stats

    def _faults(self, request: Request) -> tuple[int, Any]:
        targets = self.stack.fault_targets()
        if request.method == "POST":
            try:
                spec = fault_request(request.get_data(), also=("target",))
                name = spec.pop("target", None)
                with contextlib.suppress(KeyError):  # a registry alias names its service's simulator
                    name = service(name).name if isinstance(name, str) else None
                if name not in targets:
                    return _error(404, "unknown_target", f"target must be one of {', '.join(targets)}")
                return 200, {"target": name, "fault": targets[name].faults.configure(**spec)}
            except FaultSpecError as err:
                return _error(400, "bad_fault", str(err))
        if request.method == "DELETE":
            for target in targets.values():
                target.faults.clear()
        return 200, {name: target.faults.describe() for name, target in targets.items()}

    def _stats(self, request: Request) -> tuple[int, Any]:
        targets = self.stack.fault_targets()
        if request.method == "DELETE":
            for target in targets.values():
                target.faults.reset_stats()
        return 200, {name: target.faults.stats() for name, target in targets.items()}

    # ------------------------------------------------------------------ alarm path

    def _notifications(self, request: Request) -> tuple[int, Any]:
        receivers = self.stack.receivers
        if request.method == "DELETE":
            for receiver in receivers.values():
                receiver.clear()
        timed = request.args.get("timed") in ("1", "true")
        out: dict[str, list[Any]] = {}
        for name, receiver in receivers.items():
            out[name] = []
            for received in receiver.requests:
                try:
                    body = received.json()
                except ValueError:
                    body = received.body.decode("utf-8", "replace")
                out[name].append({"at": received.at, "body": body} if timed else body)
        return 200, out

    def _ping(self, request: Request) -> tuple[int, Any]:
        outcome = self.stack.ping("manual")
        if outcome.kind != "ok":
            return _error(502, "ping_failed", f"the health-ping handler failed: {outcome.kind} {outcome.error}")
        return 200, outcome.result

    def _alarms(self, request: Request) -> tuple[int, Any]:
        return 200, self.stack.alarms.evaluate(request.args.get("name"))

    def _publish_alarm(self, request: Request, name: str) -> tuple[int, Any]:
        spec = _json_object(request)
        if spec is None or spec.get("state") not in STATES:
            return _error(400, "bad_state", f'body is {{"state": one of {", ".join(STATES)}, "reason"?: str}}')
        reason = spec.get("reason")
        if reason is not None and not isinstance(reason, str):
            return _error(400, "bad_state", "reason must be a string")
        try:
            return 200, self.stack.alarms.publish(name, spec["state"], reason)
        except AlarmNotFoundError:
            return _error(404, "unknown_alarm", f"template.yaml declares no alarm named {name}")
        except UnsupportedExpressionError as err:
            return _error(400, "not_evaluable", str(err))

    def _metrics(self, request: Request) -> tuple[int, Any]:
        if request.method == "DELETE":
            self.stack.sink.clear()
            return 200, {}
        query = request.args
        try:
            since = float(query.get("since") or 0)
            until = float(query["until"]) if query.get("until") else None
        except ValueError:
            return _error(400, "bad_parameter", "since and until are epoch seconds")
        names = [n for n in (query.get("names") or "").split(",") if n]
        if query.get("raw") in ("1", "true"):
            return 200, [
                {"at": p.at, "name": p.name, "dimensions": dict(p.dimensions), "value": p.value}
                for p in self.stack.sink.points(since, until, names)
            ]
        return 200, self.stack.sink.summary(since, until, names)

    # ------------------------------------------------------------------ environments and circuits

    def _workers(self, request: Request) -> tuple[int, Any]:
        return 200, {
            "workers": [w for pool in self.stack.pools.values() for w in pool.describe()],
            "replaced": {name: pool.replaced for name, pool in self.stack.pools.items()},
        }

    def _kill_worker(self, request: Request, name: str) -> tuple[int, Any]:
        for pool in self.stack.pools.values():
            killed = pool.kill(name)
            if killed is not None:
                return 200, {"killed": killed.name, "pid": killed.process.pid}
        return _error(404, "unknown_worker", f"no worker {name}")

    def _circuits(self, request: Request) -> tuple[int, Any]:
        if request.method == "DELETE":
            return 200, {"reset": self.stack.circuits.reset()}
        return 200, self.stack.circuits.circuits()

    def _banner(self, request: Request) -> tuple[int, Any]:
        now, banner = time.time(), None
        try:
            if request.method == "POST":
                spec = _json_object(request)
                if spec is None:
                    return _error(400, "bad_banner", "body must be a JSON object")
                unknown = sorted(set(spec) - BANNER_FIELDS)
                if unknown or ("expires_in_s" in spec) == ("expires_at" in spec):
                    return _error(
                        400, "bad_banner", f"give expires_in_s or expires_at (epoch s), not both; unknown: {unknown}"
                    )
                expires_at = spec.get("expires_at", spec.get("expires_in_s"))
                if not isinstance(expires_at, int | float) or isinstance(expires_at, bool):
                    return _error(400, "bad_banner", "expires_in_s and expires_at are numbers of seconds")
                banner = operator_banner(
                    message_en=spec.get("message_en"),
                    message_ja=spec.get("message_ja"),
                    reason=spec.get("reason"),
                    expires_at=expires_at + now if "expires_in_s" in spec else expires_at,
                    now=now,
                    posted_by=str(spec.get("posted_by") or "local"),
                )
            command = {"POST": "post", "DELETE": "clear"}.get(request.method, "show")
            return 200, banner_command(command, self.stack.circuits.health_store(), time.time, banner)
        except BannerInputError as err:
            return _error(400, "bad_banner", f"nothing was written: {err}")
        except HealthStoreError as err:
            return _error(502, "state_table_unavailable", str(err))

    def _runbook(self, request: Request, name: str) -> tuple[int, Any]:
        page = RUNBOOKS / name
        if not re.fullmatch(r"[a-z0-9-]+\.md", name) or not page.is_file():
            return _error(404, "not_found", f"no runbook {name}")
        return 200, page.read_text(encoding="utf-8")
