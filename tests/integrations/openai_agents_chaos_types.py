"""The Agents SDK agent of the integrations' chaos test, imported by its worker processes.

As :mod:`integrations.pydantic_ai_chaos_types`, with an ``agents.Agent``: the SDK's Chat
Completions model (the real ``openai`` SDK) pointed at the test's fake server, and the same
two tools, which write to the files of :mod:`agent.agent_chaos_types` by key and attempt.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from agents import Agent, function_tool

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.integrations.openai_agents import WakefulRunner

from .openai_agents_support import chat_model
from .pydantic_ai_chaos_types import LEASE_SECONDS, TYPE, side_effect


@cache
def durable() -> WakefulRunner[Any]:
    @function_tool
    async def effect(n: int) -> str:
        """A side effect made once, by its key."""
        return await side_effect("effect")

    @function_tool
    async def note(n: int) -> str:
        """Another one, run beside it."""
        return await side_effect("note")

    model = chat_model(os.environ["WAKEFUL_FAKE_OPENAI_URL"])
    agent = Agent(name="planner", model=model, tools=[effect, note])
    return WakefulRunner(agent, max_turns=100, delta_interval=0.01)


async def handle(ctx: Context, wake: Wake) -> None:
    await durable().run(ctx)


registry = Registry()
registry.define(TYPE, handle, lease_seconds=LEASE_SECONDS)
