"""Server-Sent Events live reads.

Every ``data`` event is followed by a ``control`` event carrying the next offset, the
cursor and the up-to-date / closed flags. Binary streams are base64-encoded. The
connection ends when the stream is closed and drained, when it is deleted or trimmed past
the reader's position, or after
``sse_max_seconds`` so that clients reconnect through caches; comments keep idle
connections alive through proxies in between.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ...errors import OffsetGone
from .. import framing, offsets
from ..model import ReadResult
from . import cursors
from . import headers as h
from .context import StreamsContext, base_headers

KEEPALIVE_SECONDS = 15.0


def _data_event(result: ReadResult, binary: bool) -> bytes:
    payload = framing.render(result.stream.content_type, result.messages)
    if binary:
        lines = [base64.b64encode(payload)]
    else:
        lines = payload.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    # Parsers drop one space after "data:", so only lines that start with a space get one.
    return (
        b"event: data\n"
        + b"".join((b"data: " if line[:1] == b" " else b"data:") + line + b"\n" for line in lines)
        + b"\n"
    )


def _control_event(result: ReadResult, cursor: str) -> bytes:
    control: dict[str, object] = {"streamNextOffset": offsets.format_offset(result.next_position)}
    if result.at_closed_end:
        control["streamClosed"] = True
        control["upToDate"] = True
    else:
        control["streamCursor"] = cursor
        if result.up_to_date:
            control["upToDate"] = True
    return b"event: control\ndata:" + orjson.dumps(control) + b"\n\n"


def sse_response(
    ctx: StreamsContext, request: Request, first: ReadResult, release: Callable[[], None]
) -> Response:
    binary = not framing.is_text(first.stream.content_type)
    cursor = cursors.next_cursor(request.query_params.get("cursor"))
    response_headers = {
        **base_headers(),
        # Set here rather than as media_type, which would append "; charset=utf-8".
        "Content-Type": "text/event-stream",
        "Cache-Control": "no-cache",
        "X-Accel-Buffering": "no",
    }
    if binary:
        response_headers[h.SSE_ENCODING] = "base64"
    return StreamingResponse(
        _released(_events(ctx, first, binary, cursor), release),
        headers=response_headers,
    )


async def _released(
    events: AsyncIterator[bytes], release: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        async for chunk in events:
            yield chunk
    finally:
        release()


async def _events(
    ctx: StreamsContext, first: ReadResult, binary: bool, cursor: str
) -> AsyncIterator[bytes]:
    storage = ctx.storage
    deadline = time.monotonic() + ctx.limits.sse_max_seconds
    result = first
    stream_id = first.stream.id
    while True:
        # One write per data/control pair: readers never see a data event without its control.
        control = _control_event(result, cursor)
        yield _data_event(result, binary) + control if result.messages else control
        if result.at_closed_end:
            return
        position = result.next_position
        # Not ``follow.changes``: the stream is looked up by id (a path deleted and made
        # again must end the response), and a quiet wait sends a keepalive until a deadline.
        while True:
            event = storage.hub.watch(stream_id)
            stream = await storage.lookup_live(stream_id)
            if stream is None:
                return
            try:
                result = await storage.read_from(stream, position, ctx.limits.chunk_bytes)
            except OffsetGone:
                # Trimmed past this reader: end the events; reconnecting from its offset
                # gets the 410 (with the retained position) that a new read would.
                return
            if result.messages or result.at_closed_end:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if not await storage.hub.wait(event, min(remaining, KEEPALIVE_SECONDS)):
                if time.monotonic() >= deadline:
                    return
                yield b": keepalive\n\n"
