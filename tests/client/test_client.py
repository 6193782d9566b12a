"""The asynchronous client against a real ``wakeful serve`` subprocess: every method, the
typed errors, and observing a stream live (offsets, caught-up marks, live text)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from support.client_types import SLOW_TEXT, serve, stream_messages
from support.servers import Server, free_port
from support.waiting import eventually

from wakeful.client import (
    AsyncClient,
    BadRequest,
    Conflict,
    Entity,
    Event,
    InvalidURL,
    NotFound,
    ServerUnreachable,
    Thread,
    Unauthorized,
    WakefulError,
)

WAIT = 15.0


@pytest.fixture(scope="module")
def server(types_server: Server) -> Server:
    return types_server


@pytest.fixture
async def client(server: Server) -> AsyncIterator[AsyncClient]:
    async with AsyncClient(server.url) as connected:
        yield connected


async def collect(
    events: AsyncIterator[Event], until: Callable[[list[Event]], bool]
) -> list[Event]:
    seen: list[Event] = []

    async def run() -> None:
        async for event in events:
            seen.append(event)
            if until(seen):
                return

    async with contextlib.aclosing(events):
        await asyncio.wait_for(run(), WAIT)
    return seen


def rows(store_owner: Any, collection: str) -> dict[str, Any]:
    found: dict[str, Any] = store_owner.collection(collection).snapshot()
    return found


async def thread_status(client: AsyncClient, thread: Thread, *statuses: str) -> Thread:
    async def probe() -> Thread | None:
        current = await client.thread(thread)
        return current if current.status in statuses else None

    return await eventually(probe, within=WAIT, what=f"thread {thread.id} to be {statuses}")


def call_with(messages: list[dict[str, Any]], status: str) -> dict[str, Any] | None:
    for message in messages:
        for call in message.get("tool_calls", []):
            if call["status"] == status:
                found: dict[str, Any] = call
                return found
    return None


async def waiting_call(client: AsyncClient, thread: Thread, status: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        return call_with(await client.messages(thread), status)

    return await eventually(probe, within=WAIT, what=f"a tool call {status}")


# -- server and entities -------------------------------------------------------------------


async def test_health_and_types(client: AsyncClient) -> None:
    assert (await client.health())["status"] == "ok"
    types = {item.name: item for item in await client.types()}
    assert set(types) == {"note", "thread", "slow"}
    assert types["note"].kind == "local" and types["note"].webhook_url is None
    assert set(types["note"].state) == {"notes", "signals"}
    assert types["note"].args_schema is not None
    assert "title" in types["note"].args_schema["properties"]


async def test_spawn_send_signal_and_state(client: AsyncClient) -> None:
    note = await client.spawn(
        "note", "first", args={"title": "groceries"}, message="milk", tags={"team": "a"}
    )
    assert isinstance(note, Entity)
    assert (note.url, note.type, note.id, note.status) == ("/note/first", "note", "first", "idle")
    assert note.tags == {"team": "a"} and note.parent is None
    assert note.stream == "note/first/main"
    assert (await client.spawn("note")).id  # a generated id

    message_id = await client.send(note, {"item": "eggs"}, sender="alice")
    signal_id = await client.signal("/note/first", "remind", {"at": "noon"})
    assert message_id and signal_id

    async def handled() -> Any:
        store = await client.state("note/first")
        ready = len(rows(store, "state:notes")) == 2 and rows(store, "state:signals")
        return store if ready else None

    store = await eventually(handled, within=WAIT, what="the note to handle its inputs")
    notes = rows(store, "state:notes")
    assert notes[message_id] == {"id": message_id, "payload": {"item": "eggs"}, "sender": "alice"}
    assert sorted(str(n["payload"]) for n in notes.values()) == ["milk", "{'item': 'eggs'}"]
    assert rows(store, "state:signals")[signal_id]["payload"] == {"at": "noon"}
    assert rows(store, "entity_created")["entity"]["args"] == {"title": "groceries"}
    assert store.position > 0

    current = await client.get(note)
    assert current.offset > note.offset and current.status == "idle"


async def test_list_filters_and_pages(client: AsyncClient) -> None:
    spawned = [await client.spawn("note", f"page-{i}", tags={"batch": "pages"}) for i in range(5)]
    found = [e async for e in client.list(type="note", tag=("batch", "pages"), page_size=2)]
    assert [e.url for e in found] == [e.url for e in spawned]
    assert [e.url async for e in client.list(tag="batch:pages", status="idle")] == [
        e.url for e in spawned
    ]
    assert [e async for e in client.list(parent="/note/page-0")] == []
    everything = [e.url async for e in client.list(page_size=3)]
    assert {e.url for e in spawned} <= set(everything)
    assert len(everything) == len(set(everything))


async def test_kill_and_delete(client: AsyncClient) -> None:
    note = await client.spawn("note", "doomed")
    assert await client.kill(note)

    async def killed() -> bool:
        return (await client.get(note)).status == "killed"

    await eventually(killed, within=WAIT, what="the kill")
    assert [e.url async for e in client.list(type="note", status="killed")] == ["/note/doomed"]
    with pytest.raises(Conflict) as refused:
        await client.send(note, "too late")
    assert refused.value.status == 409 and "killed" in refused.value.message

    await client.delete(note)
    with pytest.raises(NotFound) as gone:
        await client.get(note)
    assert gone.value.code == "UNKNOWN_ENTITY"
    with pytest.raises(NotFound):
        await client.delete(note)
    with pytest.raises(NotFound):
        await client.state(note)


async def test_typed_errors(client: AsyncClient, server: Server) -> None:
    with pytest.raises(NotFound) as unknown_type:
        await client.spawn("nope")
    assert (unknown_type.value.status, unknown_type.value.code) == (404, "UNKNOWN_TYPE")
    await client.spawn("note", "taken")
    with pytest.raises(Conflict) as taken:
        await client.spawn("note", "taken")
    assert taken.value.code == "ENTITY_EXISTS"
    with pytest.raises(BadRequest) as invalid:
        await client.spawn("note", args={"title": ["not", "a", "string"]})
    assert invalid.value.status == 400 and "title" in invalid.value.message
    for bad in ("nope", "/a/b/c", "/Note/x", "/note/a b"):
        with pytest.raises(BadRequest) as address:
            await client.send(bad, "x")
        assert address.value.code == "INVALID_ADDRESS"
    with pytest.raises(NotFound):
        await client.signal("/note/missing", "ping")
    with pytest.raises(BadRequest):
        await client.signal("/note/taken", "")
    with pytest.raises(NotFound):
        await client.thread("missing")
    with pytest.raises(NotFound):
        await client.tool_result("/note/taken", "no-such-call", 1)
    assert all(issubclass(kind, WakefulError) for kind in (NotFound, Conflict, BadRequest))


async def test_server_down_and_wrong_urls(server: Server) -> None:
    async with AsyncClient(f"127.0.0.1:{free_port()}") as nowhere:
        with pytest.raises(ServerUnreachable) as down:
            await nowhere.types()
    assert isinstance(down.value, ConnectionError)
    assert down.value.status is None and "cannot reach" in down.value.message
    for bad in ("ftp://example.com", "http://", ""):
        with pytest.raises(InvalidURL):
            AsyncClient(bad)
    async with AsyncClient(f"{server.url}/not-the-base") as wrong_path:
        with pytest.raises(NotFound) as wrong:
            await wrong_path.types()
    assert "Wakeful server" in wrong.value.message


async def test_token(fresh_database: Callable[[], str]) -> None:
    guarded = serve(fresh_database(), "--token", "s3cret")
    try:
        for token in (None, "wrong"):
            async with AsyncClient(guarded.url, token) as client:
                with pytest.raises(Unauthorized) as refused:
                    await client.spawn("note")
                assert (refused.value.status, refused.value.code) == (401, "UNAUTHORIZED")
                with pytest.raises(Unauthorized):
                    await collect(client.observe("/note/x"), lambda seen: True)
        async with AsyncClient(guarded.url, "s3cret") as client:
            note = await client.spawn("note", "guarded", message="hi")
            events = await collect(client.observe(note), lambda seen: seen[-1].caught_up)
            assert events[0].type == "entity_created"
            assert (await client.state(note)).collection("inbox")
    finally:
        guarded.stop()


# -- observing -----------------------------------------------------------------------------


async def test_observe_offsets_resume_exactly(client: AsyncClient, server: Server) -> None:
    note = await client.spawn("note", "watched", message="one")
    # Payloads that a naive split of the JSON array, or counting characters instead of
    # bytes, would get wrong.
    for payload in ('two, "quoted" ]} [{', {"k": ["\\", '"', ","]}, "fünf ✓ 𝄞"):
        await client.send(note, payload)

    def handled(seen: list[Event]) -> bool:
        return sum(event.type == "state:notes" for event in seen) == 4

    events = await collect(client.observe(note), handled)
    messages = stream_messages(server, note.url)
    assert [event.message for event in events] == messages[: len(events)]
    assert events[0].type == "entity_created" and events[0].operation == "insert"
    offsets = [event.offset for event in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    # From any event's offset, observing again yields exactly the events after it.
    for index in (0, 3, len(events) - 2):
        remaining = len(events) - index - 1
        rest = await collect(
            client.observe(note, events[index].offset),
            lambda seen, n=remaining: len(seen) == n,
        )
        assert [e.message for e in rest] == [e.message for e in events[index + 1 :]]
        assert [e.offset for e in rest] == offsets[index + 1 :]
    # The tail read by ``get`` matches the offset after the last event, once idle.
    await eventually(lambda: _tail_is(client, note), within=WAIT, what="a quiet stream")


async def _tail_is(client: AsyncClient, note: Entity) -> bool:
    events = await collect(client.observe(note), lambda seen: seen[-1].caught_up)
    return events[-1].offset == (await client.get(note)).offset


async def test_observe_now_and_caught_up(client: AsyncClient, server: Server) -> None:
    note = await client.spawn("note", "later", message="before")

    async def when_handled() -> bool:
        return bool(rows(await client.state(note), "state:notes"))

    await eventually(when_handled, within=WAIT, what="the first message")
    seen: list[Event] = []

    async def watch() -> None:
        async for event in client.observe(note, "now"):
            seen.append(event)

    task = asyncio.create_task(watch())
    try:
        # Messages sent before the observer attaches are not shown; keep sending until one is.
        for number in itertools.count():
            await client.send(note, f"after-{number}")
            await asyncio.sleep(0.1)
            if any(event.type == "state:notes" for event in seen) or number > 100:
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    stream = stream_messages(server, note.url)
    start = stream.index(seen[0].message)
    assert start > 3, "history before the observer attached is not shown"
    assert [event.message for event in seen] == stream[start : start + len(seen)]
    assert all(e.value["payload"] != "before" for e in seen if e.type == "inbox")

    history = await collect(client.observe(note), lambda seen: seen[-1].caught_up)
    assert history[-1].caught_up and not any(event.caught_up for event in history[:-1])


async def test_observe_streams_text_live(client: AsyncClient) -> None:
    slow = await client.spawn("slow", "live", message="go")

    def finished(seen: list[Event]) -> bool:
        last = seen[-1]
        return last.type == "run" and last.value.get("status") == "completed"

    events = await collect(client.observe(slow), finished)
    deltas = [event.value["delta"] for event in events if event.type == "text_delta"]
    assert len(deltas) > 3, "text should arrive in several coalesced pieces"
    assert "".join(deltas) == SLOW_TEXT
    assert [e.value["text"] for e in events if e.type == "text"] == [SLOW_TEXT]


async def test_observe_unknown_entity(client: AsyncClient) -> None:
    with pytest.raises(NotFound) as missing:
        await collect(client.observe("/note/never"), lambda seen: True)
    assert "/note/never" in missing.value.message


# -- threads and tool calls ----------------------------------------------------------------


async def test_thread_lifecycle(client: AsyncClient) -> None:
    thread = await client.create_thread(
        "What is the weather in Paris?", id="paris", title="Trip", metadata={"user": "ann"}
    )
    assert isinstance(thread, Thread)
    assert (thread.id, thread.url, thread.title, thread.metadata) == (
        "paris",
        "/thread/paris",
        "Trip",
        {"user": "ann"},
    )
    await thread_status(client, thread, "completed")
    messages = await client.messages("paris")
    assert (
        messages[0]["role"] == "user" and messages[0]["content"] == "What is the weather in Paris?"
    )
    calls = [call for m in messages for call in m.get("tool_calls", [])]
    assert calls[0]["name"] == "get_weather" and calls[0]["result"] == "sunny in Paris"
    assert "sunny in Paris" in messages[-1]["content"]
    call = await client.tool_call(thread, calls[0]["id"])
    assert call["status"] == "completed"

    assert await client.send_message(thread, "thanks")
    await eventually(
        lambda: _has_reply(client, thread, "thanks"), within=WAIT, what="the second reply"
    )
    with pytest.raises(Conflict):
        await client.stop(thread)
    with pytest.raises(Conflict):
        await client.resume(thread)

    others = [await client.create_thread(id=f"more-{i}") for i in range(3)]
    listed = [t.id async for t in client.threads(page_size=2)]
    assert {"paris", *(t.id for t in others)} <= set(listed)
    assert len(listed) == len(set(listed))

    await client.delete_thread(thread)
    with pytest.raises(NotFound):
        await client.thread("paris")


async def _has_reply(client: AsyncClient, thread: Thread, text: str) -> bool:
    messages = await client.messages(thread)
    return messages[-1]["role"] == "assistant" and text in messages[-1]["content"]


async def test_stop_and_resume(client: AsyncClient) -> None:
    slow = await client.spawn("slow", "stoppable", message="go")
    # ``slow`` is not a thread type, so stop it the way threads do: an interrupt signal.
    events = client.observe(slow)
    await collect(events, lambda seen: seen[-1].type == "text_delta")
    await client.signal(slow, "interrupt")
    stopped = await collect(
        client.observe(slow),
        lambda seen: seen[-1].type == "run" and seen[-1].value["status"] != "running",
    )
    assert stopped[-1].value["status"] == "aborted"

    thread = await client.create_thread("ask_human question=hold on?", id="resumable")
    first = await waiting_call(client, thread, "awaiting_result")
    await client.stop(thread)
    await thread_status(client, thread, "stopped")
    with pytest.raises(Conflict):
        await client.stop(thread)
    # Stopping closed the call the run was waiting for: no answer can reach it now.
    closed = await client.tool_call(thread.url, first["id"])
    assert closed["status"] == "failed"
    await client.resume(thread)
    # The resumed run starts over from the conversation (which shows the closed call).
    await eventually(
        lambda: _settled(client, thread), within=WAIT, what="the resumed run to settle"
    )


async def _settled(client: AsyncClient, thread: Thread) -> bool:
    runs = [m for m in await client.messages(thread) if m["role"] == "assistant"]
    status = (await client.thread(thread)).status
    return len(runs) > 1 and status in ("completed", "awaiting_tool_results")


async def test_approval_and_async_tools(client: AsyncClient) -> None:
    approved = await client.create_thread("please delete_file path=old-a.txt", id="approve")
    call = await waiting_call(client, approved, "awaiting_approval")
    assert (await client.tool_call(approved.url, call["id"]))["status"] == "awaiting_approval"
    await client.approve(approved, call["id"])
    await thread_status(client, approved, "completed")
    assert call_with(await client.messages(approved), "completed")["result"] == "deleted old-a.txt"
    with pytest.raises(Conflict):
        await client.deny(approved, call["id"])  # the first answer wins

    denied = await client.create_thread("please delete_file path=old-b.txt", id="deny")
    call = await waiting_call(client, denied, "awaiting_approval")
    await client.deny(denied, call["id"], reason="not that one")
    await thread_status(client, denied, "completed")
    assert call_with(await client.messages(denied), "denied")

    answered = await client.create_thread("ask_human question=ready?", id="ask")
    call = await waiting_call(client, answered, "awaiting_result")
    assert (await client.thread(answered)).status == "awaiting_tool_results"
    await client.tool_result(answered, call["id"], {"answer": "yes"})
    await thread_status(client, answered, "completed")
    assert call_with(await client.messages(answered), "completed")["result"] == {"answer": "yes"}

    failed = await client.create_thread("ask_human question=again?", id="ask-fail")
    call = await waiting_call(client, failed, "awaiting_result")
    await client.tool_error(failed, call["id"], "nobody is around")
    await thread_status(client, failed, "completed")
    assert call_with(await client.messages(failed), "failed")["error"] == "nobody is around"
