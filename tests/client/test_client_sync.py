"""The blocking client: the same operations as the asynchronous one, on its own loop thread,
usable from plain code and from inside a running event loop alike."""

from __future__ import annotations

import asyncio
import inspect
import itertools
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from support.client_types import serve
from support.servers import Server, free_port

from wakeful.client import (
    AsyncClient,
    BadRequest,
    Client,
    Conflict,
    Entity,
    NotFound,
    ServerUnreachable,
    Thread,
    Unauthorized,
)

WAIT = 15.0


@pytest.fixture(scope="module")
def server(types_server: Server) -> Server:
    return types_server


def until(probe: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + WAIT
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)
    return found


def test_same_methods_and_docs_as_the_async_client() -> None:
    public = {
        name
        for name, member in inspect.getmembers(AsyncClient)
        if not name.startswith("_") and callable(member) and name != "aclose"
    }
    for name in public:
        method = getattr(Client, name)
        assert method.__doc__ == getattr(AsyncClient, name).__doc__, name
        assert method.__doc__, f"{name} has no docstring"
    for cls in (Client, AsyncClient):
        for name, member in inspect.getmembers(cls, callable):
            if not name.startswith("_"):
                assert member.__doc__, f"{cls.__name__}.{name} has no docstring"


def test_entities(server: Server) -> None:
    with Client(server.url) as client:
        assert client.health()["status"] == "ok"
        assert {item.name for item in client.types()} == {"note", "thread", "slow"}
        note = client.spawn("note", "sync", message="one", tags={"kind": "sync"})
        assert isinstance(note, Entity) and note.url == "/note/sync"
        client.send(note, "two")
        client.signal(note, "poke", {"n": 1})
        until(lambda: len(client.state(note).collection("state:notes")) == 2, "two notes")
        store = client.state(note)
        assert {row["payload"] for row in store.collection("state:notes")} == {"one", "two"}
        assert client.get("/note/sync").status == "idle"
        assert [e.url for e in client.list(type="note", tag="kind:sync")] == ["/note/sync"]
        events = list(itertools.islice(client.observe(note), 3))
        assert [e.type for e in events][:2] == ["entity_created", "tags"]
        client.kill(note)
        until(lambda: client.get(note).status == "killed", "the kill")
        with pytest.raises(Conflict):
            client.send(note, "three")
        client.delete(note)
        with pytest.raises(NotFound):
            client.get(note)
        with pytest.raises(BadRequest):
            client.get("not-a-url")


def test_threads_and_tools(server: Server) -> None:
    with Client(server.url) as client:
        thread = client.create_thread("please delete_file path=old-s.txt", id="sync-thread")
        assert isinstance(thread, Thread)

        def waiting() -> dict[str, Any] | None:
            for message in client.messages(thread):
                for call in message.get("tool_calls", []):
                    if call["status"] == "awaiting_approval":
                        found: dict[str, Any] = call
                        return found
            return None

        call = until(waiting, "a call awaiting approval")
        assert client.tool_call(thread, call["id"])["name"] == "delete_file"
        client.approve(thread, call["id"])
        until(lambda: client.thread(thread).status == "completed", "the run to complete")
        assert "sync-thread" in [t.id for t in client.threads(page_size=1)]

        asking = client.create_thread("ask_human question=ok?", id="sync-ask")
        until(lambda: client.thread(asking).status == "awaiting_tool_results", "the wait")
        ask = client.messages(asking)[-1]["tool_calls"][0]
        client.tool_result(asking, ask["id"], "fine")
        until(lambda: client.thread(asking).status == "completed", "the answer")

        failing = client.create_thread("ask_human question=no?", id="sync-fail")
        until(lambda: client.thread(failing).status == "awaiting_tool_results", "the wait")
        client.stop(failing)
        until(lambda: client.thread(failing).status == "stopped", "the stop")
        client.resume(failing)
        until(lambda: client.thread(failing).status == "completed", "the resume")
        client.send_message(failing, "ask_human question=again?")
        until(lambda: client.thread(failing).status == "awaiting_tool_results", "the new wait")
        calls = [c for m in client.messages(failing) for c in m.get("tool_calls", [])]
        client.tool_error(failing, calls[-1]["id"], "no")
        client.send_message(failing, "never mind")
        denied = client.create_thread("please delete_file path=old-t.txt", id="sync-deny")
        call = until(
            lambda: next(
                (
                    c
                    for m in client.messages(denied)
                    for c in m.get("tool_calls", [])
                    if c["status"] == "awaiting_approval"
                ),
                None,
            ),
            "a call awaiting approval",
        )
        client.deny(denied, call["id"], "no")
        client.delete_thread(denied)
        with pytest.raises(NotFound):
            client.thread(denied)


def test_errors_and_closing(server: Server, fresh_database: Callable[[], str]) -> None:
    with Client(f"127.0.0.1:{free_port()}") as nowhere, pytest.raises(ServerUnreachable):
        nowhere.types()
    guarded = serve(fresh_database(), "--token", "t0ken")
    try:
        with Client(guarded.url, token="nope") as wrong, pytest.raises(Unauthorized):
            wrong.spawn("note")
        with Client(guarded.url, token="t0ken") as right:
            assert right.spawn("note", "ok").id == "ok"
    finally:
        guarded.stop()

    before = threading.active_count()
    client = Client(server.url)
    client.types()
    client.close()
    client.close()  # closing twice is harmless
    assert threading.active_count() == before


async def test_usable_inside_a_running_loop(server: Server) -> None:
    assert asyncio.get_running_loop().is_running()
    with Client(server.url) as client:
        assert client.health()["status"] == "ok"
