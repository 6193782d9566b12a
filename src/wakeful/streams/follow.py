"""Following a stream live from inside the server: catch up, then wait on the hub.

:func:`changes` is the one loop that watches a stream for the runtime's followers (the
wake follower, a pass's signal watcher, the remote-types follower, and :func:`follow`,
which the AG-UI endpoint reads through): it yields the stream's head now, then each time
an append may have changed it. The HTTP long-poll and SSE reads do not use it: they look
a stream up by id (a deleted and recreated path must end them), answer within a client's
deadline, notice clients that went away and send keepalives, none of which a follower
inside the server does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from ..errors import WakefulError
from .model import StreamRecord
from .storage.access import PassStorage

IDLE_RECHECK_SECONDS = 15.0


@dataclass(frozen=True, slots=True)
class Entry:
    start: int
    end: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Head:
    """The stream as :func:`changes` read it, and whether an append was announced since
    the previous one (False after ``idle`` quiet seconds)."""

    stream: StreamRecord
    announced: bool

    @property
    def tail(self) -> int:
        return self.stream.tail


async def changes(
    storage: PassStorage, path: str, *, idle: float = IDLE_RECHECK_SECONDS
) -> AsyncIterator[Head]:
    """The head of ``path`` now, then after every change the hub announces for it (or
    every ``idle`` seconds when none comes); ends when the stream is gone.

    The hub is watched before the head is read, so an append landing in between (in this
    process or, on a shared database, in another) still wakes the loop at once; and a
    stream recreated under the same path is followed anew."""
    stream_id: int | None = None
    announced = True
    while True:
        event = storage.hub.watch(stream_id) if stream_id is not None else None
        try:
            stream = await storage.head(path)
        except WakefulError:
            return
        if event is None or stream.id != stream_id:
            stream_id = stream.id
            continue
        yield Head(stream, announced)
        announced = await storage.hub.wait(event, idle)


async def follow(storage: PassStorage, path: str, start: int) -> AsyncIterator[Entry]:
    """Every message of ``path`` from ``start`` on, as it lands; ends when the stream is
    deleted, or closed and drained."""
    position = start
    async for head in changes(storage, path):
        while True:
            result = await storage.read_from(head.stream, position)
            for data in result.messages:
                end = position + len(data)
                yield Entry(position, end, data)
                position = end
            position = max(position, result.next_position)
            if not result.messages or position >= head.tail:
                break  # no read past the head seen: what lands later sets the hub's event
        if head.stream.closed:
            return
