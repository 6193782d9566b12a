"""What the executor chaos test runs: ``ex_agent`` (served by ``wakeful serve``) asks for
one ``work`` call per message; ``tools`` (run by ``wakeful executor``) is that tool, which
writes a ledger line when it starts and one when it finishes, so the test sees every
attempt, including those a ``kill -9`` cut short."""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

from support.workers import append_line

from wakeful import Context, ExecutorCall, Registry, RetryPolicy, Wake, tool
from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.base import ModelRequest, ToolCall

registry = Registry()


@tool(executor="chaos", retry=RetryPolicy(attempts=20, backoff_seconds=0.05))
def work(n: int, call: ExecutorCall) -> str:
    """Do a piece of work."""
    ledger = Path(os.environ["WAKEFUL_EXECUTOR_LEDGER"])
    line = f"{call.key} {call.generation} {call.idempotency_key} {os.getpid()}"
    append_line(ledger, f"start {line}")
    time.sleep(0.3)
    append_line(ledger, f"done {line}")
    return f"worked {n}"


tools = [work]


def script(request: ModelRequest) -> Response:
    last = request.messages[-1]
    if last.role == "tool":
        return Response(text=f"done: {last.content}")
    return Response(tool_calls=[ToolCall("", "work", {"n": len(request.messages)})])


MODEL = TestModel(itertools.repeat(script))


@registry.entity("ex_agent", lease_seconds=2)
async def ex_agent(ctx: Context, wake: Wake) -> None:
    await ctx.use_agent(MODEL, system=None, tools=tools).run()
