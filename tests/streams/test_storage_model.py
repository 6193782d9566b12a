"""The SQLite backend against a plain in-memory model, on random operation sequences.

Each example runs creates, appends, forks (of forks, at message boundaries, with
sub-offsets), closes, deletes, restarts of the storage, and chunked reads with tiny
``max_bytes``; every result must match what the model says, byte for byte.
"""

from __future__ import annotations

import asyncio
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wakeful.errors import BadRequest, Conflict, Gone, NotFound, WakefulError
from wakeful.streams.model import AppendRequest, CreateRequest, ForkSpec
from wakeful.streams.storage.sqlite import SqliteStorage

JSON = "application/json"
BYTES = "application/octet-stream"


@dataclass
class ModelStream:
    path: str
    content_type: str
    messages: list[bytes]  # the units a read returns, inherited ones included
    source: ModelStream | None = None
    closed: bool = False
    deleted: bool = False  # soft-deleted: kept for its forks
    purged: bool = False
    forks: list[ModelStream] = field(default_factory=list)

    @property
    def tail(self) -> int:
        return sum(len(message) for message in self.messages)

    def boundaries(self) -> list[int]:
        """Positions where a message starts, plus the tail."""
        result = [0]
        for message in self.messages:
            result.append(result[-1] + len(message))
        return result

    def error(self) -> type[WakefulError] | None:
        if self.purged:
            return NotFound
        if self.deleted:
            return Gone
        return None


def purge(stream: ModelStream) -> None:
    stream.purged = True
    source = stream.source
    if source is not None:
        source.forks.remove(stream)
        if source.deleted and not source.forks:
            purge(source)


json_messages = st.builds(
    lambda n, s: f'{{"n":{n},"s":{s}}}'.encode(),
    st.integers(-(10**6), 10**6),
    st.sampled_from(['"x"', '"été"', "[1,2]", "null", '"' + "y" * 20 + '"']),
)
byte_messages = st.binary(min_size=1, max_size=24)


def messages_for(content_type: str) -> st.SearchStrategy[list[bytes]]:
    element = json_messages if content_type == JSON else byte_messages
    return st.lists(element, min_size=1, max_size=4)


# Weighted by repetition: appends, forks and reads are what most sequences should do.
OPERATIONS = ["create", "append", "append", "fork", "fork", "read", "read", "close", "delete"]
OPERATIONS.append("restart")


class Scenario:
    def __init__(self, directory: Path, data: st.DataObject) -> None:
        self.database = str(directory / "model.db")
        self.data = data
        self.storage = SqliteStorage(self.database)
        self.streams: list[ModelStream] = []

    def draw_stream(self) -> ModelStream:
        return self.data.draw(st.sampled_from(self.streams))

    async def restart(self) -> None:
        await self.storage.stop()
        self.storage = SqliteStorage(self.database)
        await self.storage.start()

    async def create(self) -> None:
        content_type = self.data.draw(st.sampled_from([JSON, BYTES]))
        initial = self.data.draw(st.lists(st.nothing()) | messages_for(content_type))
        if content_type == JSON:
            body = b"[" + b",".join(initial) + b"]"
        else:
            initial = initial[:1]
            body = b"".join(initial)
        path = f"s/{len(self.streams)}"
        result = await self.storage.create(
            CreateRequest(path, content_type, None, None, False, body)
        )
        assert result.created
        stream = ModelStream(path, content_type, list(initial))
        assert result.stream.tail == stream.tail
        self.streams.append(stream)

    async def append(self) -> None:
        stream = self.draw_stream()
        messages = self.data.draw(messages_for(stream.content_type))
        close = self.data.draw(st.integers(0, 5)) == 0
        request = AppendRequest(stream.path, stream.content_type, messages, close)
        expected = stream.error() or (Conflict if stream.closed else None)
        if expected is not None:
            try:
                await self.storage.append(request)
            except expected:
                return
            raise AssertionError(f"append to {stream} did not raise {expected.__name__}")
        result = await self.storage.append(request)
        stream.messages.extend(messages)
        stream.closed = close
        assert result.tail == stream.tail
        assert result.closed == close

    async def close(self) -> None:
        stream = self.draw_stream()
        request = AppendRequest(stream.path, None, [], True)
        expected = stream.error()
        if expected is not None:
            try:
                await self.storage.append(request)
            except expected:
                return
            raise AssertionError(f"close of {stream} did not raise {expected.__name__}")
        result = await self.storage.append(request)
        stream.closed = True
        assert result.closed and result.tail == stream.tail

    async def fork(self) -> None:
        source = self.draw_stream()
        boundaries = source.boundaries()
        index = self.data.draw(st.integers(0, len(boundaries)))  # len(boundaries): "no offset"
        offset = None if index == len(boundaries) else boundaries[index]
        start = len(source.messages) if offset is None else index
        following = source.messages[start:]
        if source.content_type == JSON:
            sub = self.data.draw(st.integers(0, len(following) + 1))
            valid = sub <= len(following)
            inherited = source.messages[: start + sub]
        else:
            limit = len(following[0]) if following else 0
            sub = self.data.draw(st.integers(0, limit + 1))
            valid = sub <= limit
            inherited = source.messages[:start]
            if following and sub:
                inherited.append(following[0][:sub])
        path = f"s/{len(self.streams)}"
        request = CreateRequest(
            path, None, None, None, False, b"", ForkSpec(source.path, offset, sub)
        )
        expected: type[WakefulError] | None
        if source.purged:
            expected = NotFound
        elif source.deleted:
            expected = Conflict
        elif not valid:
            expected = BadRequest
        else:
            expected = None
        if expected is not None:
            try:
                await self.storage.create(request)
            except expected:
                return
            raise AssertionError(f"fork of {source} did not raise {expected.__name__}")
        result = await self.storage.create(request)
        fork = ModelStream(path, source.content_type, inherited, source=source)
        source.forks.append(fork)
        self.streams.append(fork)
        assert result.created
        assert result.stream.content_type == source.content_type
        assert result.stream.tail == fork.tail
        assert not result.stream.closed

    async def delete(self) -> None:
        stream = self.draw_stream()
        expected = stream.error()
        if expected is not None:
            try:
                await self.storage.delete(stream.path)
            except expected:
                return
            raise AssertionError(f"delete of {stream} did not raise {expected.__name__}")
        await self.storage.delete(stream.path)
        if stream.forks:
            stream.deleted = True
        else:
            purge(stream)

    async def read(self, stream: ModelStream | None = None, *, everything: bool = False) -> None:
        stream = stream or self.draw_stream()
        expected = stream.error()
        if expected is not None:
            try:
                await self.storage.read(stream.path, 0)
            except expected:
                return
            raise AssertionError(f"read of {stream} did not raise {expected.__name__}")
        boundaries = stream.boundaries()
        index = 0 if everything else self.data.draw(st.integers(0, len(boundaries) - 1))
        max_bytes = self.data.draw(st.integers(1, 64))
        position = boundaries[index]
        got: list[bytes] = []
        for _ in range(len(stream.messages) + 2):
            result = await self.storage.read(stream.path, position, max_bytes)
            size = sum(len(message) for message in result.messages)
            assert result.next_position == position + size
            if not result.up_to_date:
                # A chunk stops as soon as it reaches max_bytes, and is never empty.
                assert result.messages
                assert size >= max_bytes
                assert size - len(result.messages[-1]) < max_bytes
            assert result.stream.closed == stream.closed
            got.extend(result.messages)
            position = result.next_position
            if result.up_to_date:
                break
        else:
            raise AssertionError("read never became up to date")
        assert got == stream.messages[index:]
        assert position == stream.tail
        head = await self.storage.head(stream.path)
        assert head.tail == stream.tail and head.closed == stream.closed
        at_tail = await self.storage.read(stream.path, None)
        assert at_tail.messages == [] and at_tail.next_position == stream.tail

    async def run(self, steps: int) -> None:
        await self.storage.start()
        try:
            await self.create()
            for _ in range(steps):
                operation = self.data.draw(st.sampled_from(OPERATIONS))
                await getattr(self, operation)()
            await self.restart()
            paths = await self.storage.list_paths()
            for stream in self.streams:
                await self.read(stream, everything=True)
                assert (stream.path in paths) == (stream.error() is None)
        finally:
            await self.storage.stop()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.data(), st.integers(1, 30))
def test_sqlite_storage_matches_the_model(data: st.DataObject, steps: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(Scenario(Path(directory), data).run(steps))


def test_fork_chain_stitches_bytes_exactly() -> None:
    """A fixed case of the property above: three generations, a split message, chunked."""

    async def scenario(directory: str) -> None:
        storage = SqliteStorage(str(Path(directory) / "chain.db"))
        await storage.start()
        try:
            await storage.create(CreateRequest("a", BYTES, None, None, False, b"hello"))
            await storage.append(AppendRequest("a", BYTES, [b"world"]))
            # b inherits "hello" + "wo" (two bytes past the boundary at 5).
            b = await storage.create(
                CreateRequest("b", None, None, None, False, b"", ForkSpec("a", 5, 2))
            )
            assert b.stream.tail == 7
            await storage.append(AppendRequest("b", BYTES, [b"!!"]))
            await storage.append(AppendRequest("a", BYTES, [b"later"]))
            # c inherits b up to its tail, then appends its own.
            await storage.create(
                CreateRequest("c", None, None, None, False, b"", ForkSpec("b", None, 0))
            )
            await storage.append(AppendRequest("c", BYTES, [b"?"]))
            await storage.delete("b")  # soft-deleted: c still reads through it
            chunks = []
            position = 0
            while True:
                result = await storage.read("c", position, 1)
                chunks.append(b"".join(result.messages))
                position = result.next_position
                if result.up_to_date:
                    break
            assert chunks == [b"hello", b"wo", b"!!", b"?"]
            assert b"".join((await storage.read("a", 0)).messages) == b"helloworldlater"
        finally:
            await storage.stop()

    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(scenario(directory))
