"""The storage interface, on every backend: the same calls must mean the same thing."""

from __future__ import annotations

import asyncio
import time

import pytest

from wakeful.errors import BadRequest, Conflict, Forbidden, Gone, NotFound
from wakeful.streams.http.statuses import headers_of
from wakeful.streams.model import (
    AppendRequest,
    CreateRequest,
    ForkSpec,
    ProducerClaim,
)
from wakeful.streams.storage import Storage

JSON = "application/json"
TEXT = "text/plain"


def create(
    path: str,
    content_type: str | None = JSON,
    body: bytes = b"",
    *,
    ttl: int | None = None,
    expires_at: float | None = None,
    closed: bool = False,
    fork: ForkSpec | None = None,
) -> CreateRequest:
    return CreateRequest(path, content_type, ttl, expires_at, closed, body, fork)


def append(
    path: str,
    *messages: bytes,
    content_type: str = JSON,
    close: bool = False,
    seq: str | None = None,
    producer: ProducerClaim | None = None,
) -> AppendRequest:
    return AppendRequest(path, content_type, list(messages), close, seq, producer)


async def test_create_append_read(storage: Storage) -> None:
    created = await storage.create(create("chat/1", JSON, b"[1,2]"))
    assert created.created and created.stream.tail == 2
    result = await storage.append(append("chat/1", b'{"a":1}'))
    assert result.tail == 9 and not result.closed
    read = await storage.read("chat/1", 0)
    assert read.messages == [b"1", b"2", b'{"a":1}']
    assert read.next_position == 9 and read.up_to_date
    assert (await storage.read("chat/1", 2)).messages == [b'{"a":1}']
    tail = await storage.read("chat/1", None)
    assert tail.messages == [] and tail.next_position == 9
    head = await storage.head("chat/1")
    assert head.content_type == JSON and head.tail == 9


async def test_create_is_idempotent_for_the_same_config_only(storage: Storage) -> None:
    await storage.create(create("s", TEXT))
    again = await storage.create(create("s", TEXT))
    assert not again.created
    with pytest.raises(Conflict):
        await storage.create(create("s", JSON))
    with pytest.raises(Conflict):
        await storage.create(create("s", TEXT, ttl=60))


async def test_missing_streams(storage: Storage) -> None:
    with pytest.raises(NotFound):
        await storage.head("nope")
    with pytest.raises(NotFound):
        await storage.read("nope", 0)
    with pytest.raises(NotFound):
        await storage.append(append("nope", b"1"))
    with pytest.raises(NotFound):
        await storage.delete("nope")


async def test_content_type_must_match(storage: Storage) -> None:
    await storage.create(create("t", TEXT))
    with pytest.raises(Conflict):
        await storage.append(append("t", b"1", content_type=JSON))


async def test_reads_are_chunked(storage: Storage) -> None:
    await storage.create(create("big", TEXT))
    for _ in range(10):
        await storage.append(append("big", b"x" * 100, content_type=TEXT))
    first = await storage.read("big", 0, max_bytes=250)
    assert len(first.messages) == 3 and first.next_position == 300 and not first.up_to_date
    rest = await storage.read_from(first.stream, first.next_position, max_bytes=10_000)
    assert len(rest.messages) == 7 and rest.next_position == 1000 and rest.up_to_date


async def test_idempotent_producer(storage: Storage) -> None:
    await storage.create(create("p"))
    first = await storage.append(append("p", b"1", producer=ProducerClaim("w", 0, 0)))
    assert first.producer is not None and first.producer.last_seq == 0
    duplicate = await storage.append(append("p", b"1", producer=ProducerClaim("w", 0, 0)))
    assert duplicate.duplicate and duplicate.tail == first.tail
    with pytest.raises(Conflict) as gap:
        await storage.append(append("p", b"3", producer=ProducerClaim("w", 0, 2)))
    assert gap.value.code == "SEQUENCE_GAP"
    await storage.append(append("p", b"2", producer=ProducerClaim("w", 0, 1)))
    fenced = await storage.append(append("p", b"9", producer=ProducerClaim("w", 1, 0)))
    assert fenced.producer is not None and fenced.producer.epoch == 1
    with pytest.raises(Forbidden) as stale:
        await storage.append(append("p", b"4", producer=ProducerClaim("w", 0, 2)))
    assert headers_of(stale.value)["Producer-Epoch"] == "1"
    assert (await storage.read("p", 0)).messages == [b"1", b"2", b"9"]


async def test_stream_seq_must_increase(storage: Storage) -> None:
    await storage.create(create("q"))
    await storage.append(append("q", b"1", seq="a"))
    with pytest.raises(Conflict) as regression:
        await storage.append(append("q", b"2", seq="a"))
    assert regression.value.code == "SEQUENCE_REGRESSION"
    await storage.append(append("q", b"3", seq="b"))


async def test_close(storage: Storage) -> None:
    await storage.create(create("c"))
    closer = ProducerClaim("w", 0, 0)
    closed = await storage.append(append("c", b"1", close=True, producer=closer))
    assert closed.closed
    assert (await storage.head("c")).closed
    retry = await storage.append(append("c", b"1", close=True, producer=closer))
    assert retry.duplicate
    again = await storage.append(append("c", close=True))
    assert again.duplicate and again.closed
    with pytest.raises(Conflict) as refused:
        await storage.append(append("c", b"2"))
    assert refused.value.code == "STREAM_CLOSED"
    read = await storage.read("c", 0)
    assert read.at_closed_end


async def test_forks_read_through_and_survive_their_source(storage: Storage) -> None:
    await storage.create(create("src", JSON, b"[1,2,3]"))
    fork = await storage.create(create("fork", None, fork=ForkSpec("src", 1, sub_offset=1)))
    assert fork.stream.tail == 2 and fork.stream.content_type == JSON
    await storage.append(append("src", b"4"))
    await storage.append(append("fork", b"5"))
    assert (await storage.read("fork", 0)).messages == [b"1", b"2", b"5"]
    assert (await storage.read("src", 0)).messages == [b"1", b"2", b"3", b"4"]
    again = await storage.create(create("fork", None, fork=ForkSpec("src", 1, sub_offset=1)))
    assert not again.created

    await storage.delete("src")
    with pytest.raises(Gone):
        await storage.head("src")
    with pytest.raises(Conflict):
        await storage.create(create("src", JSON))
    with pytest.raises(Conflict):
        await storage.create(create("other", None, fork=ForkSpec("src", None)))
    assert (await storage.read("fork", 0)).messages == [b"1", b"2", b"5"]

    await storage.delete("fork")
    with pytest.raises(NotFound):
        await storage.head("fork")
    with pytest.raises(NotFound):  # purged with its last fork
        await storage.head("src")
    await storage.create(create("src", TEXT))


async def test_fork_of_a_fork_and_binary_sub_offsets(storage: Storage) -> None:
    await storage.create(create("b", TEXT, b"hello"))
    await storage.append(append("b", b" world", content_type=TEXT))
    await storage.create(create("b1", None, fork=ForkSpec("b", 5, sub_offset=3)))
    await storage.append(append("b1", b"!", content_type=TEXT))
    await storage.create(create("b2", None, fork=ForkSpec("b1", None)))
    await storage.append(append("b2", b"?", content_type=TEXT))
    assert b"".join((await storage.read("b1", 0)).messages) == b"hello wo!"
    assert b"".join((await storage.read("b2", 0)).messages) == b"hello wo!?"
    with pytest.raises(BadRequest):
        await storage.create(create("b3", None, fork=ForkSpec("b", 5, sub_offset=99)))
    with pytest.raises(BadRequest):
        await storage.create(create("b4", None, fork=ForkSpec("b", 999)))
    with pytest.raises(NotFound):
        await storage.create(create("b5", None, fork=ForkSpec("missing", None)))


async def test_expiry(storage: Storage) -> None:
    await storage.create(create("old", expires_at=time.time() - 1))
    with pytest.raises(NotFound):
        await storage.head("old")
    await storage.create(create("brief", ttl=1))
    await storage.create(create("kept"))
    assert await storage.expire() >= 1
    assert "old" not in await storage.list_paths()
    await storage.create(create("old", TEXT))  # the expired one is replaced
    assert (await storage.head("old")).content_type == TEXT


async def test_list_paths_by_prefix(storage: Storage) -> None:
    for path in ["a/1", "a/2", "a0", "ab", "b/1", "a/é"]:
        await storage.create(create(path))
    await storage.create(create("a/gone"))
    await storage.delete("a/gone")
    assert await storage.list_paths("a/") == ["a/1", "a/2", "a/é"]
    assert await storage.list_paths("a") == ["a/1", "a/2", "a/é", "a0", "ab"]
    assert await storage.list_paths("", limit=2) == ["a/1", "a/2"]
    assert await storage.list_paths("zzz") == []


async def test_append_wakes_live_readers(storage: Storage) -> None:
    created = await storage.create(create("live"))
    event = storage.hub.watch(created.stream.id)
    await storage.append(append("live", b"1"))
    assert await storage.hub.wait(event, 5)
    record = await storage.lookup_live(created.stream.id)
    assert record is not None and record.tail == 1
    await storage.delete("live")
    assert await storage.lookup_live(created.stream.id) is None


async def test_concurrent_appends_are_contiguous(storage: Storage) -> None:
    await storage.create(create("busy", TEXT))

    async def writer(name: str) -> None:
        for seq in range(20):
            claim = ProducerClaim(name, 0, seq)
            await storage.append(
                append("busy", f"{name}:{seq};".encode(), content_type=TEXT, producer=claim)
            )

    await asyncio.gather(*(writer(f"w{i}") for i in range(8)))
    read = await storage.read("busy", 0, max_bytes=1 << 20)
    body = b"".join(read.messages).decode()
    items = body.rstrip(";").split(";")
    assert len(items) == 160 and len(set(items)) == 160
    assert read.next_position == len(body)
