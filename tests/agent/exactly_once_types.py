"""The entities of the exactly-once chaos test, imported by its worker processes.

``wakeful worker agent.exactly_once_types:registry`` (with ``tests/`` on ``PYTHONPATH``)
runs them. For each inbox message an ``eo_agent`` makes one of each handler write (a
state row, a message to the sink, a child with a fixed id, a timer, a tag), runs the
agent (a tool call, then an answer), records the answer in its state, and then raises
now and then, so that the pass is retried as well as cut short by the kills.

The tool writes to ``$WAKEFUL_EXACTLY_ONCE_DIR/executions.log`` (``<key> <attempt>``)
first thing, applies its side effect to ``effects.log`` once per idempotency key, and
writes a row through its context, which must land with its result.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import AsyncIterator
from pathlib import Path

from pydantic import BaseModel
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

LEASE_SECONDS = 1.0  # the shortest a type allows: a killed worker's claims end soon
RAISE_CHANCE = 0.3
TOOL_ATTEMPTS = 5
SINK = "/eo_sink/s"


class Row(BaseModel):
    id: str
    value: str = ""


def directory() -> Path:
    return Path(os.environ["WAKEFUL_EXACTLY_ONCE_DIR"])


def append(name: str, line: str) -> None:
    append_line(directory() / name, line)


async def pause() -> None:
    await asyncio.sleep(random.uniform(0, 0.02))


class MarkThenAnswer(Model):
    """Calls ``mark`` once after each user turn, then answers."""

    name = "test:mark-then-answer"
    label = "scripted model"

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        messages = request.messages
        last_user = max(i for i, message in enumerate(messages) if message.role == "user")
        answered = any(message.role == "tool" for message in messages[last_user + 1 :])
        for word in ("Working ", "on ", "it."):
            await pause()
            yield TextDelta(word)
        if not answered:
            yield ToolCallReady(ToolCall("", "mark", {"note": f"turn {last_user}"}))
        yield Usage(input_tokens=len(messages), output_tokens=3)
        yield Finish("stop" if answered else "tool_calls")


@tool(retry=RetryPolicy(attempts=TOOL_ATTEMPTS, backoff_seconds=0.01))
async def mark(note: str, t: ToolContext) -> str:
    """Mark the task done."""
    append("executions.log", f"{t.idempotency_key} {t.attempt}")
    await pause()
    path = directory() / "effects.log"
    if t.idempotency_key not in (path.read_text().split("\n") if path.exists() else []):
        append("effects.log", t.idempotency_key)
    t.ctx.state.marks.insert(Row(id=t.call_id, value=note))
    await pause()
    return f"marked {note}"


MODEL = MarkThenAnswer()
registry = Registry()


async def eo_agent(ctx: Context, wake: Wake) -> None:
    for timer in wake.timers:
        ctx.state.fired.insert(Row(id=timer.name))
    if not wake.messages:
        return
    for message in wake.messages:
        ctx.state.handled.insert(Row(id=message.id))
        ctx.send(SINK, {"agent": ctx.url, "message": message.id})
        ctx.spawn("eo_child", f"{ctx.id}-{message.id}")
        ctx.timer(message.id, 0.01)
        ctx.set_tag("last", message.id)
    result = await ctx.use_agent(MODEL, tools=[mark]).run()
    for message in wake.messages:
        ctx.state.answered.insert(Row(id=message.id, value=result.run_id or ""))
    if random.random() < RAISE_CHANCE:
        raise RuntimeError("the handler fails after its run")


async def eo_sink(ctx: Context, wake: Wake) -> None:
    return


async def eo_child(ctx: Context, wake: Wake) -> None:
    return


registry.define(
    "eo_agent",
    eo_agent,
    state={"handled": Row, "answered": Row, "fired": Row, "marks": Row},
    lease_seconds=LEASE_SECONDS,
    max_attempts=8,
    retry_seconds=0.01,
)
registry.define("eo_sink", eo_sink, lease_seconds=LEASE_SECONDS)
registry.define("eo_child", eo_child, lease_seconds=LEASE_SECONDS)
