"""Several real ``wakeful serve`` processes over one PostgreSQL schema (or one SQLite file).

What a deployment with many processes relies on: a write through any of them reaches
live readers on all of them, producer fencing holds across them, a pull-wake claim taken
through one is heartbeated, acked or fenced through another, and killing one with
``kill -9`` loses nothing it acknowledged.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from support.postgres import schema_url
from support.servers import Server, running, sqlite_database

TEXT = {"Content-Type": "text/plain"}
JSON = {"Content-Type": "application/json"}
NEXT_OFFSET = "Stream-Next-Offset"


@pytest.fixture
def servers(postgres_url: str, new_schema: Callable[[], str]) -> Iterator[tuple[Server, Server]]:
    database = schema_url(postgres_url, new_schema())
    with (
        running(database, "--long-poll-timeout", "10") as first,
        running(database, "--long-poll-timeout", "10") as second,
    ):
        yield first, second


@pytest.fixture
def sqlite_servers(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two processes on one SQLite file: each sees the other's commits by looking."""
    database = sqlite_database(tmp_path)
    with (
        running(database, "--long-poll-timeout", "10") as first,
        running(database, "--long-poll-timeout", "10") as second,
    ):
        yield first, second


async def _sse_data(
    response: httpx.Response, connected: asyncio.Event, items: list[object]
) -> None:
    """Collect the JSON items of SSE ``data`` events until one holds ``{"n": 1}``."""
    event = ""
    data: list[str] = []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].removeprefix(" "))
        elif line == "":
            if event == "control":
                connected.set()
            if event == "data":
                items.extend(orjson.loads("\n".join(data)))
                if {"n": 1} in items:
                    return
            event, data = "", []


async def test_an_append_through_one_server_reaches_live_readers_on_the_other(
    servers: tuple[Server, Server],
) -> None:
    await _reaches_live_readers_on_the_other(*servers)


async def test_on_one_sqlite_file_too_an_append_reaches_readers_on_the_other(
    sqlite_servers: tuple[Server, Server],
) -> None:
    await _reaches_live_readers_on_the_other(*sqlite_servers)


async def _reaches_live_readers_on_the_other(writer: Server, reader: Server) -> None:
    async with httpx.AsyncClient(timeout=20) as client:
        created = await client.put(writer.stream("p"), headers=JSON, content=b"[]")
        assert created.status_code == 201
        tail = created.headers[NEXT_OFFSET]

        connected = asyncio.Event()
        items: list[object] = []
        sse_params = {"offset": "-1", "live": "sse"}
        async with client.stream("GET", reader.stream("p"), params=sse_params) as sse:
            assert sse.status_code == 200
            watcher = asyncio.create_task(_sse_data(sse, connected, items))
            long_poll = asyncio.create_task(
                client.get(reader.stream("p"), params={"offset": tail, "live": "long-poll"})
            )
            async with asyncio.timeout(10):
                await connected.wait()  # the SSE reader is up to date and waiting
            await asyncio.sleep(0.3)  # let the long-poll reach its wait too
            began = time.monotonic()
            appended = await client.post(writer.stream("p"), headers=JSON, content=b'{"n": 1}')
            assert appended.status_code == 204
            async with asyncio.timeout(5):
                await watcher
                polled = await long_poll
            elapsed = time.monotonic() - began
    assert items == [{"n": 1}]
    assert polled.status_code == 200 and orjson.loads(polled.content) == [{"n": 1}]
    # Well under the readers' own idle recheck (15 s): they were woken, not polling.
    assert elapsed < 3, f"delivery across processes took {elapsed:.2f}s"


async def test_a_producer_fenced_through_one_server_is_fenced_on_the_other(
    servers: tuple[Server, Server],
) -> None:
    first, second = servers

    def producer(epoch: int, seq: int) -> dict[str, str]:
        return {
            **TEXT,
            "Producer-Id": "worker",
            "Producer-Epoch": str(epoch),
            "Producer-Seq": str(seq),
        }

    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.put(first.stream("f"), headers=TEXT)).status_code == 201
        ok = await client.post(first.stream("f"), headers=producer(0, 0), content=b"a")
        assert ok.status_code == 200
        fence = await client.post(second.stream("f"), headers=producer(1, 0), content=b"b")
        assert fence.status_code == 200
        for server in servers:
            stale = await client.post(server.stream("f"), headers=producer(0, 1), content=b"c")
            assert stale.status_code == 403, stale.text
            assert stale.headers["Producer-Epoch"] == "1"
        body = (await client.get(first.stream("f"), params={"offset": "-1"})).content
    assert body == b"ab"


async def _write(
    client: httpx.AsyncClient, server: Server, name: str, acked: dict[str, int], stop: float
) -> None:
    """Append ``name:n;`` until ``stop`` or until the server is gone; record acknowledgements."""
    for n in range(100_000):
        if time.monotonic() >= stop:
            return
        payload = f"{name}:{n};"
        try:
            response = await client.post(server.stream("d"), headers=TEXT, content=payload)
        except httpx.HTTPError:
            return  # the server was killed: this append was never acknowledged
        if response.status_code != 204:
            return
        acked[payload] = int(response.headers[NEXT_OFFSET].replace("_", ""))


async def _until(condition: Callable[[], bool], seconds: float) -> None:
    """Wait until ``condition()`` holds (checked every 20 ms) or ``seconds`` have passed."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)


def _count(acked: dict[str, int], label: str) -> int:
    return sum(1 for payload in acked if payload.startswith(label))


async def test_kill_9_of_one_server_loses_no_acknowledged_append(
    servers: tuple[Server, Server],
) -> None:
    doomed, survivor = servers
    acked: dict[str, int] = {}
    async with httpx.AsyncClient(timeout=10) as client:
        assert (await client.put(survivor.stream("d"), headers=TEXT)).status_code == 201
        stop = time.monotonic() + 20.0
        writers = [
            asyncio.create_task(_write(client, server, f"{label}{i}", acked, stop))
            for i in range(4)
            for label, server in (("doomed", doomed), ("survivor", survivor))
        ]
        # Kill mid-stream, once both servers have acknowledged a fair number of appends.
        await _until(lambda: _count(acked, "doomed") >= 40, seconds=5)
        doomed.kill()
        killed_at = len(acked)
        await _until(lambda: len(acked) >= killed_at + 40, seconds=10)
        for writer in writers:
            writer.cancel()
        await asyncio.gather(*writers, return_exceptions=True)

        body = b""
        offset = "-1"
        while True:
            read = await client.get(survivor.stream("d"), params={"offset": offset})
            body += read.content
            offset = read.headers[NEXT_OFFSET]
            if read.headers.get("Stream-Up-To-Date") == "true":
                break
    text = body.decode()
    assert _count(acked, "doomed") >= 40
    assert len(acked) >= killed_at + 40, "the surviving server stopped acknowledging"
    for payload, end in acked.items():
        start = text.find(payload)
        assert start >= 0, f"acknowledged append {payload!r} is missing"
        assert text.count(payload) == 1
        assert start + len(payload) == end, f"{payload!r} is not where its offset said"


def _subscriptions(server: Server) -> str:
    return f"{server.url}/v1/stream/__ds/subscriptions"


async def _claim(client: httpx.AsyncClient, server: Server, worker: str) -> httpx.Response:
    return await client.post(f"{_subscriptions(server)}/jobs/claim", json={"worker": worker})


async def _ack(
    client: httpx.AsyncClient,
    server: Server,
    claim: dict[str, object],
    *,
    offset: str | None = None,
    done: bool = False,
) -> httpx.Response:
    body: dict[str, object] = {
        "wake_id": claim["wake_id"],
        "generation": claim["generation"],
        "done": done,
    }
    if offset is not None:
        body["acks"] = [{"stream": "jobs/a", "offset": offset}]
    return await client.post(
        f"{_subscriptions(server)}/jobs/ack",
        json=body,
        headers={"Authorization": f"Bearer {claim['token']}"},
    )


async def _wake_events(client: httpx.AsyncClient, server: Server) -> list[dict[str, object]]:
    read = await client.get(server.stream("wakes"), params={"offset": "-1"})
    events: list[dict[str, object]] = orjson.loads(read.content)
    return events


async def test_a_pull_wake_claim_is_decided_by_the_database_not_by_one_server(
    servers: tuple[Server, Server],
) -> None:
    first, second = servers
    async with httpx.AsyncClient(timeout=10) as client:
        for path in ("jobs/a", "wakes"):
            assert (await client.put(first.stream(path), headers=JSON)).status_code == 201
        spec = {
            "type": "pull-wake",
            "streams": ["jobs/a"],
            "wake_stream": "wakes",
            "lease_ttl_ms": 1000,
        }
        put = await client.put(f"{_subscriptions(first)}/jobs", json=spec)
        assert put.status_code == 201, put.text
        # The subscription made through one server is the other's too.
        assert (await client.get(f"{_subscriptions(second)}/jobs")).status_code == 200

        # An append through the second wakes the subscription, in the append's transaction.
        appended = await client.post(second.stream("jobs/a"), headers=JSON, content=b'{"n": 1}')
        assert appended.status_code == 204
        tail = appended.headers[NEXT_OFFSET]
        wakes = await _wake_events(client, first)
        assert [event["subscription_id"] for event in wakes] == ["jobs"]

        claimed = await _claim(client, first, "worker-1")
        assert claimed.status_code == 200, claimed.text
        claim = claimed.json()
        # The claim holds on the other server too.
        taken = await _claim(client, second, "worker-2")
        assert taken.status_code == 409 and taken.json()["error"]["code"] == "ALREADY_CLAIMED"
        # Heartbeat and ack through the server that did not hand out the claim.
        beat = await _ack(client, second, claim)
        assert beat.status_code == 200, beat.text
        done = await _ack(client, second, claim, offset=tail, done=True)
        assert done.status_code == 200, done.text
        assert done.json() == {"ok": True, "next_wake": False}
        nothing = await _claim(client, first, "worker-1")
        assert nothing.status_code == 409
        assert nothing.json()["error"]["code"] == "NO_PENDING_WORK"

        # New work; a claim through the first server whose holder then stalls past its
        # lease is replaced through the second, and the stale claim is fenced everywhere.
        again = await client.post(first.stream("jobs/a"), headers=JSON, content=b'{"n": 2}')
        stale = (await _claim(client, first, "stalled")).json()
        assert stale["generation"] > claim["generation"]
        await asyncio.sleep(1.2)
        fresh_claim = await _claim(client, second, "worker-2")
        assert fresh_claim.status_code == 200, fresh_claim.text
        fresh = fresh_claim.json()
        assert fresh["generation"] > stale["generation"]
        for server in servers:
            fenced = await _ack(client, server, stale, offset=again.headers[NEXT_OFFSET], done=True)
            assert fenced.status_code == 409, fenced.text
            assert fenced.json()["error"]["code"] == "FENCED"
        finished = await _ack(client, first, fresh, offset=again.headers[NEXT_OFFSET], done=True)
        assert finished.status_code == 200, finished.text
        view = (await client.get(f"{_subscriptions(second)}/jobs")).json()
    assert view["holder"] is None
    assert view["streams"][0]["acked_offset"] == again.headers[NEXT_OFFSET]
