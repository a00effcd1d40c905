"""Eight OS processes, one moto server, one failing dependency: the fleet behaves as one breaker."""

from __future__ import annotations

import itertools

import pytest

from bench.fleet_lab import SERVICE, CountingDependency, Plan, run_fleet
from mangaassist.breaker.dynamo_store import DynamoCircuitStore
from tests.conftest import create_state_table, dynamodb_client

pytestmark = [pytest.mark.integration, pytest.mark.slow]

WORKERS = 8


@pytest.fixture
def failing_dependency():
    dependency = CountingDependency().start()
    dependency.set_failing(True)
    yield dependency
    dependency.stop()


def test_circuit_opens_once_and_fleet_stops_calling(moto_server, failing_dependency):
    table = create_state_table(moto_server.url)
    plan = Plan(
        implementation="fleet",
        moto_url=moto_server.url,
        table=table,
        dependency_url=failing_dependency.url,
        threshold=3,
        interval_s=0.1,
        duration_s=2.0,
    )
    reports, _ = run_fleet(plan, WORKERS)
    opens = [t for r in reports for t in r.transitions if t[1] == "OPEN"]
    assert len(opens) == 1, opens
    reached = failing_dependency.calls_between(0)
    # Each environment may pay one failed call to learn what its snapshot has not yet seen.
    assert reached <= plan.threshold + WORKERS - 1, reached
    assert sum(r.short_circuited for r in reports) > 0


def test_burst_reaches_the_dependency_at_most_once_per_call_in_flight(moto_server, failing_dependency):
    table = create_state_table(moto_server.url)
    plan = Plan(
        implementation="fleet",
        moto_url=moto_server.url,
        table=table,
        dependency_url=failing_dependency.url,
        threshold=3,
        interval_s=0.3,
        stagger=False,
        duration_s=1.5,
    )
    run_fleet(plan, WORKERS)
    assert failing_dependency.calls_between(0) <= max(plan.threshold, WORKERS)


def test_no_failure_count_is_lost_across_processes(moto_server, failing_dependency):
    table = create_state_table(moto_server.url)
    # A threshold nobody reaches: every failure must land in the shared count.
    plan = Plan(
        implementation="fleet",
        moto_url=moto_server.url,
        table=table,
        dependency_url=failing_dependency.url,
        counted_threshold=10_000,
        interval_s=0.05,
        stagger=False,
        duration_s=1.0,
    )
    reports, _ = run_fleet(plan, WORKERS)
    failed = sum(r.failed for r in reports)
    stored = DynamoCircuitStore(table, dynamodb_client(moto_server.url)).load_all()[SERVICE]
    assert failed == failing_dependency.calls_between(0)
    assert sum(stored.failure_buckets.values()) == failed
    assert failed >= WORKERS * 5


def test_exactly_one_probe_per_half_open_period_then_one_close(moto_server, failing_dependency):
    table = create_state_table(moto_server.url)
    plan = Plan(
        implementation="fleet",
        moto_url=moto_server.url,
        table=table,
        dependency_url=failing_dependency.url,
        threshold=3,
        open_seconds=1.0,
        max_open_seconds=1.0,
        interval_s=0.05,
        duration_s=6.5,
    )
    reports, start = run_fleet(plan, WORKERS, heal_after_s=3.5, dependency=failing_dependency)
    transitions = sorted((t for r in reports for t in r.transitions), key=lambda t: t[2])
    heal_at = start + 3.5
    leases = [t for t in transitions if t[1] == "HALF_OPEN"]
    # From the second lease on, only probes can reach the dependency: environments that had not yet
    # seen the circuit open paid their one learning call within the first cache TTL, long before.
    leases_while_failing = [t for t in leases[1:] if t[2] < heal_at]
    probes_while_failing = failing_dependency.calls_between(leases[1][2] - 0.01, heal_at, failed=True)
    # Every half-open period admitted exactly one call, and periods are at least the open time apart.
    assert probes_while_failing == len(leases_while_failing) >= 1
    gaps = [b[2] - a[2] for a, b in itertools.pairwise(leases_while_failing)]
    assert all(gap >= plan.open_seconds - 0.05 for gap in gaps), gaps
    closes = [t for t in transitions if t[1] == "CLOSED"]
    assert len(closes) == 1
    assert closes[0][2] - heal_at < plan.open_seconds + 1.5
    assert all(r.ok > 0 for r in reports)
