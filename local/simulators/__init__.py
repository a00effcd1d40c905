"""Downstream simulators: one small HTTP server per dependency (and a Bedrock Converse endpoint), with faults."""

import importlib.util
import sys
from pathlib import Path

# `python -m local.simulators` from the repo root has no layer on its path (pytest adds it from pyproject).
if importlib.util.find_spec("mangaassist") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "mangaassist"))

from local.simulators.fleet import SimulatorFleet, endpoint_env

__all__ = ["SimulatorFleet", "endpoint_env"]
