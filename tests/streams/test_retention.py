"""Retention, on every backend: a trim drops whole messages before a position, moves the
stream's retained position, never cuts what a live fork still reads, and a read before
it is refused with ``OffsetGone`` (410) naming where the stream now begins."""

from __future__ import annotations

import pytest

from wakeful.errors import OffsetGone
from wakeful.streams.http.statuses import headers_of, status_of
from wakeful.streams.model import EARLIEST, AppendRequest, CreateRequest, ForkSpec
from wakeful.streams.offsets import format_offset
from wakeful.streams.storage import Storage

JSON = "application/json"
TEXT = "text/plain"


async def _stream(storage: Storage, path: str, count: int, content_type: str = JSON) -> list[int]:
    """A stream of ``count`` messages; returns where each one starts."""
    await storage.create(CreateRequest(path, content_type, None, None, False, b""))
    starts = []
    for index in range(count):
        body = f'{{"n":{index}}}' if content_type == JSON else f"message {index};"
        result = await storage.append(AppendRequest(path, content_type, [body.encode()]))
        starts.append(result.tail - len(body))
    return starts


async def test_keep_last_drops_the_oldest_messages_and_moves_the_start(storage: Storage) -> None:
    starts = await _stream(storage, "log/keep", 10)
    retained = await storage.trim("log/keep", keep_last=3)
    assert retained == starts[7]
    assert (await storage.head("log/keep")).retained_from == starts[7]
    read = await storage.read("log/keep", EARLIEST)
    assert read.messages == [b'{"n":7}', b'{"n":8}', b'{"n":9}']
    assert (await storage.read("log/keep", starts[8])).messages == [b'{"n":8}', b'{"n":9}']
    # Nothing more to drop: the same trim again leaves the stream as it is.
    assert await storage.trim("log/keep", keep_last=3) == starts[7]
    assert await storage.trim("log/keep", keep_last=50) == starts[7]


async def test_a_read_before_the_retained_position_is_gone_with_where_it_begins(
    storage: Storage,
) -> None:
    starts = await _stream(storage, "log/gone", 5)
    await storage.trim("log/gone", before=starts[3])
    for position in (0, starts[2], starts[3] - 1):
        with pytest.raises(OffsetGone) as caught:
            await storage.read("log/gone", position)
        error = caught.value
        assert error.retained_from == starts[3]
        assert error.details == {"retained_from": format_offset(starts[3])}
        assert status_of(error) == 410
        assert headers_of(error) == {"Stream-Next-Offset": format_offset(starts[3])}
    stream = await storage.head("log/gone")
    with pytest.raises(OffsetGone):
        await storage.read_from(stream, 0)
    # Appends go on as before, after the retained messages.
    await storage.append(AppendRequest("log/gone", JSON, [b'{"n":5}']))
    assert [m for m in (await storage.read("log/gone", EARLIEST)).messages] == [
        b'{"n":3}',
        b'{"n":4}',
        b'{"n":5}',
    ]


async def test_a_trim_inside_a_message_stops_at_its_start(storage: Storage) -> None:
    starts = await _stream(storage, "log/bytes", 4, TEXT)
    assert await storage.trim("log/bytes", before=starts[2] + 3) == starts[2]
    read = await storage.read("log/bytes", EARLIEST)
    assert b"".join(read.messages) == b"message 2;message 3;"
    # Trimming past the tail drops everything: the stream begins at its tail, still open.
    tail = (await storage.head("log/bytes")).tail
    assert await storage.trim("log/bytes", before=tail + 100) == tail
    read = await storage.read("log/bytes", EARLIEST)
    assert read.messages == [] and read.next_position == tail and read.up_to_date


async def test_a_trim_never_cuts_what_a_live_fork_reads(storage: Storage) -> None:
    starts = await _stream(storage, "log/source", 6)
    fork = ForkSpec("log/source", starts[4])
    await storage.create(CreateRequest("log/fork", None, None, None, False, b"", fork))
    await storage.append(AppendRequest("log/fork", JSON, [b'"own"']))
    # The fork reads the source from 0 up to its fork position: nothing may go.
    assert await storage.trim("log/source", keep_last=1) == 0
    assert len((await storage.read("log/fork", EARLIEST)).messages) == 5

    # Once the fork itself is trimmed to a position, the source may follow it there.
    assert await storage.trim("log/fork", before=starts[2]) == starts[2]
    assert await storage.trim("log/source", keep_last=1) == starts[2]
    fork_read = await storage.read("log/fork", EARLIEST)
    assert fork_read.messages == [b'{"n":2}', b'{"n":3}', b'"own"']
    with pytest.raises(OffsetGone):
        await storage.read("log/fork", starts[1])

    # A fork trimmed past its fork position reads nothing of the source any more.
    assert await storage.trim("log/fork", keep_last=1) == starts[4]
    assert await storage.trim("log/source", keep_last=1) == starts[5]
    assert (await storage.read("log/fork", EARLIEST)).messages == [b'"own"']
    assert (await storage.read("log/source", EARLIEST)).messages == [b'{"n":5}']


async def test_a_fork_of_a_trimmed_stream_begins_where_its_source_does(
    storage: Storage,
) -> None:
    starts = await _stream(storage, "log/trimmed", 4)
    await storage.trim("log/trimmed", keep_last=2)
    with pytest.raises(OffsetGone):
        fork = ForkSpec("log/trimmed", starts[1])
        await storage.create(CreateRequest("log/early", None, None, None, False, b"", fork))
    fork = ForkSpec("log/trimmed", starts[3])
    created = await storage.create(CreateRequest("log/late", None, None, None, False, b"", fork))
    assert created.stream.retained_from == starts[2]
    assert (await storage.read("log/late", EARLIEST)).messages == [b'{"n":2}']


async def test_a_reader_holding_a_record_from_before_a_trim_hears_it_is_gone(
    storage: Storage,
) -> None:
    """A live reader reads with the record it loaded earlier; a trim committed since must
    not hand it later messages as if they started at its position."""
    starts = await _stream(storage, "log/stale", 5)
    stale = await storage.head("log/stale")
    await storage.trim("log/stale", before=starts[3])
    with pytest.raises(OffsetGone) as caught:
        await storage.read_from(stale, starts[1])
    assert caught.value.retained_from == starts[3]
    await storage.trim("log/stale", before=stale.tail)
    with pytest.raises(OffsetGone):
        await storage.read_from(stale, starts[4])
