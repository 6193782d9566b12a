"""Tools from MCP servers, run by the agent loop like any other tool.

::

    from wakeful import MCPTools

    weather = MCPTools.stdio("python", ["weather_server.py"])

    @registry.entity("assistant")
    async def assistant(ctx, wake):
        ctx.use_agent("openai:gpt-4o-mini", tools=await weather.tools())
        await ctx.agent.run()

An MCP tool call is recorded like any tool call (a ``tool_call`` row with its arguments,
attempts, result or error), retried as its :class:`RetryPolicy` allows, and held for
approval when configured. A call whose result was recorded never runs again; one cut
short by a crash runs again with the same idempotency key, which every request carries in
its ``_meta`` under ``wakeful/idempotency_key`` so that a server can make its own side
effects exactly once.

Why one connection per server, owned by a task of its own: the SDK's client is an async
context manager whose task groups must be left by the task that entered them, while
calls come from the tasks of many passes. The owner task enters it and waits; calls go
through the shared session; :meth:`MCPTools.aclose` (or the event loop ending) closes it.
A connection that breaks (the server's process died, the HTTP server went away) is
dropped and made again by the next call, so a tool's retries cover a server restart.

Needs the ``mcp`` extra: ``pip install 'wakeful[mcp]'``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from jsonschema import Draft202012Validator
from pydantic import BaseModel, ConfigDict

from .._extras import require
from .models.base import ToolSpec
from .tools import RetryPolicy, Tool, ToolArgumentsError, ToolContext, ToolKind

if TYPE_CHECKING:
    from mcp import Client, StdioServerParameters
    from mcp.types import CallToolResult
    from mcp_types import RequestParamsMeta

#: The ``_meta`` key under which each call's idempotency key travels.
IDEMPOTENCY_META_KEY = "wakeful/idempotency_key"
FEATURE = "tools from MCP servers"
#: JSON-RPC error code the SDK reports when the connection to a server is gone.
CONNECTION_CLOSED = -32000


class MCPToolError(Exception):
    """The MCP server ran the tool and answered with an error (``is_error``)."""


class MCPConnectionError(ConnectionError):
    """The MCP server could not be reached, or the connection to it broke."""


class _AnyArguments(BaseModel):
    # Unused for validation (the server's JSON schema is the contract): ``Tool`` wants a
    # model type, and this one describes "an object".
    model_config = ConfigDict(extra="allow")


def _mcp() -> Any:
    return require("mcp", extra="mcp", feature=FEATURE)


class MCPTools:
    """The tools of one MCP server: stdio (a command), streamable HTTP (a URL), or an
    in-process server object (``mcp.server.mcpserver.MCPServer``, handy in tests).

    ``prefix`` is put before every tool name (two servers with a tool of the same name);
    ``include`` keeps only the tools named; ``approval`` names the tools a person must
    approve before each call (``True``: all of them); ``retry`` and ``timeout`` apply to
    every call."""

    def __init__(
        self,
        server: StdioServerParameters | str | Any,
        *,
        prefix: str = "",
        include: Collection[str] | None = None,
        approval: Collection[str] | bool = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        connect_timeout: float = 30.0,
    ) -> None:
        _mcp()
        self.server = server
        self.prefix = prefix
        self.include = frozenset(include) if include is not None else None
        self.approval = approval
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self._client: Client | None = None
        self._owner: asyncio.Task[None] | None = None
        self._closing: asyncio.Event | None = None
        self._lock: asyncio.Lock | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tools: list[Tool] | None = None

    @classmethod
    def stdio(
        cls,
        command: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        **options: Any,
    ) -> MCPTools:
        """A server started as a child process, spoken to over its stdin and stdout."""
        parameters = _mcp().StdioServerParameters(
            command=command, args=list(args), env=dict(env) if env is not None else None, cwd=cwd
        )
        return cls(parameters, **options)

    @classmethod
    def http(cls, url: str, **options: Any) -> MCPTools:
        """A server at a streamable HTTP endpoint (``https://host/mcp``)."""
        return cls(url, **options)

    # --- tools -----------------------------------------------------------------------

    async def tools(self, *, refresh: bool = False) -> list[Tool]:
        """The server's tools as Wakeful tools (listed once, then kept; ``refresh`` lists
        them again)."""
        if self._tools is None or refresh:
            client = await self._connected()
            listed: list[Any] = []
            cursor: str | None = None
            while True:
                page = await self._guard(client.list_tools(cursor=cursor))
                listed.extend(page.tools)
                cursor = page.next_cursor
                if not cursor:
                    break
            self._tools = [
                self._tool(item)
                for item in listed
                if self.include is None or item.name in self.include
            ]
        return list(self._tools)

    def _tool(self, listed: Any) -> MCPTool:
        needs_approval = self.approval is True or (
            not isinstance(self.approval, bool) and listed.name in self.approval
        )
        kind: ToolKind = "approval" if needs_approval else "call"
        return MCPTool(
            name=f"{self.prefix}{listed.name}",
            description=listed.description or listed.title or listed.name,
            function=self.call,
            arguments=_AnyArguments,
            kind=kind,
            timeout=self.timeout,
            retry=self.retry,
            remote_name=listed.name,
            input_schema=dict(listed.input_schema or {"type": "object"}),
        )

    async def call(self, name: str, arguments: dict[str, Any], idempotency_key: str) -> Any:
        """Call the server's tool ``name``; its result as the tool's result."""
        client = await self._connected()
        # An open map (``extra_items``): any key travels, the checker wants literal ones.
        meta = cast("RequestParamsMeta", {IDEMPOTENCY_META_KEY: idempotency_key})
        result: CallToolResult = await self._guard(client.call_tool(name, arguments, meta=meta))
        if result.is_error:
            raise MCPToolError(_text(result) or f"{name} failed")
        if result.structured_content is not None:
            return result.structured_content
        blocks = [block.model_dump(mode="json", exclude_none=True) for block in result.content]
        if all(block.get("type") == "text" for block in blocks):
            return "\n".join(str(block.get("text", "")) for block in blocks)
        return blocks

    # --- the connection --------------------------------------------------------------

    async def _guard(self, request: Any) -> Any:
        """Await a request; a broken connection is dropped (the next call makes a new one)
        and reported as :class:`MCPConnectionError`."""
        mcp = _mcp()
        try:
            return await request
        except mcp.MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                raise  # the server answered: the connection is fine
            await self._drop()
            raise MCPConnectionError(f"MCP server {self._label()}: connection closed") from exc
        except Exception as exc:
            await self._drop()
            raise MCPConnectionError(f"MCP server {self._label()}: {exc!r}") from exc

    async def _connected(self) -> Client:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new event loop: nothing carries over
            self._loop, self._lock, self._client, self._owner = loop, asyncio.Lock(), None, None
        assert self._lock is not None
        async with self._lock:
            if self._client is not None and self._owner is not None and not self._owner.done():
                return self._client
            ready: asyncio.Future[Client] = loop.create_future()
            self._closing = asyncio.Event()
            self._owner = asyncio.create_task(self._hold(ready, self._closing))
            try:
                async with asyncio.timeout(self.connect_timeout):
                    self._client = await asyncio.shield(ready)
            except TimeoutError:
                await self._drop()
                raise MCPConnectionError(
                    f"MCP server {self._label()} did not answer within {self.connect_timeout}s"
                ) from None
            return self._client

    async def _hold(self, ready: asyncio.Future[Client], closing: asyncio.Event) -> None:
        try:
            async with _mcp().Client(self.server) as client:
                ready.set_result(client)
                await closing.wait()
        except BaseException as exc:
            if not ready.done():
                error = MCPConnectionError(f"MCP server {self._label()}: {exc!r}")
                ready.set_exception(error)
            if not isinstance(exc, Exception):
                raise

    async def _drop(self) -> None:
        owner, closing = self._owner, self._closing
        self._client, self._owner = None, None
        if owner is None or closing is None:
            return
        closing.set()
        with contextlib.suppress(Exception, asyncio.CancelledError):
            async with asyncio.timeout(5):
                await asyncio.shield(owner)
        if not owner.done():
            owner.cancel()

    async def aclose(self) -> None:
        """Close the connection (stops a stdio server's process)."""
        if self._loop is asyncio.get_running_loop():
            await self._drop()

    async def __aenter__(self) -> MCPTools:
        await self._connected()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _label(self) -> str:
        command = getattr(self.server, "command", None)
        if command is not None:
            return " ".join([str(command), *map(str, getattr(self.server, "args", []))])
        return self.server if isinstance(self.server, str) else type(self.server).__name__


@dataclass(slots=True)
class MCPTool(Tool):
    """One tool of an MCP server: its JSON schema is the contract for the arguments."""

    remote_name: str = ""
    input_schema: dict[str, Any] = field(default_factory=dict)
    _validator: Draft202012Validator | None = field(
        default=None, init=False, repr=False, compare=False
    )

    @property
    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.input_schema)

    def validate(self, arguments: dict[str, Any]) -> dict[str, Any]:
        if self._validator is None:
            self._validator = Draft202012Validator(self.input_schema)
        problems = [
            f"{'.'.join(str(part) for part in error.absolute_path) or 'arguments'}: {error.message}"
            for error in list(self._validator.iter_errors(arguments))[:5]
        ]
        if problems:
            raise ToolArgumentsError(f"invalid arguments for {self.name}: {'; '.join(problems)}")
        return arguments

    async def call(self, arguments: dict[str, Any], context: ToolContext) -> Any:
        values = self.validate(arguments)
        awaitable = self.function(self.remote_name, values, context.idempotency_key)
        if self.timeout is None:
            return await awaitable
        async with asyncio.timeout(self.timeout):
            return await awaitable


def _text(result: CallToolResult) -> str:
    return "\n".join(
        str(getattr(block, "text", "")) for block in result.content if hasattr(block, "text")
    )
