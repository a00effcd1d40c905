"""Downstream simulators: one small HTTP server per dependency (and a Bedrock Converse endpoint), with faults."""

from local.simulators.fleet import SimulatorFleet, endpoint_env

__all__ = ["SimulatorFleet", "endpoint_env"]
