"""PUT (create or fork), POST (append, close) and DELETE on a stream."""

from __future__ import annotations

import time
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from ...errors import BadRequest, ErrorCode, PayloadTooLarge
from .. import framing, offsets, paths
from ..model import AppendRequest, CreateRequest, ForkSpec
from . import headers as h
from .context import StreamsContext


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refusing with 413 as soon as it is known to exceed ``limit``."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _content_type(request: Request) -> str | None:
    value = request.headers.get("content-type")
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > h.MAX_CONTENT_TYPE:
        raise BadRequest(
            f"Content-Type is longer than {h.MAX_CONTENT_TYPE} characters",
            code=ErrorCode.INVALID_CONTENT_TYPE,
        )
    kind = framing.media_type(value)
    if "/" not in kind or kind.startswith("/") or kind.endswith("/") or " " in kind:
        raise BadRequest(
            f"malformed Content-Type {value[:80]!r}", code=ErrorCode.INVALID_CONTENT_TYPE
        )
    return value


def _fork_spec(ctx: StreamsContext, request: Request) -> ForkSpec | None:
    source = request.headers.get(h.FORKED_FROM)
    offset = request.headers.get(h.FORK_OFFSET)
    sub = request.headers.get(h.FORK_SUB_OFFSET)
    if source is None:
        if offset is not None or sub is not None:
            raise BadRequest(f"{h.FORK_OFFSET} needs {h.FORKED_FROM}", code=ErrorCode.INVALID_FORK)
        return None
    position: int | None = None
    if offset is not None:
        offset = offset.strip()
        if offset == offsets.BEGINNING:
            position = 0
        elif offset != offsets.NOW:
            position = offsets.parse_offset(offset)
    sub_offset = h.decimal(sub.strip(), h.FORK_SUB_OFFSET) if sub is not None else 0
    return ForkSpec(paths.from_header(source, ctx.mount), position, sub_offset)


def _stream_headers(content_type: str, tail: int, closed: bool) -> dict[str, str]:
    result = {"Content-Type": content_type, h.NEXT_OFFSET: offsets.format_offset(tail)}
    if closed:
        result[h.CLOSED] = "true"
    return result


async def create(ctx: StreamsContext, request: Request, path: str) -> Response:
    ttl = h.ttl(request.headers)
    expires_at = h.expires_at(request.headers)
    if ttl is not None and expires_at is not None:
        raise BadRequest(
            f"send {h.TTL} or {h.EXPIRES_AT}, not both", code=ErrorCode.CONFLICTING_EXPIRY
        )
    if expires_at is not None and expires_at <= time.time():
        raise BadRequest(f"{h.EXPIRES_AT} is in the past", code=ErrorCode.EXPIRED)
    fork = _fork_spec(ctx, request)
    content_type = _content_type(request)
    body = await read_body(request, ctx.limits.max_body_bytes)
    if content_type is not None and body:
        # Validate JSON before taking the write lock; storage frames it again after
        # resolving a fork's inherited content type.
        framing.frame(content_type, body, creating=True, max_depth=ctx.limits.max_json_depth)
    result = await ctx.storage.create(
        CreateRequest(
            path=path,
            content_type=content_type,
            ttl_seconds=ttl,
            expires_at=expires_at,
            closed=h.is_true(request.headers, h.CLOSED),
            body=body,
            fork=fork,
        )
    )
    stream = result.stream
    response_headers = _stream_headers(stream.content_type, stream.tail, stream.closed)
    if result.created:
        # Percent-encoded: header values are Latin-1, stream paths are any Unicode.
        escaped = quote(request.url.path, safe="/:@!$&'()*+,;=~")
        response_headers["Location"] = str(request.url.replace(path=escaped, query=""))
    return Response(status_code=201 if result.created else 200, headers=response_headers)


async def append(ctx: StreamsContext, request: Request, path: str) -> Response:
    close = h.is_true(request.headers, h.CLOSED)
    claim = h.producer(request.headers)
    stream_seq = h.stream_seq(request.headers)
    content_type = _content_type(request)
    body = await read_body(request, ctx.limits.max_body_bytes)
    if not body and not close:
        raise BadRequest(
            "an append needs a body (or Stream-Closed: true)", code=ErrorCode.EMPTY_BODY
        )
    messages: list[bytes] = []
    if body:
        if content_type is None:
            raise BadRequest(
                "Content-Type is required with a body", code=ErrorCode.MISSING_CONTENT_TYPE
            )
        stream = await ctx.storage.head(path)
        same_type = framing.media_type(content_type) == framing.media_type(stream.content_type)
        # A closed stream or a mismatched type is refused by the storage rules with the
        # protocol's precedence; only bodies that could be appended are parsed.
        if same_type and not stream.closed:
            messages = framing.frame(
                content_type, body, creating=False, max_depth=ctx.limits.max_json_depth
            )
        else:
            messages = [body]
    result = await ctx.storage.append(
        AppendRequest(
            path=path,
            content_type=content_type,
            messages=messages,
            close=close,
            stream_seq=stream_seq,
            producer=claim,
        )
    )
    response_headers = {h.NEXT_OFFSET: offsets.format_offset(result.tail)}
    if result.closed:
        response_headers[h.CLOSED] = "true"
    status = 204
    if claim is not None and result.producer is not None:
        response_headers[h.PRODUCER_EPOCH] = str(result.producer.epoch)
        response_headers[h.PRODUCER_SEQ] = str(result.producer.last_seq)
        status = 200 if messages and not result.duplicate else 204
    return Response(status_code=status, headers=response_headers)


async def delete(ctx: StreamsContext, request: Request, path: str) -> Response:
    await ctx.storage.delete(path)
    return Response(status_code=204)
