"""A tool that runs somewhere else: an executor, not the handler, reads the page.

``page_title`` names the executor ``browser``. When the model calls it, the call waits on
that executor's queue and the run parks without holding a worker. Run an executor beside
the server (it may be on another machine, and there may be several):

    wakeful executor examples.executor:tools --server http://127.0.0.1:8787

Any other program can be the executor over HTTP: ``GET /v1/executors/browser/calls``,
then claim, heartbeat and complete (see docs/coordination.md).
"""

from __future__ import annotations

from wakeful import Context, ExecutorCall, Registry, Wake, tool


@tool(executor="browser")
def page_title(page: str, call: ExecutorCall) -> str:
    """Read the title of a page. This example makes one up from the address."""
    return f"Welcome to {page} (attempt {call.attempt})"


tools = [page_title]


async def scout(ctx: Context, wake: Wake) -> None:
    """An assistant whose page reading happens in an executor."""
    ctx.use_agent(system="You read web pages.", tools=tools)
    await ctx.agent.run()


def register(registry: Registry) -> None:
    registry.define("scout", scout)


registry = Registry()
register(registry)
