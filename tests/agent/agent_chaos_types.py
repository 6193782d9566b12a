"""The agent of the agent chaos test, imported by its worker processes.

``wakeful worker agent.agent_chaos_types:registry`` (with ``tests/`` on ``PYTHONPATH``) runs
it. Each inbox message starts a run of :data:`STEPS` steps; in each the model streams a
little text and calls two tools at once, then it answers. The model is deterministic and
reads where it is from the conversation, so a run resumed in another process asks for
the next step, and a step cut short is asked for again with the same call ids.

The tools write to files in ``$WAKEFUL_AGENT_CHAOS_DIR``:

* ``executions.log``: ``<tool> <idempotency key> <attempt>`` first thing in every
  execution, so the test sees how often each call really ran;
* ``reached.log``: ``<idempotency key>`` every time an execution reaches its side
  effect, whether or not the effect is then applied;
* ``effects.log``: the side effect itself, ``<idempotency key>``, applied only if that key
  is not there yet, as a tool is meant to use its key.

``effect`` is retried up to :data:`EFFECT_ATTEMPTS` times, so a call a kill cut short
runs again (with the same key); ``once`` has a single attempt, so a call a kill cut
short fails instead. Both sleep a little at random, so that kills land inside them.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

from support.workers import append_line

from wakeful.agent.models import (
    Finish,
    Model,
    ModelEvent,
    ModelRequest,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
)
from wakeful.agent.tools import RetryPolicy, ToolContext, tool
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

STEPS = 8
EFFECT_ATTEMPTS = 5
# A killed worker's claims block its entities this long (the shortest lease allowed).
LEASE_SECONDS = 1.0
MAX_PAUSE = 0.02


def files() -> Path:
    return Path(os.environ["WAKEFUL_AGENT_CHAOS_DIR"])


def append(name: str, line: str) -> None:
    append_line(files() / name, line)


def apply_once(key: str) -> None:
    path = files() / "effects.log"
    done = path.read_text().split("\n") if path.exists() else []
    if key not in done:
        append("effects.log", key)


async def pause() -> None:
    await asyncio.sleep(random.uniform(0, MAX_PAUSE))


async def side_effect(name: str, t: ToolContext) -> None:
    append("executions.log", f"{name} {t.idempotency_key} {t.attempt}")
    await pause()
    append("reached.log", t.idempotency_key)
    apply_once(t.idempotency_key)
    await pause()


@tool(retry=RetryPolicy(attempts=EFFECT_ATTEMPTS, backoff_seconds=0.01))
async def effect(run: int, step: int, t: ToolContext) -> str:
    """Record the step (retried if interrupted)."""
    await side_effect("effect", t)
    return f"effect {run}.{step}"


@tool
async def once(run: int, step: int, t: ToolContext) -> str:
    """Record the step (never retried)."""
    await side_effect("once", t)
    return f"once {run}.{step}"


class StepModel(Model):
    """Calls both tools :data:`STEPS` times after each user turn, then answers."""

    name = "test:chaos-steps"
    label = "scripted model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        messages = request.messages
        users = [index for index, message in enumerate(messages) if message.role == "user"]
        run = len(users)
        step = sum(1 for message in messages[users[-1] + 1 :] if message.role == "assistant")
        words = [f"Run {run}, ", f"step {step}: ", "calling ", "the ", "tools."]
        if step >= STEPS:
            words = [f"Run {run} ", "is ", "done."]
        for word in words:
            await pause()
            yield TextDelta(word)
        if step < STEPS:
            arguments = {"run": run, "step": step}
            yield ToolCallReady(ToolCall(f"r{run}s{step}e", "effect", arguments))
            yield ToolCallReady(ToolCall(f"r{run}s{step}o", "once", arguments))
        yield Usage(input_tokens=len(messages), output_tokens=len(words))
        yield Finish("tool_calls" if step < STEPS else "stop")


MODEL = StepModel()
registry = Registry()


async def chaos_agent(ctx: Context, wake: Wake) -> None:
    """Runs the agent loop for each message."""
    ctx.use_agent(MODEL, tools=[effect, once], max_steps=STEPS + 4)
    await ctx.agent.run()


registry.define("chaos_agent", chaos_agent, lease_seconds=LEASE_SECONDS)
