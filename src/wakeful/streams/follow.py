"""Following a stream live from inside the server: catch up, then wait on the hub."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..errors import WakefulError
from .storage import Storage

IDLE_RECHECK_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Entry:
    start: int
    end: int
    data: bytes


async def follow(storage: Storage, path: str, start: int) -> AsyncIterator[Entry]:
    """Every message of ``path`` from ``start`` on, as it lands; ends when the stream is
    deleted, or closed and drained."""
    position = start
    stream_id: int | None = None
    while True:
        # Watch before reading the tail, so a message committed in between still wakes us.
        event = storage.hub.watch(stream_id) if stream_id is not None else None
        try:
            stream = await storage.head(path)
        except WakefulError:
            return
        if event is None or stream.id != stream_id:
            stream_id = stream.id
            continue
        result = await storage.read_from(stream, position)
        for data in result.messages:
            end = position + len(data)
            yield Entry(position, end, data)
            position = end
        position = max(position, result.next_position)
        if result.messages:
            continue
        if stream.closed:
            return
        await storage.hub.wait(event, IDLE_RECHECK_SECONDS)
