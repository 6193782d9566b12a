"""``GET /v1/types/{type}/schema``: every event real entities write fits the schema served
for its type, under a collection whose primary key field holds the event's key."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel
from support.waiting import eventually

from wakeful import (
    Registry,
    Settings,
    ThreadConfig,
    collection,
    create_app,
    define_thread,
    tool,
)
from wakeful.agent.models import TestModel
from wakeful.agent.models.test import answer, call
from wakeful.entities.context import Context
from wakeful.entities.wake import Wake


class Note(BaseModel):
    name: str
    text: str


class Tag(BaseModel):
    label: str


class Args(BaseModel):
    topic: str
    tag: Tag | None = None


class Ask(BaseModel):
    question: str
    tags: list[Tag] = []


@tool
def shout(text: str) -> str:
    """Says it louder."""
    return text.upper()


def registry() -> Registry:
    registry = Registry()

    @registry.entity(
        "parent",
        state={"notes": collection(Note, key="name"), "runs": collection(Note, key="name")},
        args=Args,
        inbox=Ask,
    )
    async def parent(ctx: Context, wake: Wake) -> None:
        if wake.first:
            ctx.spawn("worker", "w1", message={"job": 1})
            ctx.set_tag("phase", "started")
            ctx.timer("soon", 0.01, {"why": "check"})
        for child in wake.children:
            ctx.state.notes.upsert(Note(name="child", text=str(child.status)))
        for timer in wake.timers:
            ctx.state.notes.upsert(Note(name="timer", text=timer.name))
        for message in wake.messages:
            ctx.state.runs.upsert(Note(name="asked", text=message.payload.question))

    @registry.entity("worker")
    async def worker(ctx: Context, wake: Wake) -> None:
        ctx.complete({"ok": True})

    model = TestModel([call("shout", {"text": "hi"}), answer("HI")])
    define_thread(registry, config=ThreadConfig(model=model, tools=[shout]))
    return registry


@pytest.fixture
async def client(fresh_database: Callable[[], str]) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings(database=fresh_database(), long_poll_timeout=1.0), registry())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as c:
            yield c


async def stream_events(client: httpx.AsyncClient, stream: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/stream/{stream}", params={"offset": "-1"})
    assert response.status_code == 200, response.text
    assert response.headers["Stream-Up-To-Date"] == "true"
    found: list[dict[str, Any]] = response.json()
    return found


def check_against(schema: dict[str, Any], events: list[dict[str, Any]]) -> set[str]:
    """Check every event against the served schema; the collections they filled."""
    by_type = {c["type"]: (name, c) for name, c in schema["collections"].items()}
    filled: set[str] = set()
    for event in events:
        assert event["type"] in by_type, f"no collection for {event['type']}: {event}"
        name, collection = by_type[event["type"]]
        filled.add(name)
        if event["headers"]["operation"] == "delete":
            continue
        value = event["value"]
        Draft202012Validator(collection["schema"]).validate(value)
        key_field = collection["primaryKey"]
        # StreamDB writes the event's key into this field: it must not change the row.
        if key_field in value:
            assert str(value[key_field]) == event["key"], (name, event)
    return filled


async def test_every_event_fits_the_served_schema(client: httpx.AsyncClient) -> None:
    spawned = await client.post(
        "/v1/entities/parent",
        json={"id": "p1", "args": {"topic": "t", "tag": {"label": "x"}}},
    )
    assert spawned.status_code == 201, spawned.text
    sent = await client.post(
        "/v1/entities/parent/p1/messages",
        json={"payload": {"question": "why?", "tags": [{"label": "y"}]}},
    )
    assert sent.status_code == 202, sent.text
    signalled = await client.post("/v1/entities/parent/p1/signals", json={"name": "poke"})
    assert signalled.status_code == 202, signalled.text
    thread = await client.post("/v1/threads", json={"id": "t1", "prompt": "Shout hi"})
    assert thread.status_code == 201, thread.text

    async def settled() -> list[dict[str, Any]] | None:
        found = await stream_events(client, "parent/p1/main")
        notes = {e["key"] for e in found if e["type"] == "state:notes"}
        asked = [e for e in found if e["type"] == "state:runs"]
        return found if {"child", "timer"} <= notes and asked else None

    parent_events = await eventually(settled, what="the parent's child, timer and message")

    async def answered() -> list[dict[str, Any]] | None:
        found = await stream_events(client, "thread/t1/main")
        runs = [e for e in found if e["type"] == "run" and e["value"]["status"] == "completed"]
        return found if runs else None

    thread_events = await eventually(answered, what="the thread's answer")

    parent_schema = (await client.get("/v1/types/parent/schema")).json()
    assert parent_schema["entity_type"] == "parent"
    assert parent_schema["stream"] == "/v1/stream/parent/{id}/main"
    # The type's "runs" keeps apart from the agent's runs.
    assert parent_schema["collections"]["state_runs"]["type"] == "state:runs"
    assert parent_schema["collections"]["notes"]["primaryKey"] == "name"
    filled = check_against(parent_schema, parent_events)
    expected = {"entityCreated", "inbox", "wakes", "signals", "childStatus", "tags"}
    assert expected | {"manifests", "timers", "notes", "state_runs"} <= filled
    worker_schema = (await client.get("/v1/types/worker/schema")).json()
    check_against(worker_schema, await stream_events(client, "worker/w1/main"))
    thread_schema = (await client.get("/v1/types/thread/schema")).json()
    filled = check_against(thread_schema, thread_events)
    assert {"runs", "steps", "texts", "textDeltas", "toolCalls"} <= filled


async def test_the_type_schemas_constrain_messages_and_arguments(
    client: httpx.AsyncClient,
) -> None:
    collections = (await client.get("/v1/types/parent/schema")).json()["collections"]
    inbox = Draft202012Validator(collections["inbox"]["schema"])
    assert inbox.is_valid({"id": "m", "payload": {"question": "q", "tags": [{"label": "a"}]}})
    # The payload's nested model is reached through a $ref that still resolves.
    assert not inbox.is_valid({"id": "m", "payload": {"question": "q", "tags": [{"label": 1}]}})
    created = Draft202012Validator(collections["entityCreated"]["schema"])
    entity = {"url": "/parent/p", "type": "parent", "id": "p"}
    assert created.is_valid({**entity, "args": {"topic": "t", "tag": {"label": "x"}}})
    assert not created.is_valid({**entity, "args": {"tag": {"label": "x"}}})


async def test_an_unknown_type_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/types/nope/schema")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_TYPE"
