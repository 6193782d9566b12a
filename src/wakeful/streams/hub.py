"""Wakes live readers the moment a stream changes, instead of having them poll.

A waiter takes the stream's current ``asyncio.Event`` *before* it reads, so a change that
lands between its read and its wait still wakes it. Publishing sets the event and drops
it; the next waiter gets a fresh one. Everything runs on the event loop's thread; storage
backends hand changes over with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable


class ChangeHub:
    def __init__(self) -> None:
        self._events: dict[int, asyncio.Event] = {}

    def watch(self, stream_id: int) -> asyncio.Event:
        event = self._events.get(stream_id)
        if event is None:
            event = self._events[stream_id] = asyncio.Event()
        return event

    def publish(self, stream_ids: Iterable[int]) -> None:
        for stream_id in stream_ids:
            event = self._events.pop(stream_id, None)
            if event is not None:
                event.set()

    def publish_all(self) -> None:
        """Wake every waiter, for when changes may have been missed (a lost connection)."""
        self.publish(list(self._events))

    @staticmethod
    async def wait(event: asyncio.Event, seconds: float) -> bool:
        """True if the event fired within ``seconds``."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await event.wait()
                return True
        return False

    def __len__(self) -> int:
        return len(self._events)
