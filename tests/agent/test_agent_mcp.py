"""Tools from MCP servers: a real server built with the official SDK, over stdio and over
streamable HTTP, called by the agent loop like any tool (recorded, retried, approved,
with the call's idempotency key), and a clear error without the extra."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.fakes import FakeToolCall, Reply
from support.servers import free_port

from wakeful import MCPTools, MissingExtra, RetryPolicy
from wakeful.agent.mcp import MCPConnectionError
from wakeful.entities.definition import Registry

from .support import Provider, agent_type

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def ledger_of(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    return [{name: value for name, value in entry.items() if name != "pid"} for entry in entries]


def calls_of(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("type") == "tool_call":
            rows[event["key"]] = event["value"]
    return rows


async def ask(
    provider: Provider, agent_app: Any, tools: list[Any], *calls: FakeToolCall
) -> tuple[Any, str, dict[str, Any]]:
    """One message to an agent with ``tools`` whose model asks for ``calls``, then answers:
    the app, the entity and its finished run."""
    provider.script(Reply(tool_calls=list(calls)), Reply(text="Done."))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=tools)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Go")
    return app, url, await app.wait_run(url)


class HTTPServer:
    """The MCP server as its own process, serving streamable HTTP on 127.0.0.1."""

    def __init__(self, ledger: Path) -> None:
        self.ledger = ledger
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> HTTPServer:
        self.process = subprocess.Popen(
            [sys.executable, SERVER, str(self.ledger), str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the MCP server exited"
            with contextlib.suppress(httpx.TransportError):
                httpx.get(f"http://127.0.0.1:{self.port}/", timeout=1)
                return self
            time.sleep(0.05)
        raise TimeoutError("the MCP server did not start")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[HTTPServer]:
    server = HTTPServer(tmp_path / "ledger.jsonl").start()
    yield server
    server.kill()


async def test_a_stdio_servers_tools_keep_their_names_descriptions_and_schemas(
    tmp_path: Path,
) -> None:
    async with MCPTools.stdio(
        sys.executable, [SERVER, str(tmp_path / "l")], prefix="wx_", include={"add", "explode"}
    ) as server:
        tools = {tool.name: tool for tool in await server.tools()}
    assert set(tools) == {"wx_add", "wx_explode"}
    spec = tools["wx_add"].spec
    assert spec.description == "Add two integers."
    assert spec.parameters["required"] == ["a", "b"]
    assert spec.parameters["properties"]["a"]["type"] == "integer"


async def test_the_agent_calls_a_stdio_tool_once_with_its_idempotency_key(
    provider: Provider, agent_app, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    server = MCPTools.stdio(sys.executable, [SERVER, str(ledger)])
    try:
        call = FakeToolCall("get_weather", {"city": "Paris"}, id="call_m1")
        app, url, run = await ask(provider, agent_app, await server.tools(), call)
    finally:
        await server.aclose()
    assert run["status"] == "completed", run
    call = calls_of(await app.events(url))["call_m1"]
    assert call["status"] == "completed"
    # The SDK's server wraps a plain return value as structured content.
    assert call["result"] == {"result": "sunny in Paris"}
    assert ledger_of(ledger) == [
        {"tool": "get_weather", "args": {"city": "Paris"}, "key": call["idempotency_key"]}
    ]
    assert ("result", "call_m1", '{"result":"sunny in Paris"}', False) in provider.turns(1)


async def test_structured_results_errors_and_bad_arguments_over_http(
    provider: Provider, agent_app, http_server: HTTPServer
) -> None:
    server = MCPTools.http(http_server.url)
    try:
        app, url, run = await ask(
            provider,
            agent_app,
            await server.tools(),
            FakeToolCall("add", {"a": 2, "b": 3}, id="c_add"),
            FakeToolCall("explode", {}, id="c_boom"),
            FakeToolCall("add", {"a": "two"}, id="c_bad"),
        )
    finally:
        await server.aclose()
    assert run["status"] == "completed", run
    calls = calls_of(await app.events(url))
    assert calls["c_add"]["status"] == "completed"
    assert calls["c_add"]["result"] == {"result": 5}
    assert calls["c_boom"]["status"] == "failed"
    assert "the detonator is wet" in calls["c_boom"]["error"]
    assert calls["c_bad"]["status"] == "failed"
    assert "invalid arguments for add" in calls["c_bad"]["error"]
    # The invalid call never reached the server; the others reached it once each.
    assert sorted(entry["tool"] for entry in ledger_of(http_server.ledger)) == ["add", "explode"]


async def test_a_tool_needing_approval_runs_only_once_approved(
    provider: Provider, agent_app, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    server = MCPTools.stdio(sys.executable, [SERVER, str(ledger)], approval={"add"})
    try:
        provider.script(
            Reply(tool_calls=[FakeToolCall("add", {"a": 1, "b": 1}, id="c1")]),
            Reply(text="Two."),
        )
        registry = Registry()
        agent_type(registry, "bot", provider.model(), tools=await server.tools())
        app = await agent_app(registry)
        url = await app.spawn("bot", "b1", message="1+1?")
        waiting = await app.wait_call(url, "awaiting_approval")
        assert waiting["kind"] == "approval"
        assert ledger_of(ledger) == []
        assert (await app.answer(url, "c1", "approve", {})).status_code == 202
        run = await app.wait_run(url)
    finally:
        await server.aclose()
    assert run["status"] == "completed", run
    assert [entry["tool"] for entry in ledger_of(ledger)] == ["add"]


async def test_a_server_process_that_died_is_started_again_by_the_retry(
    provider: Provider, agent_app, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.jsonl"
    retry = RetryPolicy(attempts=3, backoff_seconds=0.05)
    server = MCPTools.stdio(sys.executable, [SERVER, str(ledger)], retry=retry)
    try:
        tools = await server.tools()
        assert await server.call("add", {"a": 1, "b": 1}, "warm-up") == {"result": 2}
        first = json.loads(ledger.read_text().splitlines()[0])["pid"]
        os.kill(first, signal.SIGKILL)  # the connection the tools hold is now broken
        call = FakeToolCall("get_weather", {"city": "Oslo"}, id="c1")
        app, url, run = await ask(provider, agent_app, tools, call)
    finally:
        await server.aclose()
    assert run["status"] == "completed", run
    call = calls_of(await app.events(url))["c1"]
    assert call["status"] == "completed", (call["error"], call.get("last_error"))
    assert call["attempts"] == 2, call  # the first attempt found the connection broken
    assert "MCPConnectionError" in call["last_error"]
    entries = [json.loads(line) for line in ledger.read_text().splitlines()]
    assert [entry["key"] for entry in entries] == ["warm-up", call["idempotency_key"]]
    assert entries[1]["pid"] != first


async def test_a_streamable_http_server_restarted_on_its_port_is_reached_again(
    http_server: HTTPServer,
) -> None:
    server = MCPTools.http(http_server.url, retry=RetryPolicy(attempts=2, backoff_seconds=0.05))
    try:
        assert await server.call("add", {"a": 1, "b": 1}, "before") == {"result": 2}
        http_server.kill()
        with pytest.raises(MCPConnectionError):
            await server.call("add", {"a": 1, "b": 1}, "while-down")
        http_server.start()
        assert await server.call("add", {"a": 2, "b": 2}, "after") == {"result": 4}
    finally:
        await server.aclose()
    assert [entry["key"] for entry in ledger_of(http_server.ledger)] == ["before", "after"]


async def test_a_server_that_cannot_start_is_a_connection_error(tmp_path: Path) -> None:
    server = MCPTools.stdio(sys.executable, [str(tmp_path / "missing.py")], connect_timeout=20)
    with pytest.raises(MCPConnectionError):
        await server.tools()
    await server.aclose()


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "mcp", None)  # as if not installed
    with pytest.raises(MissingExtra) as raised:
        MCPTools.stdio("python", ["server.py"])
    assert "pip install 'wakeful[mcp]'" in str(raised.value)
    assert isinstance(raised.value, ImportError)
