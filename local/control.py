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

import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from local.alarms import STATES, AlarmNotFoundError, UnsupportedExpressionError
from local.faults import FaultSpecError, fault_request
from mangaassist.health import BannerInputError, HealthStoreError, operator_banner
from mangaassist.registry import service

if TYPE_CHECKING:
    from local.run import LocalStack

RUNBOOKS = Path(__file__).resolve().parent.parent / "docs" / "runbooks"
BANNER_FIELDS = {"message_en", "message_ja", "reason", "expires_in_s", "expires_at", "posted_by"}
PLATFORM_TARGETS = ("state_store", "faq_store")


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"code": code, "message": message}}


def _described(banner: Any | None) -> dict[str, str] | None:
    return None if banner is None else banner.as_dict()


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(body or b"{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


class ControlApi:
    def __init__(self, stack: LocalStack):
        self.stack = stack

    def canonical_target(self, target: Any) -> str | None:
        if not isinstance(target, str):
            return None
        if target in PLATFORM_TARGETS:
            return target
        try:
            return service(target).name
        except KeyError:
            return None

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> tuple[int, Any]:
        parts = [p for p in path.split("/") if p][1:]  # drop "_local"
        head = parts[0] if parts else ""
        rest = parts[1:]
        handler = getattr(self, f"_{head}", None) if re.fullmatch(r"[a-z]+", head or "x") else None
        if not parts:
            return 200, {"routes": (__doc__ or "").split("\n\n", 1)[1].strip().splitlines()}
        if handler is None:
            return _error(404, "not_found", f"no control route {path}")
        return handler(method, rest, query, body)

    # ------------------------------------------------------------------ faults and stats

    def _faults(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        targets = self.stack.fault_targets()
        if rest:
            return _error(404, "not_found", "use /_local/faults")
        if method == "GET":
            return 200, {name: target.faults.describe() for name, target in targets.items()}
        if method == "DELETE":
            for target in targets.values():
                target.faults.clear()
            return 200, {name: target.faults.describe() for name, target in targets.items()}
        if method != "POST":
            return _error(405, "method_not_allowed", "GET, POST or DELETE")
        try:
            spec = fault_request(body, also=("target",))
            name = self.canonical_target(spec.pop("target", None))
            if name is None:
                return _error(404, "unknown_target", f"target must be one of {', '.join(targets)}")
            fault = targets[name].faults.configure(**spec)
        except FaultSpecError as err:
            return _error(400, "bad_fault", str(err))
        return 200, {"target": name, "fault": fault}

    def _stats(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        targets = self.stack.fault_targets()
        if method == "DELETE":
            for target in targets.values():
                target.faults.reset_stats()
        elif method != "GET":
            return _error(405, "method_not_allowed", "GET or DELETE")
        return 200, {name: target.faults.stats() for name, target in targets.items()}

    # ------------------------------------------------------------------ alarm path

    def _notifications(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        receivers = self.stack.receivers
        if method == "DELETE":
            for receiver in receivers.values():
                receiver.clear()
        elif method != "GET":
            return _error(405, "method_not_allowed", "GET or DELETE")
        timed = query.get("timed") in ("1", "true")
        out: dict[str, list[Any]] = {}
        for name, receiver in receivers.items():
            out[name] = []
            for request in receiver.requests:
                try:
                    body = request.json()
                except ValueError:
                    body = request.body.decode("utf-8", "replace")
                out[name].append({"at": request.at, "body": body} if timed else body)
        return 200, out

    def _ping(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method != "POST":
            return _error(405, "method_not_allowed", "POST")
        outcome = self.stack.ping("manual")
        if outcome.kind != "ok":
            return _error(502, "ping_failed", f"the health-ping handler failed: {outcome.kind} {outcome.error}")
        return 200, outcome.result

    def _alarms(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if not rest:
            if method != "GET":
                return _error(405, "method_not_allowed", "GET /_local/alarms or POST /_local/alarms/<AlarmName>")
            return 200, self.stack.alarms.evaluate(query.get("name"))
        if method != "POST" or len(rest) != 1:
            return _error(405, "method_not_allowed", "POST /_local/alarms/<AlarmName>")
        spec = _json_object(body)
        if spec is None or spec.get("state") not in STATES:
            return _error(400, "bad_state", f'body is {{"state": one of {", ".join(STATES)}, "reason"?: str}}')
        reason = spec.get("reason")
        if reason is not None and not isinstance(reason, str):
            return _error(400, "bad_state", "reason must be a string")
        try:
            return 200, self.stack.alarms.publish(rest[0], spec["state"], reason)
        except AlarmNotFoundError:
            return _error(404, "unknown_alarm", f"template.yaml declares no alarm named {rest[0]}")
        except UnsupportedExpressionError as err:
            return _error(400, "not_evaluable", str(err))

    def _metrics(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "DELETE":
            self.stack.sink.clear()
            return 200, {}
        if method != "GET":
            return _error(405, "method_not_allowed", "GET or DELETE")
        try:
            since = float(query.get("since") or 0)
            until = float(query["until"]) if query.get("until") else None
        except ValueError:
            return _error(400, "bad_parameter", "since and until are epoch seconds")
        names = [n for n in (query.get("names") or "").split(",") if n]
        if query.get("raw") in ("1", "true"):
            end = until if until is not None else float("inf")
            return 200, [
                {"at": p.at, "name": p.name, "dimensions": dict(p.dimensions), "value": p.value}
                for p in self.stack.sink.points()
                if since <= p.at < end and (not names or p.name in names)
            ]
        return 200, self.stack.sink.summary(since, until, names)

    # ------------------------------------------------------------------ environments and circuits

    def _workers(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "GET" and not rest:
            return 200, {
                "workers": [w for pool in self.stack.pools.values() for w in pool.describe()],
                "replaced": {name: pool.replaced for name, pool in self.stack.pools.items()},
            }
        if method == "DELETE" and len(rest) == 1:
            for pool in self.stack.pools.values():
                try:
                    killed = pool.kill(rest[0])
                except KeyError:
                    continue
                return 200, {"killed": killed.name, "pid": killed.pid}
            return _error(404, "unknown_worker", f"no worker {rest[0]}")
        return _error(405, "method_not_allowed", "GET /_local/workers or DELETE /_local/workers/<name>")

    def _circuits(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method == "GET":
            return 200, self.stack.circuits.circuits()
        if method == "DELETE":
            return 200, {"reset": self.stack.circuits.reset()}
        return _error(405, "method_not_allowed", "GET or DELETE")

    def _banner(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if rest:
            return _error(404, "not_found", "use /_local/banner")
        store = self.stack.circuits.health_store()
        now = time.time()
        try:
            if method == "GET":
                result: dict[str, Any] = {"operator_banner": _described(store.get_operator_banner())}
            elif method == "DELETE":
                result = {"cleared": _described(store.clear_operator_banner())}
            elif method == "POST":
                spec = _json_object(body)
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
                if "expires_in_s" in spec:
                    expires_at += now
                banner = operator_banner(
                    message_en=spec.get("message_en"),
                    message_ja=spec.get("message_ja"),
                    reason=spec.get("reason"),
                    expires_at=expires_at,
                    now=now,
                    posted_by=str(spec.get("posted_by") or "local"),
                )
                result = {"posted": banner.as_dict(), "replaced": _described(store.put_operator_banner(banner))}
            else:
                return _error(405, "method_not_allowed", "GET, POST or DELETE")
            result["customers_see"] = store.load_banners().customers_see(time.time())
        except BannerInputError as err:
            return _error(400, "bad_banner", f"nothing was written: {err}")
        except HealthStoreError as err:
            return _error(502, "state_table_unavailable", str(err))
        return 200, result

    def _runbooks(self, method: str, rest: list[str], query: dict[str, str], body: bytes) -> tuple[int, Any]:
        if method != "GET" or len(rest) != 1 or not re.fullmatch(r"[a-z0-9-]+\.md", rest[0]):
            return _error(404, "not_found", "GET /_local/runbooks/<name>.md")
        page = RUNBOOKS / rest[0]
        if not page.is_file():
            return _error(404, "not_found", f"no runbook {rest[0]}")
        return 200, page.read_text(encoding="utf-8")
