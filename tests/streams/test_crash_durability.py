"""Acknowledged appends survive ``kill -9``: present exactly once, in order, atomically.

Several writers append concurrently to one JSON stream, some plain and some as idempotent
producers; each request carries one to three messages. At a random moment the server
process is killed with SIGKILL, then restarted on the same database file. Then:

- every acknowledged (2xx) request is present, exactly once, with all of its messages
  next to each other, and each writer's requests are in the order it sent them;
- a request whose answer was lost may be present or not, but never twice;
- a producer retrying its lost request after the restart gets 204 if the request had been
  committed and 200 if not, and its data ends up present exactly once either way.

Each round kills the server the previous round restarted, on one growing database.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from support.servers import Server

ROUNDS = 5
PLAIN_WRITERS = 8
PRODUCER_WRITERS = 8
MIN_ACKED_BEFORE_KILL = 30


@dataclass
class Writer:
    number: int
    producer: bool
    acked: list[int] = field(default_factory=list)  # request numbers answered with 2xx
    lost: int | None = None  # the request whose answer never came
    next_request: int = 0

    @property
    def producer_id(self) -> str:
        return f"writer-{self.number}"

    def body(self, request: int) -> bytes:
        parts = 1 + request % 3
        messages = [{"w": self.number, "r": request, "part": p, "of": parts} for p in range(parts)]
        return json.dumps(messages).encode()

    def headers(self, request: int) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.producer:
            headers |= {
                "Producer-Id": self.producer_id,
                "Producer-Epoch": "0",
                "Producer-Seq": str(request),
            }
        return headers


async def run_writer(client: httpx.AsyncClient, url: str, writer: Writer) -> None:
    """Append until the server goes away; each request is sent once, never retried here."""
    while True:
        request = writer.next_request
        try:
            response = await client.post(
                url, content=writer.body(request), headers=writer.headers(request)
            )
        except httpx.HTTPError:
            writer.lost = request
            return
        assert response.status_code in (200, 204), (response.status_code, response.text)
        if writer.producer:
            assert response.status_code == 200, "a first send can never be a duplicate"
            assert response.headers["Producer-Seq"] == str(request)
        writer.acked.append(request)
        writer.next_request += 1


async def read_all(client: httpx.AsyncClient, url: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    offset = "-1"
    while True:
        response = await client.get(url, params={"offset": offset})
        assert response.status_code == 200, response.text
        messages.extend(response.json())
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            return messages


def requests_present(messages: list[dict[str, Any]], writer: Writer) -> list[int]:
    """The writer's requests in stream order, checking each one is whole and contiguous."""
    present: list[int] = []
    index = 0
    while index < len(messages):
        message = messages[index]
        if message["w"] != writer.number:
            index += 1
            continue
        request, parts = message["r"], message["of"]
        group = messages[index : index + parts]
        expected = [
            {"w": writer.number, "r": request, "part": p, "of": parts} for p in range(parts)
        ]
        assert group == expected, f"request {request} of writer {writer.number} torn: {group}"
        present.append(request)
        index += parts
    return present


async def kill_mid_load(
    server: Server, url: str, writers: list[Writer], rng: random.Random
) -> None:
    limits = httpx.Limits(max_connections=len(writers) + 2)
    async with httpx.AsyncClient(timeout=10, limits=limits) as client:
        tasks = [asyncio.create_task(run_writer(client, url, writer)) for writer in writers]
        deadline = asyncio.get_running_loop().time() + 20
        before = sum(len(writer.acked) for writer in writers)
        while sum(len(writer.acked) for writer in writers) - before < MIN_ACKED_BEFORE_KILL:
            assert asyncio.get_running_loop().time() < deadline, "writers made no progress"
            assert not any(task.done() for task in tasks), [
                t.exception() for t in tasks if t.done()
            ]
            await asyncio.sleep(0.005)
        await asyncio.sleep(rng.uniform(0.0, 0.25))
        await asyncio.to_thread(server.kill)
        await asyncio.wait_for(asyncio.gather(*tasks), timeout=20)


async def verify_after_restart(url: str, writers: list[Writer]) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        messages = await read_all(client, url)
        for writer in writers:
            present = requests_present(messages, writer)
            assert present == sorted(set(present)), f"writer {writer.number}: {present}"
            assert set(writer.acked) <= set(present), f"writer {writer.number} lost acked data"
            allowed = set(writer.acked) | ({writer.lost} if writer.lost is not None else set())
            assert set(present) <= allowed, f"writer {writer.number}: unknown requests"
            if writer.lost is not None:
                if writer.producer:
                    committed = writer.lost in present
                    retry = await client.post(
                        url, content=writer.body(writer.lost), headers=writer.headers(writer.lost)
                    )
                    assert retry.status_code == (204 if committed else 200), (committed, retry)
                    assert retry.headers["Producer-Seq"] == str(writer.lost)
                    writer.acked.append(writer.lost)
                elif writer.lost in present:
                    writer.acked.append(writer.lost)  # committed; only the answer was lost
                writer.lost = None
            writer.next_request = max(writer.acked, default=-1) + 1
        after = await read_all(client, url)
        for writer in writers:
            assert requests_present(after, writer) == sorted(writer.acked)


async def test_acknowledged_appends_survive_kill_9(server_factory: Callable[..., Server]) -> None:
    rng = random.Random(20251122)
    server = server_factory()
    database = server.database
    url = server.stream("crash/log")
    async with httpx.AsyncClient(timeout=10) as client:
        created = await client.put(url, headers={"Content-Type": "application/json"})
        assert created.status_code == 201
    writers = [
        Writer(n, producer=n >= PLAIN_WRITERS) for n in range(PLAIN_WRITERS + PRODUCER_WRITERS)
    ]
    for _ in range(ROUNDS):
        await kill_mid_load(server, url, writers, rng)
        assert server.process is not None and server.process.returncode == -9
        server = await asyncio.to_thread(lambda: server_factory(database=database))
        url = server.stream("crash/log")
        await verify_after_restart(url, writers)
    assert sum(len(writer.acked) for writer in writers) >= ROUNDS * MIN_ACKED_BEFORE_KILL
    assert all(writer.acked for writer in writers), "a writer never got an append through"


def headers(epoch: int, seq: int) -> dict[str, str]:
    return {
        "Content-Type": "text/plain",
        "Producer-Id": "p",
        "Producer-Epoch": str(epoch),
        "Producer-Seq": str(seq),
    }


async def test_closed_state_and_producer_state_survive_kill_9(
    server_factory: Callable[..., Server],
) -> None:
    server = server_factory()
    database = server.database
    async with httpx.AsyncClient(timeout=10) as client:
        url = server.stream("crash/closed")
        await client.put(url, headers={"Content-Type": "text/plain"}, content=b"final")
        closing = await client.post(url, headers={"Stream-Closed": "true"})
        assert closing.status_code == 204
        producer_url = server.stream("crash/producer")
        await client.put(producer_url, headers={"Content-Type": "text/plain"})
        assert (
            await client.post(producer_url, headers=headers(3, 0), content=b"a")
        ).status_code == 200
        assert (
            await client.post(producer_url, headers=headers(3, 1), content=b"b")
        ).status_code == 200
    await asyncio.to_thread(server.kill)
    server = await asyncio.to_thread(lambda: server_factory(database=database))
    async with httpx.AsyncClient(timeout=10) as client:
        url = server.stream("crash/closed")
        head = await client.head(url)
        assert head.headers["Stream-Closed"] == "true"
        rejected = await client.post(url, headers={"Content-Type": "text/plain"}, content=b"x")
        assert rejected.status_code == 409
        assert (await client.get(url)).content == b"final"
        producer_url = server.stream("crash/producer")
        duplicate = await client.post(producer_url, headers=headers(3, 1), content=b"b")
        assert duplicate.status_code == 204
        stale = await client.post(producer_url, headers=headers(2, 0), content=b"z")
        assert stale.status_code == 403 and stale.headers["Producer-Epoch"] == "3"
        assert (
            await client.post(producer_url, headers=headers(3, 2), content=b"c")
        ).status_code == 200
        assert (await client.get(producer_url)).content == b"abc"
