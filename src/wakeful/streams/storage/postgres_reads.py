"""Identical reads in flight at once share one query (PostgreSQL backend).

When an append lands on a stream that a hundred live readers follow, all of them wake
together and ask for the same thing: the stream's record, then the messages after the
same position. With SQLite those are local reads; here each is a round trip through a
pool of a few connections, and the readers queue behind each other. So a read joins an
identical one already running, if it may: only if nothing was published to the hub
since that one started. A reader that was woken by a publication (or watched before one)
therefore never gets an answer from before it, which keeps the hub's rule intact: watch,
then read, then wait, and no change slips between.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar

from ..hub import ChangeHub

T = TypeVar("T")


class CountingHub(ChangeHub):
    """A hub that counts its publications."""

    def __init__(self) -> None:
        super().__init__()
        self.publications = 0

    def publish(self, stream_ids: Iterable[int]) -> None:
        self.publications += 1
        super().publish(stream_ids)


class SharedReads:
    def __init__(self, hub: CountingHub) -> None:
        self._hub = hub
        self._flights: dict[Hashable, asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
        """``read()``, or the result of an identical read started since the last publication."""
        key = (key, self._hub.publications)
        flight = self._flights.get(key)
        if flight is None:
            flight = asyncio.ensure_future(read())
            self._flights[key] = flight
            flight.add_done_callback(lambda done: self._landed(key, done))
        # One caller giving up (a reader disconnecting) does not cancel the others' read.
        result: T = await asyncio.shield(flight)
        return result

    def _landed(self, key: Hashable, flight: asyncio.Future[Any]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
        if not flight.cancelled():
            with contextlib.suppress(Exception):
                flight.exception()  # retrieved here too, if every caller gave up
