"""The integrations run in the same in-process server as the agent loop's tests."""

from agent.conftest import agent_app

__all__ = ["agent_app"]
