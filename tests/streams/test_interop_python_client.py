"""The official ``durable-streams`` Python client (from PyPI) against a real server.

Whatever that client writes must read back exactly, through catch-up reads, long-poll and
SSE, and its errors must map to the client's own exception types.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from durable_streams import (
    AsyncDurableStream,
    DurableStream,
    StreamExistsError,
    StreamNotFoundError,
    astream,
)
from support.servers import Server

_names = itertools.count()

# Anything a JSON document can hold, including what naive encoders get wrong.
DOCUMENTS: list[Any] = [
    {"type": "text", "value": "hello"},
    {"unicode": "héllo wörld 日本語 🙂", "escapes": 'quote " backslash \\ newline \n tab \t'},
    [1, 2, 3],  # appended as one message: the client wraps each value in an array
    [[{"nested": True}], []],
    "a bare string",
    12345678901234567890,
    -0.5,
    1e300,
    None,
    True,
    {"empty": {}, "list": [], "null": None},
]


@pytest.fixture
def url(module_server: Server) -> str:
    return module_server.stream(f"interop/{next(_names)}")


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield http


async def test_json_append_and_catch_up_read(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="application/json", client=client, batching=False
    )
    offsets = []
    for document in DOCUMENTS:
        offsets.append((await handle.append(document)).next_offset)
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)

    async with handle.stream(live=False) as response:
        assert await response.read_json() == DOCUMENTS
        assert response.offset == offsets[-1]
        assert response.up_to_date

    head = await handle.head()
    assert head.offset == offsets[-1]
    assert head.content_type == "application/json"

    # Resuming from any returned offset yields exactly what came after it.
    for index, offset in enumerate(offsets):
        async with handle.stream(offset=offset, live=False) as response:
            assert await response.read_json() == DOCUMENTS[index + 1 :]


async def test_batched_concurrent_appends_keep_every_item(
    url: str, client: httpx.AsyncClient
) -> None:
    handle = await AsyncDurableStream.create(url, content_type="application/json", client=client)
    items = [{"i": i} for i in range(50)]
    await asyncio.gather(*(handle.append(item) for item in items))
    async with handle.stream(live=False) as response:
        read = await response.read_json()
    # The client batches concurrent appends in call order; every item lands exactly once.
    assert read == items


async def test_bytes_append_and_read(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="application/octet-stream", client=client, batching=False
    )
    chunks = [bytes(range(256)), b"\x00" * 10, b"\r\n\r\n", "ünïcödé".encode(), b"\xff\xfe"]
    for chunk in chunks:
        await handle.append(chunk)
    async with handle.stream(live=False) as response:
        assert await response.read_bytes() == b"".join(chunks)

    first_offset = None
    async with handle.stream(live=False) as response:
        async for event in response.iter_events(mode="bytes"):
            assert event.data == b"".join(chunks)
            first_offset = event.next_offset
    head = await handle.head()
    assert first_offset == head.offset


async def test_text_append_and_read(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="text/plain; charset=utf-8", client=client, batching=False
    )
    lines = ["first line\n", "second, with ünïcode\n", "", "no newline at the end"]
    for line in lines:
        if line:
            await handle.append(line)
    async with handle.stream(live=False) as response:
        assert await response.read_text() == "".join(lines)


async def test_initial_body_at_create(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="application/json", body=[{"a": 1}, {"b": 2}], client=client
    )
    async with handle.stream(live=False) as response:
        assert await response.read_json() == [{"a": 1}, {"b": 2}]


async def test_long_poll_delivers_live_appends(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="application/json", client=client, batching=False
    )
    await handle.append({"before": True})
    tail = (await handle.head()).offset
    expected = [{"live": i} for i in range(5)]
    received: list[Any] = []

    async def read() -> None:
        async with astream(url, offset=tail, live="long-poll", client=client) as response:
            async for item in response.iter_json():
                received.append(item)
                if len(received) == len(expected):
                    return

    reader = asyncio.create_task(read())
    last = None
    for item in expected:
        await asyncio.sleep(0.05)  # let the reader be waiting, so data arrives live
        last = (await handle.append(item)).next_offset
    await asyncio.wait_for(reader, timeout=15)
    assert received == expected  # nothing from before the offset, nothing twice
    assert last == (await handle.head()).offset


async def test_long_poll_times_out_empty_then_continues(
    url: str, client: httpx.AsyncClient
) -> None:
    handle = await AsyncDurableStream.create(url, content_type="application/json", client=client)
    tail = (await handle.head()).offset

    async def first_item() -> Any:
        async with astream(url, offset=tail, live="long-poll", client=client) as response:
            async for item in response.iter_json():
                return item
        return None

    reader = asyncio.create_task(first_item())
    await asyncio.sleep(1.6)  # longer than the server's long-poll timeout: a 204 round trip
    assert not reader.done()
    await handle.append({"late": True})
    assert await asyncio.wait_for(reader, timeout=15) == {"late": True}


async def test_sse_delivers_history_then_live_json(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="application/json", client=client, batching=False
    )
    history = DOCUMENTS[:4]
    for document in history:
        await handle.append(document)
    live = [{"live": i, "text": "line one\nline two"} for i in range(3)]
    received: list[Any] = []
    caught_up = asyncio.Event()

    async def read() -> None:
        async with astream(url, offset="-1", live="sse", client=client) as response:
            async for batch in response.iter_json_batches():
                received.extend(batch)
                if len(received) >= len(history):
                    caught_up.set()
                if len(received) == len(history) + len(live):
                    return

    reader = asyncio.create_task(read())
    await asyncio.wait_for(caught_up.wait(), timeout=15)
    for item in live:
        await handle.append(item)
    await asyncio.wait_for(reader, timeout=15)
    assert received == history + live


async def test_sse_text_keeps_newlines(url: str, client: httpx.AsyncClient) -> None:
    handle = await AsyncDurableStream.create(
        url, content_type="text/plain", client=client, batching=False
    )
    parts = ["multi\nline\n\ntext", " with a leading space", "\n", "tail"]
    for part in parts:
        await handle.append(part)
    expected = "".join(parts)
    received = ""
    async with astream(url, offset="-1", live="sse", client=client) as response:
        async for text in response.iter_text():
            received += text
            if len(received) >= len(expected):
                break
    assert received == expected


async def test_sse_binary_arrives_base64_per_event(url: str, client: httpx.AsyncClient) -> None:
    # This client version passes SSE data through as text; the server base64-encodes each
    # data event of a binary stream (and says so in Stream-SSE-Data-Encoding).
    handle = await AsyncDurableStream.create(
        url, content_type="application/octet-stream", client=client, batching=False
    )
    chunks = [bytes(range(256)), b"\n\r\n\x00", b"\xff" * 3]
    for chunk in chunks:
        await handle.append(chunk)
    expected = b"".join(chunks)
    received = b""
    async with astream(url, offset="-1", live="sse", client=client) as response:
        assert response.headers["stream-sse-data-encoding"] == "base64"
        async for text in response.iter_text():
            received += base64.b64decode(text, validate=True)
            if len(received) >= len(expected):
                break
    assert received == expected


async def test_errors_map_to_client_exceptions(url: str, client: httpx.AsyncClient) -> None:
    with pytest.raises(StreamNotFoundError):
        await AsyncDurableStream.connect(url, client=client)
    await AsyncDurableStream.create(url, content_type="application/json", client=client)
    # Same configuration again: idempotent.
    await AsyncDurableStream.create(url, content_type="application/json", client=client)
    with pytest.raises(StreamExistsError):
        await AsyncDurableStream.create(url, content_type="text/plain", client=client)
    handle = await AsyncDurableStream.connect(url, client=client)
    assert handle.content_type == "application/json"
    await handle.delete()
    with pytest.raises(StreamNotFoundError):
        await handle.head()


def test_sync_client_round_trip(url: str) -> None:
    with DurableStream.create(url, content_type="application/json", batching=False) as handle:
        for document in DOCUMENTS:
            handle.append(document)
        with handle.stream(live=False) as response:
            assert response.read_json() == DOCUMENTS
        assert handle.head().offset == response.offset
