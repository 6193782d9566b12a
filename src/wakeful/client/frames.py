"""Reading an entity's stream off the wire: SSE frames and per-event offsets.

The server sends a live read as pairs of SSE events, ``data`` (a JSON array of messages)
then ``control`` (``streamNextOffset`` and flags), always in one write. A data event is
only used together with its control event, so a connection that drops between the two
loses nothing: the observer reconnects from the last control's offset and gets the
batch again.

Offsets are byte positions, and a JSON stream's read is ``[`` + the stored messages joined
by ``,`` + ``]``. Splitting the array at its top-level commas gives each message's exact
bytes, so the offset just after every single event can be computed back from the end of
its batch. That is what lets a consumer stop after any event and resume from it.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest
from ..streams.offsets import format_offset, parse_offset
from .models import Event

# A JSON string (skipped whole, so commas and brackets inside it do not count) or one of
# the structural characters that matter for splitting.
_TOKENS = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},]', re.DOTALL)


def split_array(body: bytes) -> list[bytes]:
    """The elements of a JSON array exactly as they appear in ``body``."""
    start = body.index(b"[") + 1
    depth = 0
    parts: list[bytes] = []
    for match in _TOKENS.finditer(body, start):
        token = match.group()
        if token[:1] == b'"':
            continue
        if token in (b"[", b"{"):
            depth += 1
        elif token in (b"]", b"}"):
            if depth == 0:
                last = body[start : match.start()]
                if parts or last.strip():
                    parts.append(last.strip())
                return parts
            depth -= 1
        elif depth == 0:  # a top-level comma
            parts.append(body[start : match.start()].strip())
            start = match.end()
    raise ValueError("unterminated JSON array")


def _position(offset: str | None) -> int | None:
    if offset is None:
        return None
    try:
        return parse_offset(offset)
    except BadRequest:
        return None


def decode_batch(body: bytes, start: str | None, end: str) -> list[Event]:
    """The change events of one read (``body``, a JSON array) that began at offset ``start``
    (``None`` if unknown) and ended at ``end``, each with the offset just after it.

    Should the bytes not add up (a server formatting reads differently), every event gets
    ``end``, which is still a correct place to resume after the whole batch."""
    parts = split_array(body)
    messages: list[Any] = [orjson.loads(part) for part in parts]
    offsets = [end] * len(parts)
    tail = _position(end)
    head = _position(start)
    total = sum(len(part) for part in parts)
    if tail is not None and (head is None or tail - head == total):
        position = tail
        for index in range(len(parts) - 1, -1, -1):
            offsets[index] = format_offset(position)
            position -= len(parts[index])
    events = []
    for message, offset in zip(messages, offsets, strict=True):
        event = Event.from_message(message, offset) if isinstance(message, dict) else None
        if event is not None:
            events.append(event)
    return events


@dataclass(frozen=True, slots=True)
class Batch:
    """One data event (``None`` when the control came alone) with its control event."""

    data: bytes | None
    next_offset: str
    up_to_date: bool
    closed: bool


async def sse_batches(lines: AsyncIterator[str]) -> AsyncIterator[Batch]:
    """Pairs of data and control events from the lines of an SSE response."""
    name, data, pending = "message", [], None
    async for line in lines:
        if line.startswith(":"):
            continue  # a comment: keepalive
        if line:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
            continue
        if data or name != "message":
            payload = "\n".join(data)
            if name == "data":
                pending = payload.encode()
            elif name == "control":
                control = orjson.loads(payload)
                yield Batch(
                    pending,
                    str(control["streamNextOffset"]),
                    bool(control.get("upToDate")),
                    bool(control.get("streamClosed")),
                )
                pending = None
        name, data = "message", []
