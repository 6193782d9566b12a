"""Helpers for the agent loop tests: the server in-process, the fake providers, readers.

An :class:`AgentApp` is ``create_app`` with its lifespan running (storage, runtime with
the agent loop installed, scheduler, dispatcher), spoken to over HTTP through an ASGI
transport, so tests use the same API a client does: spawn, send, signal, answer tool
calls, read streams (catch-up and long-poll). A :class:`Provider` is one of the fake
model servers with models of the real adapter pointed at it; :meth:`Provider.turns`
reads what a request sent back in one shape for both wire formats.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson
from fastapi import FastAPI
from support.fakes import FakeServer, HTTPError, Recorded, Reply
from support.waiting import eventually

from wakeful.agent.loop import Agent, RunResult
from wakeful.agent.models import Model, resolve
from wakeful.agent.records import Rows
from wakeful.agent.rows import RUN_DONE
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import EntityType, Registry
from wakeful.entities.wake import Wake
from wakeful.state import StateStore
from wakeful.streams.storage import Storage

T = TypeVar("T")
DEFAULT_TIMEOUT = 10.0
#: Leases as short as an entity type allows, so that a resumed run starts quickly.
LEASE_SECONDS = 1.0


async def wait_flag(flag: threading.Event, *, within: float = DEFAULT_TIMEOUT, what: str) -> None:
    """Wait for a flag a fake server's thread sets."""

    async def probe() -> bool:
        return flag.is_set()

    await eventually(probe, within=within, interval=0.002, what=what)


# --- the fake providers ------------------------------------------------------------------

MODEL_NAMES = {"openai": "openai:gpt-test", "anthropic": "anthropic:claude-test"}


@dataclass
class Provider:
    """A fake provider and models of the real adapter (over real HTTP) pointed at it."""

    name: str
    fake: FakeServer
    made: list[Model] = field(default_factory=list)

    def model(self, **options: Any) -> Model:
        model = resolve(
            MODEL_NAMES[self.name], base_url=self.fake.base_url, api_key="test", **options
        )
        self.made.append(model)
        return model

    def script(self, *items: Reply | HTTPError) -> None:
        self.fake.script(*items)

    @property
    def requests(self) -> list[Recorded]:
        return self.fake.requests

    def body(self, index: int = -1) -> dict[str, Any]:
        body = self.fake.requests[index].body
        assert isinstance(body, dict)
        return body

    def tool_names(self, index: int = -1) -> list[str]:
        tools = self.body(index).get("tools") or []
        if self.name == "openai":
            return [tool["function"]["name"] for tool in tools]
        return [tool["name"] for tool in tools]

    def system(self, index: int = -1) -> str | None:
        body = self.body(index)
        if self.name == "anthropic":
            system = body.get("system")
            return system if isinstance(system, str) else None
        found = [m["content"] for m in body["messages"] if m["role"] == "system"]
        return found[0] if found else None

    def turns(self, index: int = -1) -> list[tuple[Any, ...]]:
        """The conversation a request sent, as ``("user", text)``, ``("assistant", text)``,
        ``("call", id, name, args)`` and ``("result", id, content, is_error)`` tuples."""
        body = self.body(index)
        found: list[tuple[Any, ...]] = []
        for message in body["messages"]:
            role = message["role"]
            if self.name == "openai":
                if role == "system":
                    continue
                if role == "tool":
                    content = message["content"]
                    error = content.startswith("Error")
                    found.append(("result", message["tool_call_id"], content, error))
                    continue
                if message.get("content"):
                    found.append((role, message["content"]))
                for call in message.get("tool_calls") or []:
                    function = call["function"]
                    args = orjson.loads(function["arguments"])
                    found.append(("call", call["id"], function["name"], args))
                continue
            content = message["content"]
            if isinstance(content, str):
                found.append((role, content))
                continue
            for block in content:
                if block["type"] == "text":
                    found.append((role, block["text"]))
                elif block["type"] == "tool_use":
                    found.append(("call", block["id"], block["name"], block["input"]))
                elif block["type"] == "tool_result":
                    result = block["content"]
                    if not isinstance(result, str):
                        result = "".join(part.get("text", "") for part in result)
                    found.append(
                        ("result", block["tool_use_id"], result, bool(block.get("is_error")))
                    )
        return found

    async def aclose(self) -> None:
        for model in self.made:
            await model.aclose()
        self.made.clear()


# --- entity types that run the loop ------------------------------------------------------


@dataclass
class Runs:
    """What the handler of an agent entity type saw: each pass's result and agent."""

    results: list[RunResult] = field(default_factory=list)
    agents: list[Agent] = field(default_factory=list)

    @property
    def last(self) -> RunResult:
        return self.results[-1]


def agent_type(
    registry: Registry,
    name: str,
    model: Model | Callable[[], Model],
    *,
    state: dict[str, Any] | None = None,
    lease_seconds: float = LEASE_SECONDS,
    **options: Any,
) -> Runs:
    """Define an entity type whose handler runs ``ctx.use_agent(model, **options)``.

    Model retries back off 10 ms here unless a test says otherwise (``model_backoff``)."""
    runs = Runs()
    settings = {"model_backoff": 0.01, **options}

    async def handler(ctx: Context, wake: Wake) -> None:
        chosen = model if isinstance(model, Model) else model()
        agent: Agent = ctx.use_agent(chosen, **settings)
        runs.agents.append(agent)
        runs.results.append(await agent.run())

    registry.define(name, handler, state=state, lease_seconds=lease_seconds)
    return runs


# --- the server in-process ---------------------------------------------------------------


@dataclass
class AgentApp:
    app: FastAPI
    client: httpx.AsyncClient
    database: str
    registry: Registry
    stop: Callable[[], Awaitable[None]]

    @property
    def storage(self) -> Storage:
        storage: Storage = self.app.state.streams.storage
        return storage

    def definition(self, name: str) -> EntityType:
        return self.registry.get(name)

    async def spawn(self, type_name: str, entity_id: str, message: Any = None) -> str:
        body: dict[str, Any] = {"id": entity_id}
        if message is not None:
            body["message"] = message
        response = await self.client.post(f"/v1/entities/{type_name}", json=body)
        assert response.status_code == 201, response.text
        return f"/{type_name}/{entity_id}"

    async def send(self, url: str, payload: Any) -> str:
        response = await self.client.post(f"/v1/entities{url}/messages", json={"payload": payload})
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    async def signal(self, url: str, name: str) -> None:
        response = await self.client.post(f"/v1/entities{url}/signals", json={"name": name})
        assert response.status_code == 202, response.text

    async def answer(
        self, url: str, call_id: str, verb: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        return await self.client.post(f"/v1/entities{url}/tool-calls/{call_id}/{verb}", json=body)

    async def raw_events(self, url: str) -> list[tuple[int, dict[str, Any]]]:
        """Every event of the entity's stream with the size of its message, read over HTTP."""
        path = Address.parse(url).stream
        found: list[tuple[int, dict[str, Any]]] = []
        offset = "-1"
        while True:
            response = await self.client.get(f"/v1/stream/{path}", params={"offset": offset})
            assert response.status_code == 200, response.text
            found.extend(
                (len(orjson.dumps(event)), event) for event in orjson.loads(response.content)
            )
            offset = response.headers["Stream-Next-Offset"]
            if response.headers.get("Stream-Up-To-Date") == "true":
                return found

    async def events(self, url: str) -> list[dict[str, Any]]:
        return [event for _, event in await self.raw_events(url)]

    async def store(self, url: str) -> StateStore:
        store = StateStore()
        for event in await self.events(url):
            store.apply(event)
        return store

    async def rows(self, url: str) -> Rows:
        return Rows(await self.store(url))

    async def wait_events(
        self,
        url: str,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        within: float = DEFAULT_TIMEOUT,
        what: str = "events",
    ) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = await self.events(url)
            return found if predicate(found) else None

        result = await eventually(probe, within=within, what=f"{what} on {url}")
        assert result is not None
        return result

    async def wait_run(
        self,
        url: str,
        statuses: Iterable[str] = RUN_DONE,
        *,
        within: float = DEFAULT_TIMEOUT,
        count: int = 1,
    ) -> dict[str, Any]:
        """The latest run once ``count`` runs exist and the latest has one of ``statuses``."""
        wanted = set(statuses)

        async def probe() -> dict[str, Any] | None:
            runs = Rows(await self.store(url)).runs()
            if len(runs) >= count and runs[-1].status in wanted:
                return runs[-1].wire()  # as the stream has it
            return None

        return await eventually(probe, within=within, what=f"a run {sorted(wanted)} on {url}")

    async def ask_thread(self, prompt: str) -> list[dict[str, Any]]:
        """Create a thread of the threads API with ``prompt``; its messages once its run
        completed."""
        created = await self.client.post("/v1/threads", json={"prompt": prompt})
        assert created.status_code == 201, created.text
        thread = created.json()["id"]
        run = await self.wait_run(f"/thread/{thread}")
        assert run["status"] == "completed", run["error"]
        messages: list[dict[str, Any]] = (
            await self.client.get(f"/v1/threads/{thread}/messages")
        ).json()
        return messages

    async def wait_call(
        self, url: str, status: str, *, within: float = DEFAULT_TIMEOUT
    ) -> dict[str, Any]:
        """The first tool call that reaches ``status``."""

        async def probe() -> dict[str, Any] | None:
            store = await self.store(url)
            for _, row in store.collection("tool_call").items():
                if isinstance(row, dict) and row.get("status") == status:
                    return row
            return None

        return await eventually(probe, within=within, what=f"a tool call {status} on {url}")


class LiveReader:
    """Follows a stream with long-poll reads over HTTP, noting when each event arrived."""

    def __init__(self, client: httpx.AsyncClient, url: str) -> None:
        self.client = client
        self.path = Address.parse(url).stream
        self.seen: list[tuple[float, dict[str, Any]]] = []
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LiveReader:
        self._task = asyncio.create_task(self._follow())
        return self

    async def _follow(self) -> None:
        offset = "-1"
        while True:
            response = await self.client.get(
                f"/v1/stream/{self.path}", params={"offset": offset, "live": "long-poll"}
            )
            arrived = time.monotonic()
            if response.status_code == 200:
                for event in orjson.loads(response.content):
                    self.seen.append((arrived, event))
                self.changed.set()
            offset = response.headers.get("Stream-Next-Offset", offset)

    def first(self, predicate: Callable[[dict[str, Any]], bool]) -> float | None:
        """When the first event matching ``predicate`` arrived."""
        return next((at for at, event in self.seen if predicate(event)), None)

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], within: float = DEFAULT_TIMEOUT
    ) -> float:
        async def probe() -> float | None:
            return self.first(predicate)

        return await eventually(probe, within=within, interval=0.002, what="a live event")

    async def wait_text(self, text: str, within: float = DEFAULT_TIMEOUT) -> float:
        """When the text deltas seen so far first added up to ``text``."""

        async def probe() -> float | None:
            joined = ""
            for at, event in self.seen:
                if event.get("type") == "text_delta":
                    joined += str(event["value"]["delta"])
                    if joined == text:
                        return at
            return None

        return await eventually(probe, within=within, interval=0.002, what=f"text {text!r}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await self._task
