"""The pydantic-ai agent of the pydantic-ai chaos test, imported by its worker processes.

``wakeful worker integrations.pydantic_ai_chaos_types:registry`` (with ``tests/`` on
``PYTHONPATH``) runs it. Its model is pydantic-ai's OpenAI model (the real ``openai`` SDK)
pointed at the test's fake server (``$WAKEFUL_FAKE_OPENAI_URL``), which answers with the
test's script; its two tools write to the files of :mod:`agent.agent_chaos_types`, keyed by
the call's idempotency key and attempt, so the test sees how often each call really ran.
"""

from __future__ import annotations

import os
from functools import cache

from agent.agent_chaos_types import append, apply_once, pause
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.integrations.pydantic_ai import WakefulAgent, current_call

TYPE = "pydantic_chaos"
LEASE_SECONDS = 1.0


async def side_effect(name: str) -> str:
    call = current_call()
    append("executions.log", f"{name} {call.idempotency_key} {call.attempt}")
    await pause()
    append("reached.log", call.idempotency_key)
    apply_once(call.idempotency_key)
    return f"{name} done"


@cache
def durable() -> WakefulAgent[None, str]:
    provider = OpenAIProvider(base_url=os.environ["WAKEFUL_FAKE_OPENAI_URL"], api_key="test")
    agent = Agent(OpenAIChatModel("gpt-test", provider=provider))

    @agent.tool_plain
    async def effect(n: int) -> str:
        """A side effect made once, by its key."""
        return await side_effect("effect")

    @agent.tool_plain
    async def note(n: int) -> str:
        """Another one, run beside it."""
        return await side_effect("note")

    return WakefulAgent(agent, delta_interval=0.01)


async def handle(ctx: Context, wake: Wake) -> None:
    await durable().run(ctx)


registry = Registry()
registry.define(TYPE, handle, lease_seconds=LEASE_SECONDS)
