"""Helpers for the threads tests: an in-process server over real HTTP, polling, readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from support.servers import free_port
from support.waiting import eventually

from wakeful import Settings, create_app
from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

T = TypeVar("T")
WAIT = 10.0
#: The npm project of the front-end clients (the AI SDK, AG-UI) the tests drive.
CLIENTS = Path(__file__).resolve().parents[2] / "clients"
CLIENT_TIMEOUT = 60.0


class _Server(uvicorn.Server):
    """Leaves the test runner's signal handlers alone (Ctrl-C still stops pytest)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    """A running server: its base URL, a client for it, and how to stop it."""

    url: str
    client: httpx.AsyncClient
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        await self.client.aclose()
        self.server.should_exit = True
        await asyncio.wait_for(self.task, 15)


async def start_server(
    registry: Registry,
    *,
    database: str,
    **settings: Any,
) -> Served:
    options: dict[str, Any] = {"long_poll_timeout": 1.0, **settings}
    app = create_app(Settings(database=database, **options), registry)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + WAIT
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped at start")
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        await asyncio.sleep(0.01)
    url = f"http://127.0.0.1:{port}"
    client = httpx.AsyncClient(base_url=url, timeout=WAIT)
    return Served(url, client, server, task)


async def thread(client: httpx.AsyncClient, thread_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/threads/{thread_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def wait_status(
    client: httpx.AsyncClient, thread_id: str, *statuses: str, within: float = WAIT
) -> dict[str, Any]:
    """The thread, once its status is one of ``statuses``."""

    async def probe() -> dict[str, Any] | None:
        found = await thread(client, thread_id)
        return found if found["status"] in statuses else None

    what = f"thread {thread_id} to be {' or '.join(statuses)}"
    return await eventually(probe, within=within, what=what)


async def messages(client: httpx.AsyncClient, thread_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/threads/{thread_id}/messages")
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def events(client: httpx.AsyncClient, stream: str) -> list[dict[str, Any]]:
    """Every event of a JSON stream from the beginning, by catch-up reads."""
    found: list[dict[str, Any]] = []
    offset = "-1"
    while True:
        response = await client.get(f"/v1/stream/{stream}", params={"offset": offset})
        assert response.status_code == 200, response.text
        found += response.json()
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            return found


def rows(stream_events: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The rows of one collection as the events leave them, in order of first appearance."""
    found: dict[str, dict[str, Any]] = {}
    for event in stream_events:
        if event.get("type") != kind:
            continue
        if event["headers"]["operation"] == "delete":
            found.pop(event["key"], None)
        else:
            found[event["key"]] = event["value"]
    return found


def run_statuses(stream_events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each run's statuses in the order its events set them, repeats collapsed."""
    found: dict[str, list[str]] = {}
    for event in stream_events:
        if event.get("type") != "run":
            continue
        history = found.setdefault(event["key"], [])
        status = event["value"]["status"]
        if not history or history[-1] != status:
            history.append(status)
    return found


def assistant(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in found if message["role"] == "assistant"]


def error_of(response: httpx.Response, status: int, code: str | None = None) -> str:
    """The message of a JSON error response, after checking its status and shape."""
    assert response.status_code == status, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body
    message: str = body["error"]["message"]
    return message


async def raw_status(url: str, target: str, headers: str = "") -> int:
    """The status of a GET sent with ``target`` exactly as given (clients normalize
    paths such as ``/a/../b``; an attacker's need not)."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        request = f"GET {target} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n{headers}\r\n"
        writer.write(request.encode())
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
    finally:
        writer.close()
    return int(status_line.split()[1])


@tool
def get_weather(city: str) -> str:
    """Today's weather in a city (a tool the threads' front-end tests share)."""
    return f"sunny in {city}"


def require_clients() -> str:
    node = shutil.which("node")
    missing = []
    if node is None:
        missing.append("Node.js")
    if not (CLIENTS / "node_modules" / ".installed").exists():
        missing.append("the npm packages of clients/ (make test installs them)")
    if not missing:
        assert node is not None
        return node
    message = "the front-end client tests need " + " and ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


async def run_script(script: str, *args: str) -> Any:
    """Run a script of clients/ and return the JSON it printed."""
    node = require_clients()
    process = await asyncio.create_subprocess_exec(
        node,
        script,
        *args,
        cwd=CLIENTS,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CLIENT_TIMEOUT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"{script} {args} did not finish within {CLIENT_TIMEOUT}s") from None
    assert process.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])
