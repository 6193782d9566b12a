"""Request and reply between entities: ``ctx.request`` / ``ctx.reply`` / ``wake.replies``,
with durable timeouts, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.servers import Server
from support.waiting import eventually

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Message, Reply, Wake
from wakeful.errors import InvalidArguments

from .conftest import ApiFactory, HarnessFactory


class Seen:
    """What the asking entity's passes saw."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.reasons: list[list[str]] = []
        self.requests: list[str] = []
        self.signals: list[str] = []
        self.answer = asyncio.Event()  # the answerer replies only once this is set
        self.answering = True  # False: the answerer leaves requests to someone else

    async def replies_count(self, count: int) -> list[Reply]:
        async def probe() -> bool:
            return len(self.replies) >= count

        await eventually(probe, what=f"{count} replies")
        return self.replies


def request_registry(seen: Seen, *, timeout: float | None = None) -> Registry:
    registry = Registry()

    @registry.entity("asker")
    async def asker(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            seen.requests.append(ctx.request("/answerer/a", message.payload, timeout=timeout))
        if wake.replies:
            seen.replies.extend(wake.replies)
            seen.reasons.append(wake.reasons)
        seen.signals.extend(signal.name for signal in wake.signals)

    @registry.entity("answerer")
    async def answerer(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.request_id is None or not seen.answering:
                continue
            await seen.answer.wait()
            ctx.reply(message, {"answer": message.payload * 2})

    return registry


async def test_a_reply_wakes_the_requester_and_ends_its_timeout(
    harness_factory: HarnessFactory,
) -> None:
    seen = Seen()
    seen.answer.set()
    harness = await harness_factory(request_registry(seen, timeout=60))
    await harness.service.spawn("answerer", "a")
    await harness.service.spawn("asker", "q", message=21)
    (reply,) = await seen.replies_count(1)
    assert reply == Reply(seen.requests[0], "/answerer/a", {"answer": 42}, "/answerer/a")
    assert seen.reasons == [["reply"]]

    async def settled() -> bool:
        # The pass that took the reply committed: the request is no longer pending and
        # its timeout timer is gone from the database.
        store = await harness.materialize("/asker/q")
        pending = store.collection("manifest").get(f"request:{seen.requests[0]}")
        return pending is None and await harness.storage.next_schedule() is None

    await eventually(settled, what="the answered request to be settled")
    inbox = (await harness.materialize("/answerer/a")).collection("inbox")
    (request_row,) = [row for row in inbox if isinstance(row, dict)]
    assert request_row["request_id"] == seen.requests[0]
    assert request_row["from"] == "/asker/q"


async def test_a_timeout_wakes_the_requester_once_and_a_late_reply_is_dropped(
    harness_factory: HarnessFactory,
) -> None:
    seen = Seen()  # the answerer holds until told: the timeout comes first
    harness = await harness_factory(request_registry(seen, timeout=0.5))
    await harness.service.spawn("answerer", "a")
    await harness.service.spawn("asker", "q", message=1)
    (timed_out,) = await seen.replies_count(1)
    assert timed_out == Reply(seen.requests[0], "/answerer/a", timed_out=True)
    assert seen.reasons == [["request_timeout"]]
    seen.answer.set()  # now the answer comes, too late

    async def answered() -> bool:
        store = await harness.materialize("/asker/q")
        return any(
            isinstance(row, dict) and row.get("in_reply_to") == seen.requests[0]
            for row in store.collection("inbox")
        )

    await eventually(answered, what="the late reply to land")
    # The late reply lands on the stream but is no reply for the handler: the request is
    # over. A signal sent after it is handled only once the reply was consumed.
    await harness.service.signal("/asker/q", "ping")

    async def pinged() -> bool:
        return seen.signals == ["ping"]

    await eventually(pinged, what="the ping after the late reply")
    assert len(seen.replies) == 1


async def test_a_request_timeout_outlives_the_process_that_set_it(
    harness_factory: HarnessFactory, database: str
) -> None:
    seen = Seen()
    first = await harness_factory(request_registry(seen, timeout=1.5), database=database)
    await first.service.spawn("answerer", "a")
    await first.service.spawn("asker", "q", message=1)

    async def requested() -> bool:
        store = await first.materialize("/asker/q")
        keys = [str(key) for key, _ in store.collection("manifest").items()]
        return any(key.startswith("request:") for key in keys)

    await eventually(requested, what="the request to be committed")
    await first.stop()  # nothing in memory survives; the timer is a row in the database
    second = await harness_factory(request_registry(seen, timeout=1.5), database=database)
    (timed_out,) = await seen.replies_count(1)
    assert timed_out.timed_out and timed_out.request_id == seen.requests[0]
    assert await second.status("/asker/q") == "idle"


def test_only_a_request_can_be_replied_to() -> None:
    plain = Message("m1", "hi", "/asker/q", None)  # no request_id: nobody waits for it
    with pytest.raises(InvalidArguments, match="not a request"):
        Context.reply(Any, plain, "answer")  # type: ignore[arg-type]


async def test_the_api_answers_a_request_and_refuses_a_request_without_sender(
    api_factory: ApiFactory,
) -> None:
    seen = Seen()
    seen.answering = False
    client: httpx.AsyncClient = await api_factory(request_registry(seen, timeout=60))
    # An outside answerer: spawn the asker, whose request lands in a's inbox; answer it
    # over HTTP instead of by the answerer's handler.
    (await client.post("/v1/entities/answerer", json={"id": "a"})).raise_for_status()
    (await client.post("/v1/entities/asker", json={"id": "q", "message": 5})).raise_for_status()

    async def request_id() -> str | None:
        events = (await client.get("/v1/stream/answerer/a/main", params={"offset": "-1"})).json()
        ids = [e["value"].get("request_id") for e in events if e["type"] == "inbox"]
        return next((found for found in ids if found), None)

    found = await eventually(request_id, what="the request in the answerer's inbox")
    answer = await client.post(
        "/v1/entities/asker/q/messages",
        json={"payload": "from outside", "from": "http-user", "in_reply_to": found},
    )
    assert answer.status_code == 202
    (reply,) = await seen.replies_count(1)
    assert reply.payload == "from outside" and reply.request_id == found
    refused = await client.post(
        "/v1/entities/answerer/a/messages", json={"payload": 1, "request_id": "r1"}
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "INVALID_ARGUMENTS"


def test_a_request_timeout_fires_after_the_server_is_killed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``kill -9`` the only process once the request is committed: a server started
    again on the same database fires the timeout, and the asker records it once."""
    tests = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [tests, os.environ.get("PYTHONPATH")]))
    )
    database = str(tmp_path / "wakeful.db")
    registry = "entities.request_process_types:registry"
    first = Server(database, registry).start()
    try:
        assert httpx.post(f"{first.url}/v1/entities/silent", json={"id": "s"}).status_code == 201
        spawned = httpx.post(f"{first.url}/v1/entities/asker", json={"id": "q", "message": 3})
        assert spawned.status_code == 201, spawned.text

        def requested() -> bool:
            events = httpx.get(first.stream("asker/q/main"), params={"offset": "-1"}).json()
            return any(str(e.get("key", "")).startswith("request:") for e in events)

        asyncio.run(eventually(_sync(requested), what="the request to be committed"))
    finally:
        first.kill()
    second = Server(database, registry).start()
    try:

        def answers() -> list[dict[str, Any]]:
            events = httpx.get(second.stream("asker/q/main"), params={"offset": "-1"}).json()
            return [e["value"] for e in events if e["type"] == "state:answers"]

        found = asyncio.run(eventually(_sync(answers), what="the timeout after the restart"))
        assert [answer["timed_out"] for answer in found] == [True]
    finally:
        second.stop()


def _sync(probe: Any) -> Any:
    async def run() -> Any:
        return await asyncio.to_thread(probe)

    return run
