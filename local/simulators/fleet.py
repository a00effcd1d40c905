"""Every downstream simulator of MangaAssist in one process: start, stop, break and count them by service name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from local.simulators.bedrock_converse import BedrockConverseService
from local.simulators.sample_data import SampleStore
from local.simulators.server import SimService, SimulatorServer
from local.simulators.sigv4 import SigV4Verifier
from local.simulators.store_services import store_services
from mangaassist.registry import REGISTRY, SERVICE_NAMES

BEDROCK_ENDPOINT_ENV = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"


def endpoint_env(service: str) -> str:
    """The variable a client reads the simulator's base URL from (registry url_env, boto3's for Bedrock)."""
    spec = REGISTRY[service]
    return BEDROCK_ENDPOINT_ENV if spec.kind == "bedrock" else spec.url_env


class SimulatorFleet:
    """One SimulatorServer per registry service, each on its own 127.0.0.1 port."""

    def __init__(self, services: Iterable[str] = SERVICE_NAMES, *, ports: dict[str, int] | None = None):
        self.store = SampleStore.load()
        available: dict[str, SimService] = {svc.name: svc for svc in store_services(self.store)}
        available["llm"] = BedrockConverseService()
        missing = set(SERVICE_NAMES) - set(available)
        if missing:  # the registry grew a service nobody simulates yet
            raise RuntimeError(f"no simulator for {', '.join(sorted(missing))}")
        ports = ports or {}
        # The store's services are IAM-authorised APIs: they refuse calls not signed with the stack's key. The
        # Bedrock simulator does not check (botocore signs those calls; their contract is Bedrock's own).
        verifier = SigV4Verifier.for_local_stack()
        self.servers: dict[str, SimulatorServer] = {
            name: SimulatorServer(
                available[name],
                port=ports.get(name, 0),
                verifier=verifier if REGISTRY[name].kind == "http" else None,
            )
            for name in services
        }

    def start(self) -> SimulatorFleet:
        for server in self.servers.values():
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> SimulatorFleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def server(self, service: str) -> SimulatorServer:
        try:
            return self.servers[service]
        except KeyError:
            raise KeyError(f"no simulator for {service!r}; running: {', '.join(self.servers)}") from None

    def urls(self) -> dict[str, str]:
        return {name: server.url for name, server in self.servers.items()}

    def env(self) -> dict[str, str]:
        """What a chat or pinger process needs to reach the simulators instead of the real services."""
        return {endpoint_env(name): server.url for name, server in self.servers.items()}

    # ------------------------------------------------------------------ faults and counters

    def set_fault(self, service: str, mode: str, **kwargs: Any) -> dict[str, Any]:
        """Same semantics as POST /_sim/fault: mode, latency_ms, rate, expires_in_s, seed."""
        return self.server(service).faults.configure(mode, **kwargs)

    def clear_faults(self) -> None:
        for server in self.servers.values():
            server.faults.clear()

    def stats(self) -> dict[str, dict[str, int]]:
        return {name: server.faults.stats() for name, server in self.servers.items()}

    def reset_stats(self) -> None:
        for server in self.servers.values():
            server.reset_stats()

    def requests(self, service: str) -> list[dict[str, Any]]:
        """The latest requests that reached ``service`` (method, path, query, json body)."""
        return self.server(service).requests()
