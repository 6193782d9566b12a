"""Forking an entity: a new, real entity whose stream forks the source's at the end of a
completed run, with its state and agent history, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
from pydantic import BaseModel
from support.waiting import eventually

from wakeful.agent.models.base import ModelRequest
from wakeful.agent.models.test import Response, TestModel
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

from .conftest import ApiFactory, HarnessFactory


class Note(BaseModel):
    id: str
    text: str


def heard(request: ModelRequest) -> list[str]:
    return [m.content for m in request.messages if m.role == "user"]


def fork_registry(requests: list[ModelRequest]) -> Registry:
    def respond(request: ModelRequest) -> Response:
        requests.append(request)
        return Response(text=f"heard {' + '.join(heard(request))}")

    model = TestModel(itertools.repeat(respond))
    registry = Registry()

    @registry.entity("assistant", state={"notes": Note})
    async def assistant(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.state.notes.insert(Note(id=message.id, text=str(message.payload)))
            if message.payload == "fork me":
                ctx.state.notes.insert(Note(id="child", text=await ctx.fork("copy")))
        if wake.messages:
            ctx.use_agent(model=model)
            await ctx.agent.run()

    return registry


async def events_of(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/stream{url}/main", params={"offset": "-1"})
    response.raise_for_status()
    found: list[dict[str, Any]] = response.json()
    return found


async def completed_runs(client: httpx.AsyncClient, url: str, count: int) -> list[str]:
    async def probe() -> list[str] | None:
        runs: dict[str, str] = {}
        for event in await events_of(client, url):
            if event["type"] == "run":
                runs[event["key"]] = event["value"].get("status")
        done = [key for key, status in runs.items() if status == "completed"]
        return done if len(done) >= count else None

    found = await eventually(probe, what=f"{count} completed runs on {url}")
    assert found is not None
    return found


async def notes(client: httpx.AsyncClient, url: str) -> list[str]:
    rows: dict[str, str] = {}
    for event in await events_of(client, url):
        if event["type"] == "state:notes":
            rows[event["key"]] = event["value"]["text"]
    return sorted(rows.values())


async def send(client: httpx.AsyncClient, url: str, payload: str) -> None:
    response = await client.post(f"/v1/entities{url}/messages", json={"payload": payload})
    assert response.status_code == 202, response.text


async def test_a_fork_at_a_run_is_a_real_entity_with_the_state_and_history_there(
    api_factory: ApiFactory,
) -> None:
    requests: list[ModelRequest] = []
    client = await api_factory(fork_registry(requests))
    (
        await client.post("/v1/entities/assistant", json={"id": "a", "tags": {"team": "x"}})
    ).raise_for_status()
    await send(client, "/assistant/a", "one")
    (first_run,) = await completed_runs(client, "/assistant/a", 1)
    await send(client, "/assistant/a", "two")
    await completed_runs(client, "/assistant/a", 2)

    forked = await client.post("/v1/entities/assistant/a/fork", json={"id": "b", "at": first_run})
    assert forked.status_code == 201, forked.text
    assert forked.json()["url"] == "/assistant/b" and forked.json()["tags"] == {"team": "x"}
    assert forked.headers["location"] == "/v1/entities/assistant/b"
    assert await notes(client, "/assistant/b") == ["one"]
    listed = (await client.get("/v1/entities", params={"type": "assistant"})).json()
    assert [e["url"] for e in listed["entities"]] == ["/assistant/a", "/assistant/b"]

    # Woken by a message, the fork runs its agent on the source's history up to the fork.
    await send(client, "/assistant/b", "three")
    await completed_runs(client, "/assistant/b", 2)
    assert heard(requests[-1]) == ["one", "three"]
    assert await notes(client, "/assistant/b") == ["one", "three"]
    assert await notes(client, "/assistant/a") == ["one", "two"]  # the source is untouched
    created = [e for e in await events_of(client, "/assistant/b") if e["type"] == "entity_created"]
    assert created[-1]["value"]["forked_from"]["url"] == "/assistant/a"
    assert created[-1]["value"]["forked_from"]["run"] == first_run

    # Without `at`: the end of the last completed run.
    latest = await client.post("/v1/entities/assistant/a/fork", json={"id": "c"})
    assert latest.status_code == 201, latest.text
    assert await notes(client, "/assistant/c") == ["one", "two"]


async def test_fork_refuses_an_unknown_run_a_taken_id_and_an_unknown_source(
    api_factory: ApiFactory,
) -> None:
    client = await api_factory(fork_registry([]))
    (await client.post("/v1/entities/assistant", json={"id": "a"})).raise_for_status()
    unknown_run = await client.post("/v1/entities/assistant/a/fork", json={"at": "nope"})
    assert unknown_run.status_code == 404
    assert unknown_run.json()["error"]["code"] == "UNKNOWN_RUN"
    taken = await client.post("/v1/entities/assistant/a/fork", json={"id": "a"})
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "ENTITY_EXISTS"
    missing = await client.post("/v1/entities/assistant/zz/fork", json={})
    assert missing.status_code == 404


async def test_a_handler_forks_an_entity_with_its_pass(harness_factory: HarnessFactory) -> None:
    requests: list[ModelRequest] = []
    harness = await harness_factory(fork_registry(requests))
    await harness.service.spawn("assistant", "a", message="one")
    await harness.wait_passes("/assistant/a", 1)
    await harness.service.send("/assistant/a", "fork me")
    await harness.wait_passes("/assistant/a", 2)
    copy = await harness.service.get("/assistant/copy")
    assert copy.status == "idle"
    store = await harness.materialize("/assistant/copy")
    # Forked from what was committed when the handler asked: after the first run.
    assert sorted(row["text"] for row in store.collection("state:notes")) == ["one"]
