"""Remote types: entity types registered over HTTP whose handler is an outside service.

Everything here is real: ``wakeful serve`` subprocesses on SQLite and PostgreSQL, and a
webhook service on 127.0.0.1 that verifies signatures, reads streams, appends replies and
acks through its callback (see :mod:`entities.webhook_service`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.servers import Server
from support.waiting import eventually

from .webhook_service import WebhookService

TESTS = Path(__file__).resolve().parents[1]
REGISTRY = "entities.remote_parent_types:registry"
WITHIN = 15.0

ARGS_SCHEMA = {
    "type": "object",
    "properties": {"owner": {"type": "string"}},
    "required": ["owner"],
}
INBOX_SCHEMA = {
    "type": "object",
    "properties": {"text": {"type": "string"}},
    "required": ["text"],
    "additionalProperties": False,
}


@pytest.fixture(autouse=True)
def importable_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the server subprocesses import the Python types beside the remote ones."""
    paths = [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
async def service() -> AsyncIterator[WebhookService]:
    async with WebhookService().running() as running:
        yield running


@pytest.fixture
def server(server_factory: Callable[..., Server]) -> Server:
    return server_factory(REGISTRY)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        yield http


def remote_type(service: WebhookService, name: str = "echo", **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "description": "Echoes, elsewhere.",
        "webhook": {"url": service.url},
        **extra,
    }


def assert_error(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    message: str = error["message"]
    return message


async def events_of(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    response = await client.get(f"/v1/stream/{path}", params={"offset": "-1"})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


async def replies(client: httpx.AsyncClient, path: str) -> list[str]:
    events = await events_of(client, path)
    return [event["value"]["text"] for event in events if event["type"] == "state:replies"]


async def spawn(client: httpx.AsyncClient, kind: str, **body: Any) -> dict[str, Any]:
    response = await client.post(f"/v1/entities/{kind}", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# --- the whole round trip -----------------------------------------------------------------


async def test_a_remote_type_is_registered_listed_spawned_and_answers(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    body = remote_type(service, args_schema=ARGS_SCHEMA, inbox_schema=INBOX_SCHEMA)
    response = await client.post("/v1/types", json=body)
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/types/echo"
    described = response.json()
    assert described["kind"] == "remote"
    assert described["webhook"] == {"url": service.url}
    assert described["args_schema"] == ARGS_SCHEMA
    assert described["inbox_schema"] == INBOX_SCHEMA
    assert (await client.get("/v1/types/echo")).json() == described
    listed = {entry["name"]: entry for entry in (await client.get("/v1/types")).json()}
    assert {name: entry["kind"] for name, entry in listed.items()} == {
        "manager": "local",
        "echo": "remote",
    }
    assert listed["manager"]["webhook"] is None

    entity = await spawn(client, "echo", id="e1", args={"owner": "ann"})
    assert entity["url"] == "/echo/e1" and entity["status"] == "idle"
    subscription = (await client.get("/v1/stream/__ds/subscriptions/e~echo~e1")).json()
    assert subscription["type"] == "webhook"
    assert subscription["webhook"]["url"] == service.url

    async def created() -> bool:
        return any(event["type"] == "entity_created" for event in service.seen("echo/e1/main"))

    await eventually(created, within=WITHIN, what="the first wake")
    response = await client.post("/v1/entities/echo/e1/messages", json={"payload": {"text": "hi"}})
    assert response.status_code == 202, response.text

    async def answered() -> list[str]:
        return await replies(client, "echo/e1/main")

    assert await eventually(answered, within=WITHIN) == ["echo: {'text': 'hi'}"]
    await eventually(lambda: service.has_run("echo/e1/main"), within=WITHIN, what="the ack")
    created_event = next(e for e in service.seen("echo/e1/main") if e["type"] == "entity_created")
    assert created_event["value"]["args"] == {"owner": "ann"}
    assert service.handled and all(wake.verified for wake in service.handled)
    assert all(wake.callback_status == 200 for wake in service.handled)

    async def settled() -> bool:
        # The service's own reply wakes it once more; after that, everything is acked.
        view = (await client.get("/v1/stream/__ds/subscriptions/e~echo~e1")).json()
        tail = (await client.get("/v1/entities/echo/e1")).json()["offset"]
        return bool(view["streams"][0]["acked_offset"] == tail)

    await eventually(settled, within=WITHIN, what="every event acked")
    assert not service.failures


async def test_a_python_parent_spawns_a_remote_child_and_hears_back(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    assert (await client.post("/v1/types", json=remote_type(service))).status_code == 201
    await spawn(client, "manager", id="m1")
    task = {"type": "echo", "id": "c1", "text": "do it"}
    response = await client.post("/v1/entities/manager/m1/messages", json={"payload": task})
    assert response.status_code == 202, response.text

    async def reported() -> list[dict[str, Any]]:
        events = await events_of(client, "manager/m1/main")
        return [event["value"] for event in events if event["type"] == "state:results"]

    results = await eventually(reported, within=WITHIN, what="the child's report")
    assert results[-1]["id"] == "/echo/c1"
    assert results[-1]["status"] == "completed"
    assert results[-1]["response"]["text"] == "echo: {'text': 'do it'}"
    child = (await client.get("/v1/entities/echo/c1")).json()
    assert child["parent"] == "/manager/m1"
    assert not service.failures


# --- registering, updating, removing --------------------------------------------------------


async def test_registering_again_is_idempotent_and_a_changed_body_updates(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    body = remote_type(service)
    first = await client.post("/v1/types", json=body)
    assert first.status_code == 201, first.text
    again = await client.post("/v1/types", json=body)
    assert again.status_code == 200, again.text
    assert again.json() == first.json()

    changed = {**body, "description": "Echoes, strictly.", "inbox_schema": INBOX_SCHEMA}
    updated = await client.post("/v1/types", json=changed)
    assert updated.status_code == 200, updated.text
    assert updated.json()["description"] == "Echoes, strictly."
    assert (await client.get("/v1/types/echo")).json()["inbox_schema"] == INBOX_SCHEMA

    # Stored as State Protocol changes; the repeat wrote nothing.
    stored = await events_of(client, "_wakeful/types")
    assert [(e["type"], e["key"], e["headers"]["operation"]) for e in stored] == [
        ("type", "echo", "insert"),
        ("type", "echo", "update"),
    ]
    assert stored[1]["old_value"]["inbox_schema"] is None

    await spawn(client, "echo", id="e1")
    response = await client.post("/v1/entities/echo/e1/messages", json={"payload": "plain"})
    assert_error(response, 400, "INVALID_MESSAGE")


async def test_a_type_registered_through_one_server_is_used_through_another(
    server_factory: Callable[..., Server], service: WebhookService
) -> None:
    first = server_factory(REGISTRY)
    second = server_factory(REGISTRY, database=first.database)
    async with (
        httpx.AsyncClient(base_url=first.url, timeout=10) as one,
        httpx.AsyncClient(base_url=second.url, timeout=10) as two,
    ):
        assert (await one.post("/v1/types", json=remote_type(service))).status_code == 201
        # No waiting: a miss on the second server catches up with the types stream.
        await spawn(two, "echo", id="e1")
        assert (await two.get("/v1/types/echo")).json()["kind"] == "remote"
        sent = await two.post("/v1/entities/echo/e1/messages", json={"payload": "across"})
        assert sent.status_code == 202, sent.text

        async def answered() -> list[str]:
            return await replies(one, "echo/e1/main")

        assert await eventually(answered, within=WITHIN) == ["echo: across"]

        assert (await two.delete("/v1/entities/echo/e1")).status_code == 204
        assert (await two.delete("/v1/types/echo")).status_code == 204

        async def gone() -> bool:
            return (await one.get("/v1/types/echo")).status_code == 404

        await eventually(gone, within=WITHIN, what="the first server to see the removal")
        assert_error(await one.post("/v1/entities/echo", json={}), 404, "UNKNOWN_TYPE")
    assert not service.failures


async def test_a_type_with_entities_cannot_be_removed(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    assert (await client.post("/v1/types", json=remote_type(service))).status_code == 201
    await spawn(client, "echo", id="e1")
    message = assert_error(await client.delete("/v1/types/echo"), 409, "TYPE_IN_USE")
    assert "/echo/e1" in message
    assert (await client.get("/v1/types/echo")).status_code == 200

    assert (await client.delete("/v1/entities/echo/e1")).status_code == 204
    assert (await client.delete("/v1/types/echo")).status_code == 204
    assert_error(await client.get("/v1/types/echo"), 404, "UNKNOWN_TYPE")
    assert [entry["name"] for entry in (await client.get("/v1/types")).json()] == ["manager"]
    assert_error(await client.post("/v1/entities/echo", json={}), 404, "UNKNOWN_TYPE")
    assert_error(await client.delete("/v1/types/echo"), 404, "UNKNOWN_TYPE")
    # The name is free again.
    assert (await client.post("/v1/types", json=remote_type(service))).status_code == 201


# --- bad input --------------------------------------------------------------------------------


async def test_bad_registrations_get_clear_errors_and_store_nothing(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    url = service.url
    cases: list[tuple[dict[str, Any], int, str]] = [
        ({"name": "Bad Name", "webhook": {"url": url}}, 400, "INVALID_ADDRESS"),
        ({"name": "_wakeful", "webhook": {"url": url}}, 400, "INVALID_ADDRESS"),
        ({"name": "echo"}, 400, "INVALID_REQUEST"),
        ({"name": "echo", "webhook": {}}, 400, "INVALID_REQUEST"),
        ({"name": "echo", "webhook": {"url": "not a url"}}, 400, "WEBHOOK_URL_REJECTED"),
        ({"name": "echo", "webhook": {"url": "ftp://127.0.0.1/w"}}, 400, "WEBHOOK_URL_REJECTED"),
        ({"name": "echo", "webhook": {"url": "http://10.1.2.3/w"}}, 400, "WEBHOOK_URL_REJECTED"),
        ({"name": "echo", "webhook": {"url": "http://example.com/"}}, 400, "WEBHOOK_URL_REJECTED"),
        (remote_type(service, args_schema={"type": "strin"}), 400, "INVALID_SCHEMA"),
        (remote_type(service, inbox_schema={"minLength": -1}), 400, "INVALID_SCHEMA"),
        (remote_type(service, args_schema="string"), 400, "INVALID_REQUEST"),
        (remote_type(service, lease_seconds=0), 400, "INVALID_REQUEST"),
        (remote_type(service, surprise=True), 400, "INVALID_REQUEST"),
        (remote_type(service, "manager"), 409, "LOCAL_TYPE"),
    ]
    for body, status, code in cases:
        assert_error(await client.post("/v1/types", json=body), status, code)
    message = assert_error(
        await client.post("/v1/types", json=remote_type(service, args_schema={"type": "strin"})),
        400,
        "INVALID_SCHEMA",
    )
    assert "args schema" in message and "type" in message
    headers = {"Content-Type": "application/json"}
    assert_error(await client.post("/v1/types", content=b"{", headers=headers), 400, "INVALID_JSON")
    assert_error(await client.post("/v1/types", json=[1]), 400, "INVALID_REQUEST")

    assert [entry["name"] for entry in (await client.get("/v1/types")).json()] == ["manager"]
    assert await events_of(client, "_wakeful/types") == []
    assert_error(await client.delete("/v1/types/manager"), 409, "LOCAL_TYPE")
    assert_error(await client.delete("/v1/types/ghost"), 404, "UNKNOWN_TYPE")
    assert_error(await client.get("/v1/types/ghost"), 404, "UNKNOWN_TYPE")
    assert_error(await client.post("/v1/entities/ghost", json={}), 404, "UNKNOWN_TYPE")


async def test_args_and_messages_must_fit_the_schemas(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    body = remote_type(service, args_schema=ARGS_SCHEMA, inbox_schema=INBOX_SCHEMA)
    assert (await client.post("/v1/types", json=body)).status_code == 201

    message = assert_error(
        await client.post("/v1/entities/echo", json={"id": "e1"}), 400, "INVALID_ARGUMENTS"
    )
    assert "owner" in message
    response = await client.post("/v1/entities/echo", json={"id": "e1", "args": {"owner": 5}})
    message = assert_error(response, 400, "INVALID_ARGUMENTS")
    assert "owner" in message and "string" in message
    response = await client.post(
        "/v1/entities/echo", json={"id": "e1", "args": {"owner": "ann"}, "message": {"txt": "x"}}
    )
    assert_error(response, 400, "INVALID_MESSAGE")
    assert_error(await client.get("/v1/entities/echo/e1"), 404, "UNKNOWN_ENTITY")

    await spawn(client, "echo", id="e1", args={"owner": "ann"}, message={"text": "first"})
    url = "/v1/entities/echo/e1/messages"
    message = assert_error(
        await client.post(url, json={"payload": {"text": 1}}), 400, "INVALID_MESSAGE"
    )
    assert "text" in message
    assert_error(
        await client.post(url, json={"payload": {"text": "x", "more": 1}}), 400, "INVALID_MESSAGE"
    )
    assert (await client.post(url, json={"payload": {"text": "fits"}})).status_code == 202

    async def answered() -> list[str]:
        return await replies(client, "echo/e1/main")

    found = await eventually(lambda: _at_least(answered, 2), within=WITHIN)
    assert found == ["echo: {'text': 'first'}", "echo: {'text': 'fits'}"]


async def _at_least(probe: Callable[[], Any], count: int) -> Any:
    found = await probe()
    return found if len(found) >= count else None


async def test_hand_written_garbage_on_the_types_stream_is_skipped(
    client: httpx.AsyncClient, service: WebhookService
) -> None:
    evil = {"name": "evil", "webhook": {"url": "http://10.0.0.1/"}}
    fine = {"name": "fine", "webhook": {"url": service.url}}
    garbage = [
        {"type": "type", "key": "evil", "value": evil, "headers": {"operation": "insert"}},
        {"type": "type", "key": "other", "value": fine, "headers": {"operation": "insert"}},
        {"type": "type", "key": "fine", "value": fine, "headers": {"operation": "insert"}},
        {"type": "type", "key": "broken", "value": 3, "headers": {"operation": "insert"}},
        "not an event",
    ]
    response = await client.post("/v1/stream/_wakeful/types", json=garbage)
    assert response.status_code in (200, 204), response.text
    names = [entry["name"] for entry in (await client.get("/v1/types")).json()]
    assert names == ["manager", "fine"]
    assert_error(await client.get("/v1/types/evil"), 404, "UNKNOWN_TYPE")
    assert (await client.post("/v1/types", json=remote_type(service))).status_code == 201


async def test_openapi_documents_the_type_endpoints(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    paths = document["paths"]
    assert {"get", "post"} <= set(paths["/v1/types"])
    assert {"get", "delete"} <= set(paths["/v1/types/{type_name}"])
    body = paths["/v1/types"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    spec = document["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]
    assert {"name", "webhook"} <= set(spec["required"])
    assert {"args_schema", "inbox_schema", "lease_seconds"} <= set(spec["properties"])
    for method in ("get", "post"):
        assert paths["/v1/types"][method]["summary"]


# --- one delivery at a time -----------------------------------------------------------------
# A webhook wake whose handler outlasts its request timeout (request-bound) or its lease
# (ack-immediate) is sent again under a new generation, and the first run, still going,
# can no longer append or ack: its reply lands once. (A 13 s handler behind a 10 s timeout
# once ran three times and replied twice; a short per-type timeout keeps this fast.)

SLOW = 4.0  # the first run's extra time: longer than the timeout and the lease below


@pytest.mark.parametrize("request_bound", [True, False], ids=["request-bound", "ack-immediate"])
async def test_a_slow_wake_is_sent_again_and_its_first_run_fenced(
    client: httpx.AsyncClient, request_bound: bool
) -> None:
    service = WebhookService(request_bound=request_bound, slow_first=SLOW)
    # Request-bound, the request times out; acked later, the lease runs out.
    limit = {"request_timeout_seconds": 1} if request_bound else {"lease_seconds": 1}
    async with service.running():
        registered = await client.post("/v1/types", json=remote_type(service, **limit))
        assert registered.status_code == 201, registered.text
        described = registered.json()
        assert described["request_timeout_seconds"] == (1 if request_bound else None)
        await spawn(client, "echo", id="e1", message="hi")

        async def answered() -> list[str]:
            return await replies(client, "echo/e1/main")

        assert await eventually(answered, within=WITHIN) == ["echo: hi"]

        # The first run finishes after the second and is refused.
        generations = await first_run_fenced(client, service)
        assert len(set(generations)) == 2, generations  # each under its own generation


async def first_run_fenced(client: httpx.AsyncClient, service: WebhookService) -> list[int]:
    """Once the first of two runs of one wake has finished after the second: it was
    refused (its append, and its ack when it acks itself), the reply landed once. The
    generations of the two runs, in the order they finished."""
    expected = [("append", 403)] if service.request_bound else [("append", 403), ("ack", 409)]

    async def fenced() -> bool:
        return service.refused == expected

    await eventually(fenced, within=WITHIN, what=f"the first run to be refused {expected}")
    # A run is recorded after its refusals: wait for both runs' records.
    await eventually(lambda: service.has_run("echo/e1/main", 2), within=WITHIN, what="2 runs")
    assert await replies(client, "echo/e1/main") == ["echo: hi"]
    assert service.runs("echo/e1/main") == 2, service.handled
    assert not service.failures
    return [
        wake.generation
        for wake in service.handled
        if any(event.get("type") == "inbox" for event in wake.events)
    ]


@pytest.mark.parametrize("request_bound", [True, False], ids=["request-bound", "ack-immediate"])
async def test_a_server_killed_mid_delivery_sends_the_wake_again_and_fences_the_first(
    server: Server, client: httpx.AsyncClient, request_bound: bool
) -> None:
    """``kill -9`` while the service works on a wake (its request still open, when
    request-bound); restarted on the same database, the server sends the wake again
    under a new generation once the lease runs out. The first run, let go only after
    the second has answered, is refused (append, and its ack when it acks itself), and
    the message is answered once."""
    service = WebhookService(request_bound=request_bound, hold_first=True)
    async with service.running():
        registered = await client.post("/v1/types", json=remote_type(service, lease_seconds=1))
        assert registered.status_code == 201, registered.text
        await spawn(client, "echo", id="e1", message="hi")
        await asyncio.wait_for(service.holding.wait(), WITHIN)

        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)

        async def answered() -> list[str]:
            return await replies(client, "echo/e1/main")

        assert await eventually(answered, within=WITHIN) == ["echo: hi"]
        await eventually(lambda: service.has_run("echo/e1/main"), within=WITHIN, what="run 2")
        service.release.set()
        generations = await first_run_fenced(client, service)
        # The run sent again finished first, under a newer generation than the held one.
        assert generations[0] > generations[1], generations
        assert "Traceback" not in server.output(), server.output()[-3000:]
