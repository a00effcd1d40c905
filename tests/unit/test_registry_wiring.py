"""The registry is read-only; the game days' shorter open periods reach each function through its wiring."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from pathlib import Path

import pytest

from local.workers import prepare_environment, with_waiting_periods_scaled
from mangaassist.health.pinger import BANNER_AFTER_S
from mangaassist.registry import REGISTRY, SERVICES

ROOT = Path(__file__).resolve().parents[2]


def function_module(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_wiring_under_test", ROOT / "functions" / name / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def state_table_env(monkeypatch):
    # Building the wiring makes boto3 clients (no request is sent); they only need a table name.
    monkeypatch.setenv("STATE_TABLE", "state-wiring")


def test_no_one_can_change_the_registry_in_place():
    with pytest.raises(TypeError):
        REGISTRY["llm"] = replace(REGISTRY["llm"], timeout_ms=1)  # type: ignore[index]
    with pytest.raises(TypeError):
        del REGISTRY["llm"]  # type: ignore[attr-defined]


def test_the_scaled_copy_only_shortens_waiting_and_leaves_the_registry_alone():
    scaled = with_waiting_periods_scaled(REGISTRY, 10)

    assert list(scaled) == list(REGISTRY)
    for name, spec in REGISTRY.items():
        assert scaled[name].breaker.open_seconds == spec.breaker.open_seconds / 10
        assert scaled[name].breaker.max_open_seconds == spec.breaker.max_open_seconds / 10
        unchanged = replace(scaled[name].breaker, open_seconds=spec.breaker.open_seconds)
        assert replace(unchanged, max_open_seconds=spec.breaker.max_open_seconds) == spec.breaker
        assert replace(scaled[name], breaker=spec.breaker) == spec
    assert dict(REGISTRY) == {spec.name: spec for spec in SERVICES}
    with pytest.raises(TypeError):
        scaled["llm"] = REGISTRY["llm"]  # type: ignore[index]


def test_a_game_day_health_ping_is_wired_with_the_scaled_registry_and_banner_wait(state_table_env):
    module = function_module("health_ping")
    prepare_environment("HealthPingFunction", module, 10)

    pinger = module.pinger()
    assert pinger is module.pinger(), "one pinger for the environment's life"
    for wired in (pinger.registry, pinger.breakers.registry, pinger.store.registry):
        assert wired["llm"].breaker.open_seconds == REGISTRY["llm"].breaker.open_seconds / 10
    assert pinger.banner_after_s == BANNER_AFTER_S / 10
    assert dict(REGISTRY) == {spec.name: spec for spec in SERVICES}


def test_a_game_day_chat_is_wired_with_the_scaled_registry(state_table_env):
    module = function_module("chat")
    prepare_environment("ChatFunction", module, 10)

    order_open_s = REGISTRY["order_service"].breaker.open_seconds / 10
    assert module.runtime.breakers.registry["order_service"].breaker.open_seconds == order_open_s
    assert module.runtime.health_store.registry["order_service"].breaker.open_seconds == order_open_s
    assert dict(REGISTRY) == {spec.name: spec for spec in SERVICES}


def test_without_a_time_scale_every_function_keeps_the_registry(state_table_env):
    chat, ping = function_module("chat"), function_module("health_ping")
    prepare_environment("ChatFunction", chat, 1)
    prepare_environment("HealthPingFunction", ping, 1)

    assert chat.runtime.breakers.registry is REGISTRY
    assert ping.pinger().breakers.registry is REGISTRY
    assert ping.pinger().banner_after_s == BANNER_AFTER_S
