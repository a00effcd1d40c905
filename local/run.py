"""`make run`: the embedded local stack on 127.0.0.1, in the foreground until Ctrl-C or SIGTERM.

Starts moto in server mode with the state table created from template.yaml, then shows the fleet-wide
breaker working against it: a local dependency fails, the circuit opens, heals, and one probe closes it.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from dataclasses import replace

from local.fleet_lab import CountingDependency
from local.moto_process import MotoServer
from local.template_resources import dynamodb_create_table_args, dynamodb_ttl_attribute

TABLE = os.getenv("STATE_TABLE", "mangaassist-state")


def create_state_table(moto: MotoServer) -> None:
    import boto3

    ddb = boto3.client("dynamodb", endpoint_url=moto.url, region_name="ap-northeast-1")
    ddb.create_table(**dynamodb_create_table_args("StateTable", TABLE))
    ttl = dynamodb_ttl_attribute("StateTable")
    if ttl:
        ddb.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl})


def demonstrate_breaker(moto: MotoServer) -> None:
    import boto3
    import requests

    from mangaassist.breaker import CircuitBreakers, ServiceUnavailableError
    from mangaassist.breaker.dynamo_store import DynamoCircuitStore
    from mangaassist.breaker.telemetry import RecordingTelemetry
    from mangaassist.registry import REGISTRY

    spec = REGISTRY["order_service"]
    # A short open period so the demo reaches the probe within seconds; thresholds stay the registry's.
    demo = {spec.name: replace(spec, breaker=replace(spec.breaker, open_seconds=2))}
    client = boto3.client("dynamodb", endpoint_url=moto.url, region_name="ap-northeast-1")
    # Metrics are recorded rather than printed as EMF so the demo output stays readable.
    breakers = CircuitBreakers(DynamoCircuitStore(TABLE, client), registry=demo, telemetry=RecordingTelemetry())
    dependency = CountingDependency().start()

    def call() -> str:
        try:
            return breakers.call(spec.name, lambda: requests.get(dependency.url, timeout=1).raise_for_status()) or "ok"
        except ServiceUnavailableError as err:
            return f"fallback ({err.kind})"

    try:
        print(f"\n[breaker demo] order_service opens after {spec.breaker.failure_threshold} failures")
        dependency.set_failing(True)
        for i in range(5):
            print(f"  call {i + 1}: {call():<24} circuit={breakers.record(spec.name).state}")
        print("[breaker demo] dependency heals; after the open period one probe closes the circuit")
        dependency.set_failing(False)
        time.sleep(2.1)
        for i in range(2):
            print(f"  call {i + 1}: {call():<24} circuit={breakers.record(spec.name).state}")
        print(f"[breaker demo] calls that reached the dependency: {dependency.calls_between(0)}\n")
    finally:
        dependency.stop()


def main() -> int:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    moto = MotoServer(port=int(os.getenv("MOTO_PORT", "0"))).start()
    try:
        os.environ.update(moto.env())
        create_state_table(moto)
        print(f"moto (AWS endpoint): {moto.url}   state table: {TABLE}")
        demonstrate_breaker(moto)
        print("Ready. Ctrl-C stops everything.", flush=True)
        stop.wait()
    finally:
        moto.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
