"""docs/downstream-contracts.md restates the registry's timeouts and thresholds; this proves they still match."""

from __future__ import annotations

import re
from pathlib import Path

from local.simulators import endpoint_env
from mangaassist.registry import REGISTRY

DOC = Path(__file__).resolve().parents[2] / "docs" / "downstream-contracts.md"
ROW = re.compile(r"^\| (\w+) \| `(\w+)` \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$")


def _table() -> dict[str, tuple[str, int, int, int, int]]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            name, env, *numbers = match.groups()
            rows[name] = (env, *map(int, numbers))
    return rows


def test_the_contract_table_lists_every_registry_service_with_its_registry_values():
    expected = {
        spec.name: (
            endpoint_env(spec.name),
            spec.timeout_ms,
            spec.slow_call_ms,
            spec.breaker.failure_threshold,
            spec.breaker.open_seconds,
        )
        for spec in REGISTRY.values()
    }
    assert _table() == expected


def test_every_service_has_its_own_section():
    headings = set(re.findall(r"^## (\w+)", DOC.read_text(encoding="utf-8"), flags=re.MULTILINE))
    assert set(REGISTRY) <= headings
