"""A real MCP server, built with the official SDK, for the MCP tools tests.

``python mcp_server.py LEDGER`` serves over stdio; ``python mcp_server.py LEDGER PORT``
over streamable HTTP on 127.0.0.1. Every call is appended to LEDGER as a JSON line with
the tool's name, its arguments, the idempotency key the call carried in ``_meta`` and
the server's process id.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError

LEDGER = sys.argv[1] if len(sys.argv) > 1 else "/dev/null"
server = MCPServer("weather", log_level="WARNING")


def record(name: str, arguments: dict[str, Any], ctx: Context) -> None:
    meta = ctx.request_context.meta or {}
    with open(LEDGER, "a", encoding="utf-8") as ledger:
        key = meta.get("wakeful/idempotency_key")
        line = {"tool": name, "args": arguments, "key": key, "pid": os.getpid()}
        ledger.write(json.dumps(line) + "\n")


@server.tool()
def get_weather(city: str, ctx: Context) -> str:
    """The current weather in a city."""
    record("get_weather", {"city": city}, ctx)
    return f"sunny in {city}"


@server.tool()
def add(a: int, b: int, ctx: Context) -> int:
    """Add two integers."""
    record("add", {"a": a, "b": b}, ctx)
    return a + b


@server.tool()
def explode(ctx: Context) -> str:
    """Always fails."""
    record("explode", {}, ctx)
    raise ToolError("the detonator is wet")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
