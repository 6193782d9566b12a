"""``wakeful executor module:tools``: run the calls of tools that name an executor, here,
for the agents of the server at ``--server``.

``module:tools`` names a list of tools (or one tool) made with ``@tool(executor=...)``;
the command serves every executor name they have, until SIGINT or SIGTERM. Any number of
these processes may serve one name: the server's database gives each call to one.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import signal
from typing import Annotated, Any

import typer

from ..agent.tools import Tool
from ..client import AsyncClient
from ..client.executor import Executor
from .common import connection
from .server import _importable_here


def load_tools(spec: str) -> list[Tool]:
    """The tools ``module:attribute`` names: a tool, or an iterable of tools."""
    module_name, _, attribute = spec.partition(":")
    if not module_name or not attribute:
        raise typer.BadParameter(f"{spec!r}: expected module:attribute")
    _importable_here()
    try:
        found: Any = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise typer.BadParameter(f"cannot load tools {spec!r}: {exc}") from exc
    tools = [found] if isinstance(found, Tool) else list(found)
    if not tools or not all(isinstance(item, Tool) for item in tools):
        raise typer.BadParameter(f"{spec!r} is not a tool or a list of tools")
    return tools


def executor(
    ctx: typer.Context,
    tools: Annotated[str, typer.Argument(help="Tools to run, as module:attribute.")],
    server: Annotated[
        str | None,
        typer.Option(help="The server's URL (default: the global --url).", show_default=False),
    ] = None,
    token: Annotated[
        str | None, typer.Option(help="Bearer token (default: the global --token).")
    ] = None,
    holder: Annotated[
        str | None, typer.Option(help="This executor's name in claims (default: host:pid).")
    ] = None,
    lease_seconds: Annotated[
        float, typer.Option(min=1.0, help="How long a claim holds without a heartbeat.")
    ] = 15.0,
    concurrency: Annotated[int, typer.Option(min=1, help="Calls run at once.")] = 4,
    log_level: Annotated[str, typer.Option(help="Log level.")] = "warning",
) -> None:
    """Run tool calls that agents hand to an executor, beside the server."""
    logging.basicConfig(level=log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    loaded = load_tools(tools)
    names = sorted({tool.executor for tool in loaded if tool.executor is not None})
    if not names:
        raise typer.BadParameter(f"none of the tools of {tools!r} names an executor")
    target = connection(ctx, server, token)
    typer.echo(f"wakeful: executor for {', '.join(names)} at {target.url}")
    asyncio.run(_run(loaded, target.url, target.token, holder, lease_seconds, concurrency))


async def _run(
    tools: list[Tool],
    url: str,
    token: str | None,
    holder: str | None,
    lease_seconds: float,
    concurrency: int,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with AsyncClient(url, token) as client:
        runner = Executor(
            tools, client, holder=holder, lease_seconds=lease_seconds, concurrency=concurrency
        )
        await runner.run(stop)
