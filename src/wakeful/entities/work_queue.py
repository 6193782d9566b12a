"""The queue of entities a worker has been told to claim, each queued at most once.

Shared by the in-process dispatcher (:class:`~wakeful.entities.runtime.Runtime`) and the
HTTP-only worker (``wakeful.serverless``): announcements come faster than passes, and an
entity announced ten times while queued needs one claim, not ten.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

log = logging.getLogger("wakeful.entities")


class WorkQueue:
    """The queue, and the tasks of the worker that takes from it (see :meth:`spawn`)."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._tasks: list[asyncio.Task[None]] = []

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` (a follower, or :meth:`work`) until :meth:`stop`."""
        self._tasks.append(asyncio.create_task(work, name=name))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def put(self, subscription_id: str) -> None:
        if subscription_id not in self._queued:
            self._queued.add(subscription_id)
            self._queue.put_nowait(subscription_id)

    async def work(self, process: Callable[[str], Awaitable[bool]]) -> None:
        """Take queued ids one at a time and ``process`` them, until cancelled; a failure
        of one is logged, and the next is taken."""
        while True:
            subscription_id = await self._queue.get()
            self._queued.discard(subscription_id)
            try:
                await process(subscription_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pass for %s failed", subscription_id)
