"""Downstream services (HTTP) and the LLM: typed results and the ports the orchestrator talks to."""
