"""A tool that needs a person's approval before it runs.

The run parks in ``awaiting_tool_results`` without holding a worker; approve or deny it:

    POST /v1/entities/ops/{id}/tool-calls/{call_id}/approve   (or /deny)

and the run continues. The console shows Approve / Deny buttons on the tool-call card.
"""

from __future__ import annotations

from wakeful import Context, Registry, ToolContext, Wake, tool


@tool(kind="approval")
def delete_file(path: str, context: ToolContext) -> str:
    """Delete a file (needs approval). This example only records the deletion."""
    context.ctx.set_tag("deleted", path)
    return f"deleted {path} (idempotency key {context.idempotency_key})"


async def ops(ctx: Context, wake: Wake) -> None:
    """An operations assistant whose destructive tool needs approval."""
    ctx.use_agent(system="You help with file operations.", tools=[delete_file])
    await ctx.agent.run()


def register(registry: Registry) -> None:
    registry.define("ops", ops)


registry = Registry()
register(registry)
