"""Observing survives dropped connections and server restarts: the iterator picks up at the
last event it yielded, and what it yields is exactly the stream, with no event twice and
none missing."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from support.client_types import SLOW_TEXT, serve, stream_messages
from support.servers import Server
from support.waiting import eventually

from wakeful.client import AsyncClient, Client, Event, ServerUnreachable

WAIT = 30.0


def completed(events: list[Event]) -> bool:
    return any(e.type == "run" and e.value.get("status") == "completed" for e in events)


def assert_exact(events: list[Event], stream: list[dict[str, Any]]) -> None:
    """``events`` is a prefix of the stream: nothing repeated, nothing skipped."""
    assert [event.message for event in events] == stream[: len(events)]
    offsets = [event.offset for event in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)


async def test_resumes_after_kill_and_restart(fresh_database: Callable[[], str]) -> None:
    database = fresh_database()
    first = serve(database)
    second: Server | None = None
    try:
        async with AsyncClient(first.url) as client:
            slow = await client.spawn("slow", "survivor", message="go")
            seen: list[Event] = []

            async def watch() -> None:
                async for event in client.observe(slow, reconnect_timeout=WAIT):
                    seen.append(event)
                    if completed(seen):
                        return

            task = asyncio.create_task(watch())

            async def streaming() -> bool:
                return sum(event.type == "text_delta" for event in seen) >= 3

            await eventually(streaming, within=WAIT, what="text to start streaming")
            first.kill()  # kill -9, in the middle of the answer
            before = len(seen)
            await asyncio.sleep(0.5)
            second = serve(database, port=first.port)
            await asyncio.wait_for(task, WAIT)
            assert len(seen) > before, "the observer saw nothing after the restart"
            assert_exact(seen, stream_messages(second, slow.url))
            # The answer was cut by the kill and given again in full after the restart.
            texts = [e.value["text"] for e in seen if e.type == "text"]
            assert texts[-1] == SLOW_TEXT
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_resumes_when_the_server_closes_live_reads(
    fresh_database: Callable[[], str],
) -> None:
    server = serve(fresh_database(), "--sse-max-seconds", "0.3")
    try:
        async with AsyncClient(server.url) as client:
            slow = await client.spawn("slow", "reconnects", message="go")
            events: list[Event] = []
            async with contextlib.aclosing(client.observe(slow)) as observed:
                async for event in observed:
                    events.append(event)
                    if completed(events):
                        break
            assert_exact(events, stream_messages(server, slow.url))
            deltas = "".join(e.value["delta"] for e in events if e.type == "text_delta")
            assert deltas == SLOW_TEXT
    finally:
        server.stop()


def test_sync_observe_resumes_after_restart(fresh_database: Callable[[], str]) -> None:
    database = fresh_database()
    first = serve(database)
    second: Server | None = None
    try:
        with Client(first.url) as client:
            note = client.spawn("note", "steady", message=0)
            observed = client.observe(note, reconnect_timeout=WAIT)
            seen: list[Event] = []
            for event in observed:
                seen.append(event)
                if event.type == "state:notes":
                    break
            first.kill()
            second = serve(database, port=first.port)
            for number in range(1, 4):
                client.send(note, number)
            for event in observed:
                seen.append(event)
                if sum(e.type == "state:notes" for e in seen) == 4:
                    break
            observed.close()
            assert_exact(seen, stream_messages(second, note.url))
            payloads = [e.value["payload"] for e in seen if e.type == "state:notes"]
            assert payloads == [0, 1, 2, 3]
    finally:
        first.stop()
        if second is not None:
            second.stop()


async def test_gives_up_when_the_server_stays_down(fresh_database: Callable[[], str]) -> None:
    server = serve(fresh_database())
    try:
        async with AsyncClient(server.url) as client:
            note = await client.spawn("note", "abandoned")
            observed = client.observe(note, reconnect_timeout=1.0)
            # Caught up after the first pass has recorded its wake: nothing more is coming,
            # so the next event can only be the failure to reach the server.
            passed = False
            while True:
                event = await anext(observed)
                passed = passed or event.type == "wake"
                if passed and event.caught_up:
                    break
            server.kill()
            with pytest.raises(ServerUnreachable):
                await asyncio.wait_for(anext(observed), 20)
    finally:
        server.stop()
