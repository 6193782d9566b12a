"""Entity types through the client, against a real server: listing local and remote types,
registering, describing and deleting remote ones, and a typed error carrying the server's
message for every refusal. No webhook service runs: registering needs none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.servers import Server, free_port

from wakeful.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    EntityType,
    NotFound,
    WakefulError,
)

ARGS = {"type": "object", "properties": {"owner": {"type": "string"}}}
INBOX = {"type": "string"}


@pytest.fixture(scope="module")
def server(types_server: Server) -> Server:
    return types_server


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.url) as connected:
        yield connected


def webhook() -> str:
    """A loopback URL nobody listens on: enough to register a type."""
    return f"http://127.0.0.1:{free_port()}/wake"


async def test_register_list_describe_and_delete(client: AsyncClient) -> None:
    url = webhook()
    registered = await client.register_type(
        "echo",
        url,
        description="Echoes every message",
        args_schema=ARGS,
        inbox_schema=INBOX,
        lease_seconds=5,
        request_timeout_seconds=2,
    )
    assert registered == EntityType(
        name="echo",
        kind="remote",
        description="Echoes every message",
        state={},
        args_schema=ARGS,
        inbox_schema=INBOX,
        webhook_url=url,
        lease_seconds=5.0,
        request_timeout_seconds=2.0,
    )

    listed = await client.types()
    assert [item.name for item in listed] == ["note", "thread", "slow", "echo"]
    assert {item.name: item.kind for item in listed}["note"] == "local"
    assert listed[-1] == registered
    assert await client.get_type("echo") == registered

    # The same body again changes nothing; a different one updates the type.
    assert await client.register_type(
        "echo", url, description="Echoes every message", args_schema=ARGS,
        inbox_schema=INBOX, lease_seconds=5, request_timeout_seconds=2,
    ) == registered  # fmt: skip
    moved = webhook()
    updated = await client.register_type("echo", moved)
    assert (updated.webhook_url, updated.description, updated.args_schema) == (moved, "", None)
    assert updated.lease_seconds == 30.0  # the server's default
    assert updated.request_timeout_seconds is None  # the lease
    assert (await client.get_type("echo")).webhook_url == moved

    await client.delete_type("echo")
    assert "echo" not in {item.name for item in await client.types()}
    with pytest.raises(NotFound) as gone:
        await client.get_type("echo")
    assert gone.value.code == "UNKNOWN_TYPE" and "'echo'" in gone.value.message
    with pytest.raises(NotFound):
        await client.delete_type("echo")


@pytest.mark.parametrize(
    ("change", "code", "words"),
    [
        ({"name": "Bad Name"}, "INVALID_ADDRESS", "lowercase letters"),
        ({"name": ""}, "INVALID_ADDRESS", "lowercase letters"),
        ({"webhook_url": "http://example.com/wake"}, "WEBHOOK_URL_REJECTED", "use https"),
        ({"webhook_url": "not a url"}, "WEBHOOK_URL_REJECTED", "absolute http(s) URL"),
        ({"args_schema": {"type": "nope"}}, "INVALID_SCHEMA", "invalid args schema"),
        ({"inbox_schema": {"minLength": "x"}}, "INVALID_SCHEMA", "invalid inbox schema"),
        ({"lease_seconds": 0}, "INVALID_REQUEST", "lease_seconds"),
    ],
)
async def test_bad_registrations_are_refused(
    client: AsyncClient, change: dict[str, Any], code: str, words: str
) -> None:
    fields: dict[str, Any] = {"name": "refused", "webhook_url": webhook(), **change}
    name, url = fields.pop("name"), fields.pop("webhook_url")
    with pytest.raises(BadRequest) as refused:
        await client.register_type(name, url, **fields)
    assert (refused.value.status, refused.value.code) == (400, code)
    assert words in refused.value.message
    assert "refused" not in {item.name for item in await client.types()}


async def test_bad_names_in_paths_are_refused_before_sending(client: AsyncClient) -> None:
    for name in ("a/b", "Bad", "", "../note"):
        for call in (client.get_type, client.delete_type):
            with pytest.raises(BadRequest) as refused:
                await call(name)
            assert refused.value.code == "INVALID_ADDRESS"
            assert "lowercase letters" in refused.value.message


async def test_local_types_cannot_be_changed(client: AsyncClient) -> None:
    note = await client.get_type("note")
    assert note.kind == "local" and note.webhook_url is None and note.lease_seconds is None
    assert set(note.state) == {"notes", "signals"}
    with pytest.raises(Conflict) as refused:
        await client.delete_type("note")
    assert refused.value.code == "LOCAL_TYPE" and "defined in Python" in refused.value.message
    with pytest.raises(Conflict) as refused:
        await client.register_type("note", webhook())
    assert refused.value.code == "LOCAL_TYPE"
    assert await client.get_type("note") == note


async def test_unknown_types(client: AsyncClient) -> None:
    with pytest.raises(NotFound) as missing:
        await client.get_type("nope")
    assert (missing.value.status, missing.value.code) == (404, "UNKNOWN_TYPE")
    with pytest.raises(NotFound) as missing:
        await client.delete_type("nope")
    assert "no remote entity type 'nope'" in missing.value.message


async def test_a_type_in_use_is_not_deleted(client: AsyncClient) -> None:
    await client.register_type("busy", webhook())
    entity = await client.spawn("busy", "b1")
    with pytest.raises(Conflict) as refused:
        await client.delete_type("busy")
    assert refused.value.code == "TYPE_IN_USE" and "/busy/b1" in refused.value.message
    await client.delete(entity)
    await client.delete_type("busy")
    with pytest.raises(NotFound):
        await client.get_type("busy")


def test_the_blocking_client(server: Server) -> None:
    url = webhook()
    with Client(server.url) as client:
        registered = client.register_type("sync-echo", url, inbox_schema=INBOX)
        assert isinstance(registered, EntityType) and registered.kind == "remote"
        assert client.get_type("sync-echo").webhook_url == url
        assert "sync-echo" in {item.name for item in client.types()}
        with pytest.raises(Conflict):
            client.delete_type("thread")
        with pytest.raises(BadRequest):
            client.register_type("sync-echo", "ftp://127.0.0.1/")
        client.delete_type("sync-echo")
        with pytest.raises(NotFound):
            client.delete_type("sync-echo")
        assert all(issubclass(kind, WakefulError) for kind in (NotFound, Conflict, BadRequest))
