"""The entity JSON API over HTTP: every endpoint, and a clear 4xx for every bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from support.waiting import eventually

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

from .conftest import ApiFactory

JSON = {"Content-Type": "application/json"}


class NoteArgs(BaseModel):
    title: str


class NoteMessage(BaseModel):
    text: str


class Note(BaseModel):
    id: str
    text: str
    sender: str | None = None


def api_registry() -> Registry:
    registry = Registry()

    @registry.entity(
        "note", description="A note.", state={"notes": Note}, args=NoteArgs, inbox=NoteMessage
    )
    async def note(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.state.notes.insert(
                Note(id=message.id, text=message.payload.text, sender=message.sender)
            )

    @registry.entity("echo")
    async def echo(ctx: Context, wake: Wake) -> None:
        """Echoes."""

    return registry


@pytest.fixture
async def client(api_factory: ApiFactory) -> httpx.AsyncClient:
    return await api_factory(api_registry())


def assert_error(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code is not None:
        assert body["error"]["code"] == code, body


async def spawn(client: httpx.AsyncClient, kind: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/v1/entities/{kind}", json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def stream_events(client: httpx.AsyncClient, kind: str, entity_id: str) -> list[Any]:
    response = await client.get(f"/v1/stream/{kind}/{entity_id}/main", params={"offset": "-1"})
    assert response.status_code == 200, response.text
    found: list[Any] = response.json()
    return found


# --- types ------------------------------------------------------------------------------


async def test_types_are_listed_and_described(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/types")
    assert response.status_code == 200
    assert [entry["name"] for entry in response.json()] == ["note", "echo"]
    response = await client.get("/v1/types/note")
    assert response.status_code == 200
    described = response.json()
    assert described["description"] == "A note."
    assert described["args_schema"]["required"] == ["title"]
    assert described["inbox_schema"]["required"] == ["text"]
    assert described["state"]["notes"]["key"] == "id"
    assert (await client.get("/v1/types/echo")).json()["description"] == "Echoes."
    assert_error(await client.get("/v1/types/ghost"), 404, "UNKNOWN_TYPE")
    assert_error(await client.get("/v1/types/Not%20A%20Type"), 404, "UNKNOWN_TYPE")


# --- spawn ------------------------------------------------------------------------------


async def test_spawn_creates_an_entity(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/entities/note",
        json={"id": "n1", "args": {"title": "T"}, "message": {"text": "hi"}, "tags": {"t": "a"}},
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/entities/note/n1"
    body = response.json()
    assert body["url"] == "/note/n1"
    assert body["type"] == "note" and body["id"] == "n1"
    assert body["status"] == "idle"
    assert body["parent"] is None
    assert body["tags"] == {"t": "a"}
    assert body["stream"] == "note/n1/main"
    assert isinstance(body["offset"], str)

    async def handled() -> bool:
        events = await stream_events(client, "note", "n1")
        return any(event["type"] == "state:notes" for event in events)

    await eventually(handled, what="the first message to be handled")
    events = await stream_events(client, "note", "n1")
    assert events[0]["type"] == "entity_created"
    assert events[0]["value"]["args"] == {"title": "T"}


async def test_spawn_generates_an_id_when_none_is_given(client: httpx.AsyncClient) -> None:
    first = await spawn(client, "echo")
    second = await spawn(client, "echo", id=None)
    assert first["id"] and second["id"] and first["id"] != second["id"]
    assert first["url"] == f"/echo/{first['id']}"


async def test_spawn_refuses_bad_input(client: httpx.AsyncClient) -> None:
    post = client.post
    assert_error(await post("/v1/entities/ghost", json={}), 404, "UNKNOWN_TYPE")
    assert_error(await post("/v1/entities/note", json={"args": {}}), 400, "INVALID_ARGUMENTS")
    assert_error(
        await post("/v1/entities/note", json={"args": {"title": 5}}), 400, "INVALID_ARGUMENTS"
    )
    assert_error(
        await post("/v1/entities/note", json={"args": {"title": "t"}, "message": {"x": 1}}),
        400,
        "INVALID_MESSAGE",
    )
    assert_error(await post("/v1/entities/echo", content=b"{not json", headers=JSON), 400)
    assert_error(await post("/v1/entities/echo", content=b"", headers=JSON), 400)
    assert_error(await post("/v1/entities/echo", json=[1, 2]), 400)
    assert_error(await post("/v1/entities/echo", json={"tags": {"a": 1}}), 400)
    assert_error(await post("/v1/entities/echo", json={"tags": ["a"]}), 400)
    assert_error(await post("/v1/entities/echo", json={"id": 17}), 400)
    # None of that created anything.
    assert (await client.get("/v1/entities")).json()["entities"] == []


@pytest.mark.parametrize(
    "entity_id", ["a b", "a/b", "..", ".", "é", "a?b", "a#b", "x" * 129, "a%2Fb", "~x"]
)
async def test_spawn_refuses_ids_with_odd_characters(
    client: httpx.AsyncClient, entity_id: str
) -> None:
    response = await client.post("/v1/entities/echo", json={"id": entity_id})
    assert_error(response, 400)
    assert (await client.get("/v1/entities")).json()["entities"] == []


async def test_spawning_an_existing_id_conflicts(client: httpx.AsyncClient) -> None:
    await spawn(client, "echo", id="same")
    assert_error(await client.post("/v1/entities/echo", json={"id": "same"}), 409, "ENTITY_EXISTS")
    # Same id under another type is another entity.
    await spawn(client, "note", id="same", args={"title": "t"})


# --- get, list, delete ------------------------------------------------------------------


async def test_get_an_entity(client: httpx.AsyncClient) -> None:
    created = await spawn(client, "echo", id="e1", tags={"k": "v"})
    response = await client.get("/v1/entities/echo/e1")
    assert response.status_code == 200
    got = response.json()
    assert {key: got[key] for key in ("url", "type", "id", "parent", "tags", "stream")} == {
        key: created[key] for key in ("url", "type", "id", "parent", "tags", "stream")
    }
    assert_error(await client.get("/v1/entities/echo/nobody"), 404, "UNKNOWN_ENTITY")
    assert_error(await client.get("/v1/entities/ghost/e1"), 404, "UNKNOWN_ENTITY")
    assert_error(await client.get("/v1/entities/Echo/e1"), 400, "INVALID_ADDRESS")
    assert_error(await client.get("/v1/entities/echo/a%20b"), 400, "INVALID_ADDRESS")
    assert_error(await client.get("/v1/entities/echo/%C3%A9"), 400, "INVALID_ADDRESS")


async def test_list_filters_and_pages(client: httpx.AsyncClient) -> None:
    for index in range(5):
        await spawn(client, "echo", id=f"e{index}", tags={"team": "red" if index % 2 else "blue"})
    await spawn(client, "note", id="n1", args={"title": "t"})
    await client.post("/v1/entities/echo/e0/signals", json={"name": "pause"})

    async def listed(**params: Any) -> list[str]:
        response = await client.get("/v1/entities", params=params)
        assert response.status_code == 200, response.text
        return [entity["url"] for entity in response.json()["entities"]]

    assert len(await listed()) == 6
    assert await listed(type="note") == ["/note/n1"]
    assert await listed(tag="team:red") == ["/echo/e1", "/echo/e3"]
    assert await listed(tag="team:green") == []

    async def paused() -> bool:
        return await listed(status="paused") == ["/echo/e0"]

    await eventually(paused)
    assert "/echo/e0" not in await listed(status="idle", type="echo")

    first = (await client.get("/v1/entities", params={"type": "echo", "limit": 2})).json()
    assert [entity["id"] for entity in first["entities"]] == ["e0", "e1"]
    assert first["next"] == "/echo/e1"
    second = (
        await client.get("/v1/entities", params={"type": "echo", "limit": 2, "after": "/echo/e1"})
    ).json()
    assert [entity["id"] for entity in second["entities"]] == ["e2", "e3"]
    last = (
        await client.get("/v1/entities", params={"type": "echo", "limit": 2, "after": "/echo/e3"})
    ).json()
    assert [entity["id"] for entity in last["entities"]] == ["e4"]
    assert last["next"] is None


async def test_list_refuses_bad_filters(client: httpx.AsyncClient) -> None:
    get = client.get
    assert_error(await get("/v1/entities", params={"tag": "no-colon"}), 400, "INVALID_TAG")
    assert_error(await get("/v1/entities", params={"tag": ":value"}), 400, "INVALID_TAG")
    assert_error(await get("/v1/entities", params={"limit": 0}), 400)
    assert_error(await get("/v1/entities", params={"limit": 5000}), 400)
    assert_error(await get("/v1/entities", params={"limit": "many"}), 400)
    assert_error(await get("/v1/entities", params={"after": "not a url"}), 400)


async def test_list_filters_children_by_parent(api_factory: ApiFactory) -> None:
    registry = Registry()

    @registry.entity("boss")
    async def boss(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.spawn("helper", str(message.payload))

    @registry.entity("helper")
    async def helper(ctx: Context, wake: Wake) -> None:
        pass

    client = await api_factory(registry)
    await spawn(client, "boss", id="b", message="h1")
    await client.post("/v1/entities/boss/b/messages", json={"payload": "h2"})

    async def children() -> list[str]:
        response = await client.get("/v1/entities", params={"parent": "/boss/b"})
        found = [entity["url"] for entity in response.json()["entities"]]
        return found if len(found) == 2 else []

    assert await eventually(children) == ["/helper/h1", "/helper/h2"]
    got = (await client.get("/v1/entities/helper/h1")).json()
    assert got["parent"] == "/boss/b"


async def test_delete_an_entity(client: httpx.AsyncClient) -> None:
    await spawn(client, "echo", id="gone")
    response = await client.delete("/v1/entities/echo/gone")
    assert response.status_code == 204
    assert response.content == b""
    assert_error(await client.get("/v1/entities/echo/gone"), 404, "UNKNOWN_ENTITY")
    assert_error(await client.delete("/v1/entities/echo/gone"), 404, "UNKNOWN_ENTITY")
    stream = await client.get("/v1/stream/echo/gone/main", params={"offset": "-1"})
    assert stream.status_code == 404
    assert_error(await client.post("/v1/entities/echo/gone/messages", json={"payload": 1}), 404)
    # The id can be used again.
    await spawn(client, "echo", id="gone")


# --- messages and signals -----------------------------------------------------------------


async def test_send_a_message(client: httpx.AsyncClient) -> None:
    await spawn(client, "note", id="n1", args={"title": "t"})
    response = await client.post(
        "/v1/entities/note/n1/messages", json={"payload": {"text": "hello"}, "from": "ann"}
    )
    assert response.status_code == 202, response.text
    message_id = response.json()["id"]

    async def stored() -> bool:
        events = await stream_events(client, "note", "n1")
        return any(e["type"] == "state:notes" and e["key"] == message_id for e in events)

    await eventually(stored)
    events = await stream_events(client, "note", "n1")
    note = next(e for e in events if e["type"] == "state:notes")
    assert note["value"] == {"id": message_id, "text": "hello", "sender": "ann"}


async def test_send_refuses_bad_input(client: httpx.AsyncClient) -> None:
    await spawn(client, "note", id="n1", args={"title": "t"})
    url = "/v1/entities/note/n1/messages"
    assert_error(await client.post(url, json={"payload": {"nope": 1}}), 400, "INVALID_MESSAGE")
    assert_error(await client.post(url, json={"payload": "text"}), 400, "INVALID_MESSAGE")
    assert_error(await client.post(url, json={}), 400, "INVALID_REQUEST")
    assert_error(await client.post(url, json="just a string"), 400)
    assert_error(await client.post(url, content=b"{", headers=JSON), 400)
    assert_error(await client.post(url, json={"payload": {"text": "x"}, "from": 5}), 400)
    assert_error(
        await client.post("/v1/entities/note/ghost/messages", json={"payload": {"text": "x"}}),
        404,
        "UNKNOWN_ENTITY",
    )
    assert_error(
        await client.post("/v1/entities/note/a%20b/messages", json={"payload": {"text": "x"}}),
        400,
        "INVALID_ADDRESS",
    )


async def test_signal_an_entity(client: httpx.AsyncClient) -> None:
    await spawn(client, "echo", id="e1")
    response = await client.post(
        "/v1/entities/echo/e1/signals", json={"name": "custom", "payload": {"x": 1}}
    )
    assert response.status_code == 202
    signal_id = response.json()["id"]
    events = await stream_events(client, "echo", "e1")
    signal = next(e for e in events if e["type"] == "signal")
    assert signal["key"] == signal_id
    assert signal["value"]["name"] == "custom"
    assert signal["value"]["payload"] == {"x": 1}

    url = "/v1/entities/echo/e1/signals"
    assert_error(await client.post(url, json={"name": ""}), 400)
    assert_error(await client.post(url, json={"name": "x" * 101}), 400)
    assert_error(await client.post(url, json={}), 400)
    assert_error(await client.post(url, content=b"[", headers=JSON), 400)
    assert_error(
        await client.post("/v1/entities/echo/ghost/signals", json={"name": "pause"}),
        404,
        "UNKNOWN_ENTITY",
    )


async def test_a_killed_entity_refuses_messages_and_signals(client: httpx.AsyncClient) -> None:
    await spawn(client, "echo", id="e1")
    response = await client.post("/v1/entities/echo/e1/signals", json={"name": "kill"})
    assert response.status_code == 202

    async def killed() -> bool:
        return (await client.get("/v1/entities/echo/e1")).json()["status"] == "killed"

    await eventually(killed)
    assert_error(
        await client.post("/v1/entities/echo/e1/messages", json={"payload": 1}),
        409,
        "ENTITY_TERMINATED",
    )
    assert_error(
        await client.post("/v1/entities/echo/e1/signals", json={"name": "resume"}),
        409,
        "ENTITY_TERMINATED",
    )
    events = await stream_events(client, "echo", "e1")
    assert [e["value"]["status"] for e in events if e["type"] == "entity_stopped"] == ["killed"]


# --- reading and documentation -------------------------------------------------------------


async def test_an_entity_is_read_live_through_its_stream(client: httpx.AsyncClient) -> None:
    await spawn(client, "note", id="n1", args={"title": "t"})
    head = await client.get("/v1/stream/note/n1/main", params={"offset": "now"})
    assert head.status_code == 200, head.text
    offset = head.headers["stream-next-offset"]

    async def follow() -> list[Any]:
        """Long-poll from ``offset`` until an inbox event arrives."""
        position = offset
        seen: list[Any] = []
        while not any(event["type"] == "inbox" for event in seen):
            response = await client.get(
                "/v1/stream/note/n1/main", params={"offset": position, "live": "long-poll"}
            )
            assert response.status_code in (200, 204), response.text
            if response.status_code == 200:
                seen.extend(response.json())
            position = response.headers["stream-next-offset"]
        return seen

    reader = asyncio.create_task(follow())
    await asyncio.sleep(0.05)
    await client.post("/v1/entities/note/n1/messages", json={"payload": {"text": "live"}})
    found = await asyncio.wait_for(reader, 5)
    inbox = next(event for event in found if event["type"] == "inbox")
    assert inbox["value"]["payload"] == {"text": "live"}


async def test_openapi_documents_every_endpoint(client: httpx.AsyncClient) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    expected = {
        "/v1/types": {"get"},
        "/v1/types/{type_name}": {"get"},
        "/v1/entities": {"get"},
        "/v1/entities/{type_name}": {"post"},
        "/v1/entities/{type_name}/{entity_id}": {"get", "delete"},
        "/v1/entities/{type_name}/{entity_id}/messages": {"post"},
        "/v1/entities/{type_name}/{entity_id}/signals": {"post"},
    }
    for path, methods in expected.items():
        assert path in paths, path
        assert methods <= set(paths[path]), (path, set(paths[path]))
        for method in methods:
            assert paths[path][method].get("summary"), (path, method)
    parameters = {p["name"] for p in paths["/v1/entities"]["get"]["parameters"]}
    assert {"type", "status", "parent", "tag", "after", "limit"} <= parameters
