"""HEAD and GET on a stream: catch-up reads and long-poll live reads (SSE is in sse.py)."""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, ErrorCode
from .. import framing, offsets
from ..model import EARLIEST, ReadResult, StreamRecord
from . import cursors
from . import headers as h
from .context import StreamsContext
from .sse import sse_response

CACHEABLE = "public, max-age=60, stale-while-revalidate=300"
NO_STORE = "no-store"


def metadata_headers(stream: StreamRecord) -> dict[str, str]:
    result = {
        "Content-Type": stream.content_type,
        h.NEXT_OFFSET: offsets.format_offset(stream.tail),
        "Cache-Control": NO_STORE,
    }
    if stream.ttl_seconds is not None:
        result[h.TTL] = str(stream.ttl_seconds)
    if stream.expires_at is not None:
        result[h.EXPIRES_AT] = h.format_expiry(stream.expires_at)
    if stream.closed:
        result[h.CLOSED] = "true"
    return result


async def head(ctx: StreamsContext, request: Request, path: str) -> Response:
    if ctx.read_guard is not None:
        await ctx.read_guard(request, path)
    stream = await ctx.storage.head(path)
    return Response(status_code=200, headers=metadata_headers(stream))


def _start_position(request: Request) -> int | None:
    """The requested position: ``EARLIEST`` for the beginning (the earliest message still
    retained), None for ``now`` (the tail)."""
    offset = request.query_params.get("offset")
    if offset is None or offset == offsets.BEGINNING:
        return EARLIEST
    if offset == offsets.NOW:
        return None
    return offsets.parse_offset(offset)


def _etag(result: ReadResult, start: int) -> str:
    closed = ":c" if result.at_closed_end else ""
    return f'"{result.stream.id}:{start}:{result.next_position}{closed}"'


def read_headers(result: ReadResult, *, cursor: str | None) -> dict[str, str]:
    stream = result.stream
    result_headers = {
        "Content-Type": stream.content_type,
        h.NEXT_OFFSET: offsets.format_offset(result.next_position),
    }
    if result.up_to_date:
        result_headers[h.UP_TO_DATE] = "true"
    if result.at_closed_end:
        result_headers[h.CLOSED] = "true"
    elif cursor is not None:
        result_headers[h.CURSOR] = cursor
    return result_headers


async def get(ctx: StreamsContext, request: Request, path: str) -> Response:
    live = request.query_params.get("live")
    if live not in (None, "long-poll", "sse"):
        raise BadRequest(
            f"unknown live mode {live[:40]!r}; use long-poll or sse", code=ErrorCode.INVALID_LIVE
        )
    if live is not None and "offset" not in request.query_params:
        raise BadRequest(f"live={live} needs an offset", code=ErrorCode.MISSING_OFFSET)
    position = _start_position(request)
    if ctx.read_guard is not None:
        await ctx.read_guard(request, path)
    result = await ctx.storage.read(path, position, ctx.limits.chunk_bytes)
    if live is None:
        return _catch_up(request, result, now=position is None)
    release = ctx.live.acquire(request.client.host if request.client else "unknown")
    if live == "sse":
        return sse_response(ctx, request, result, release)
    try:
        return await _long_poll(ctx, request, result)
    finally:
        release()


def _catch_up(request: Request, result: ReadResult, *, now: bool) -> Response:
    stream = result.stream
    body = framing.render(stream.content_type, result.messages)
    response_headers = read_headers(result, cursor=None)
    if now:
        response_headers["Cache-Control"] = NO_STORE
        return Response(body, status_code=200, headers=response_headers)
    start = result.next_position - sum(len(message) for message in result.messages)
    etag = _etag(result, start)
    response_headers["ETag"] = etag
    response_headers["Cache-Control"] = CACHEABLE if result.messages else NO_STORE
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=response_headers)
    return Response(body, status_code=200, headers=response_headers)


async def _client_gone(request: Request) -> None:
    """Returns when the client disconnects. A long-poll GET has no body to read, so
    everything ``receive`` gives after the empty request is the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def _wait_unless_gone(request: Request, event: asyncio.Event, seconds: float) -> bool:
    """True if ``event`` fired within ``seconds``; False at the timeout, or at once when
    the client goes away (an aborted long-poll must not hold a reader, nor shutdown)."""
    changed = asyncio.ensure_future(event.wait())
    gone = asyncio.ensure_future(_client_gone(request))
    try:
        done, _ = await asyncio.wait(
            {changed, gone}, timeout=seconds, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        changed.cancel()
        gone.cancel()
    return changed in done


async def _long_poll(ctx: StreamsContext, request: Request, result: ReadResult) -> Response:
    cursor = cursors.next_cursor(request.query_params.get("cursor"))
    deadline = time.monotonic() + ctx.limits.long_poll_timeout
    position = result.next_position
    # Not ``follow.changes``: this loop looks the stream up by id (a path deleted and made
    # again must end it), answers by the client's deadline and notices a client gone.
    while not result.messages and not result.stream.closed:
        event = ctx.storage.hub.watch(result.stream.id)
        stream = await ctx.storage.lookup_live(result.stream.id)
        if stream is None:
            break
        result = await ctx.storage.read_from(stream, position, ctx.limits.chunk_bytes)
        if result.messages or stream.closed:
            break
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not await _wait_unless_gone(request, event, remaining):
            break
    response_headers = read_headers(result, cursor=cursor)
    if not result.messages:
        response_headers[h.UP_TO_DATE] = "true"
        return Response(status_code=204, headers=response_headers)
    body = framing.render(result.stream.content_type, result.messages)
    response_headers["Cache-Control"] = CACHEABLE
    return Response(body, status_code=200, headers=response_headers)
