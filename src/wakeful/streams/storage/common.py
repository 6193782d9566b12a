"""Decisions both storage backends make the same way, kept in one place."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ...errors import (
    BadRequest,
    Conflict,
    ErrorCode,
    OffsetGone,
    StreamDeleted,
    StreamExists,
    StreamNotFound,
)
from .. import framing
from ..forks import fork_request_key
from ..model import EARLIEST, CreateRequest, CreateResult, ForkSpec, ReadResult, StreamRecord
from ..offsets import format_offset


def visible(record: StreamRecord | None, path: str, now: float) -> StreamRecord:
    """The record if a client may address it; 404 when absent or expired, 410 when deleted."""
    if record is None or (not record.deleted and record.expired(now)):
        raise StreamNotFound(f"stream {path!r} does not exist")
    if record.deleted:
        raise StreamDeleted(f"stream {path!r} was deleted")
    return record


def check_unchanged(stream: StreamRecord, if_tail: int | None) -> None:
    """Refuse a conditional delete of a stream appended to since the caller looked."""
    if if_tail is not None and stream.tail != if_tail:
        raise Conflict(f"stream {stream.path!r} changed since it was read")


def fork_key(fork: ForkSpec | None) -> str | None:
    if fork is None:
        return None
    return fork_request_key(
        fork.source_path, fork.offset if fork.offset is not None else -1, fork.sub_offset
    )


def same_config(existing: StreamRecord, request: CreateRequest, key: str | None) -> bool:
    if request.content_type is not None and framing.media_type(
        request.content_type
    ) != framing.media_type(existing.content_type):
        return False
    if (
        request.fork is None
        and request.content_type is None
        and framing.media_type(existing.content_type) != "application/octet-stream"
    ):
        return False
    return (
        existing.ttl_seconds == request.ttl_seconds
        and existing.expires_at == request.expires_at
        and existing.closed == request.closed
        and existing.fork_request == key
    )


def existing_result(
    existing: StreamRecord, request: CreateRequest, key: str | None
) -> CreateResult:
    """A PUT on a path that holds a stream: 200 if it asks for the same stream, else 409."""
    if existing.deleted:
        raise Conflict(
            f"stream {request.path!r} was deleted and is retained for its forks",
            code=ErrorCode.STREAM_DELETED,
        )
    if same_config(existing, request, key):
        return CreateResult(existing, created=False)
    raise StreamExists(f"stream {request.path!r} exists with a different configuration")


@dataclass(frozen=True, slots=True)
class ForkPlan:
    """Where a new fork starts and what it inherits, before any sub-offset is applied."""

    content_type: str
    position: int
    ttl_seconds: int | None
    expires_at: float | None


def plan_fork(request: CreateRequest, source: StreamRecord | None, now: float) -> ForkPlan:
    """Check a fork request against its source's record (404, 409, 400 as the protocol says)."""
    fork = request.fork
    assert fork is not None
    if source is None or (not source.deleted and source.expired(now)):
        raise StreamNotFound(f"fork source {fork.source_path!r} does not exist")
    if source.deleted:
        raise Conflict(
            f"fork source {fork.source_path!r} was deleted", code=ErrorCode.SOURCE_DELETED
        )
    content_type = request.content_type
    if content_type is None:
        content_type = source.content_type
    elif framing.media_type(content_type) != framing.media_type(source.content_type):
        raise Conflict(
            f"content type {content_type!r} differs from the source's {source.content_type!r}",
            code=ErrorCode.CONTENT_TYPE_MISMATCH,
        )
    position = source.tail if fork.offset is None else fork.offset
    if position < source.retained_from:
        raise offset_gone(source, position)
    if position > source.tail:
        raise BadRequest(
            "Stream-Fork-Offset is beyond the source's tail", code=ErrorCode.INVALID_OFFSET
        )
    ttl_seconds, expires_at = request.ttl_seconds, request.expires_at
    if ttl_seconds is None and expires_at is None:
        ttl_seconds, expires_at = source.ttl_seconds, source.expires_at
    return ForkPlan(content_type, position, ttl_seconds, expires_at)


def check_boundary(source: StreamRecord, read: ReadResult, position: int) -> None:
    """Refuse a fork offset inside a message: the fork would read back a cut message
    (in JSON mode, unparseable JSON). ``read`` is the source read from ``position`` with
    ``max_bytes=1``, which holds a message only if one starts exactly there. Offsets the
    server hands out are always message starts; ``Stream-Fork-Sub-Offset`` is how a fork
    starts inside a byte stream's message."""
    if position < source.tail and not read.messages:
        raise BadRequest(
            "Stream-Fork-Offset is not a message boundary of the source",
            code=ErrorCode.INVALID_OFFSET,
        )


def advance(source: StreamRecord, read: ReadResult, position: int, sub_offset: int) -> int:
    """The position ``sub_offset`` messages (JSON) or bytes (other types) past ``position``.

    ``read`` holds the source's messages from ``position`` on (enough to cover the offset).
    """
    json_mode = framing.is_json(source.content_type)
    remaining = sub_offset
    cursor = position
    for message in read.messages:
        if json_mode:
            cursor += len(message)
            remaining -= 1
        else:
            if remaining > len(message):
                break
            cursor += remaining
            remaining = 0
        if remaining == 0:
            return cursor
    raise BadRequest(
        f"Stream-Fork-Sub-Offset {sub_offset} is past the next data boundary",
        code=ErrorCode.INVALID_SUB_OFFSET,
    )


def offset_gone(stream: StreamRecord, position: int) -> OffsetGone:
    retained = format_offset(stream.retained_from)
    return OffsetGone(
        f"offset {format_offset(position)} is before the earliest retained position"
        f" {retained} of stream {stream.path!r}",
        retained_from=stream.retained_from,
        details={"retained_from": retained},
    )


def start_position(stream: StreamRecord, position: int) -> int:
    """Where a read from ``position`` starts: :data:`EARLIEST` is the earliest retained
    message; an explicit position before it is gone (410), never silently moved."""
    if position == EARLIEST:
        return stream.retained_from
    if position < stream.retained_from:
        raise offset_gone(stream, position)
    return position


def trim_target(
    stream: StreamRecord, before: int | None, keep_last: int | None, last_kept: int | None
) -> int | None:
    """How far a trim of ``stream`` may go before message boundaries and forks are
    considered: to ``before``, and short of its last ``keep_last`` messages (``last_kept``
    is where the earliest of them starts, None when it has no more than that); at most its
    tail. None when the trim would not move the retained position."""
    if keep_last is not None:
        if last_kept is None:
            return None
        keep_from = stream.tail if keep_last == 0 else last_kept
        before = keep_from if before is None else min(before, keep_from)
    target = stream.tail if before is None else min(before, stream.tail)
    return target if target > stream.retained_from else None


def trim_limit(forks: Iterable[StreamRecord]) -> int | None:
    """The lowest position a stream's direct forks still read from it (None: no limit).

    A fork reads its source from its own retained position up to its fork position, so a
    trim of the source stops at the lowest such start; a fork trimmed past its fork
    position reads nothing of the source any more and does not hold it back."""
    starts = [fork.retained_from for fork in forks if fork.retained_from < fork.fork_pos]
    return min(starts) if starts else None


def plan_trim(stream: StreamRecord, boundary: int, forks: Iterable[StreamRecord]) -> int:
    """The new retained position: the message ``boundary`` at or below the asked position,
    held back by the forks that still read below it; never below the current one."""
    limit = trim_limit(forks)
    if limit is not None:
        boundary = min(boundary, limit)
    return max(boundary, stream.retained_from)


class ChunkBuilder:
    """Collects one read across the levels of a fork chain, root first.

    Backends fetch each level's messages (``start >= position AND start < upper``, in
    order) and feed them here; it trims a message that crosses its level's upper bound
    and stops at about ``max_bytes``. :meth:`scan_end` tells how far a query needs to
    look, since stored positions are contiguous byte offsets.
    """

    def __init__(self, stream: StreamRecord, position: int, max_bytes: int) -> None:
        position = start_position(stream, position)
        self.result = ReadResult(stream=stream, next_position=position)
        self.position = position
        self.max_bytes = max_bytes
        self.size = 0
        self._skipped = False

    @property
    def done(self) -> bool:
        return self.position >= self.result.stream.tail or self.size >= self.max_bytes

    def scan_end(self, upper: int) -> int:
        """An exclusive bound on message starts worth fetching for a level."""
        return min(upper, self.position + self.max_bytes)

    def take(self, rows: Iterable[tuple[int, bytes]], upper: int) -> None:
        result = self.result
        for start, data in rows:
            if not result.messages and start > self.position:
                self._skipped = True
            end = start + len(data)
            if end > upper:
                data = data[: upper - start]
                end = upper
            result.messages.append(data)
            result.next_position = end
            self.size += len(data)
            if self.size >= self.max_bytes:
                return

    @property
    def maybe_trimmed(self) -> bool:
        """The read found nothing at its position, though the stream goes on past it: the
        position is inside a message, or a trim committed after the stream's record was
        loaded (the backend then checks the stored retained position)."""
        return self._skipped or (not self.result.messages and not self.done)

    def finish(self) -> ReadResult:
        result = self.result
        if self.position >= result.stream.tail:
            result.next_position = max(self.position, result.stream.tail)
        result.up_to_date = result.next_position >= result.stream.tail
        return result


def prefix_upper(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix`` (None: no bound).

    Both backends order paths by code point (SQLite's BINARY, PostgreSQL's "C"), so
    ``prefix <= path < prefix_upper(prefix)`` is a prefix match that an index can serve.
    """
    while prefix:
        last = ord(prefix[-1]) + 1
        if 0xD800 <= last <= 0xDFFF:  # surrogates are not text; skip to the next code point
            last = 0xE000
        if last <= 0x10FFFF:
            return prefix[:-1] + chr(last)
        prefix = prefix[:-1]
    return None
