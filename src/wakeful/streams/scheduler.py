"""Fires scheduled appends (timers, delayed messages) when they fall due.

Sleeps until the earliest due time or until a commit schedules something sooner. Firing
appends and deletes the schedule in one transaction, so a crash neither loses a timer nor
fires it twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from .storage import Storage

log = logging.getLogger("wakeful.scheduler")
MAX_SLEEP_SECONDS = 5.0


class Scheduler:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self._poke = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def poke(self) -> None:
        self._poke.set()

    def start(self) -> None:
        self._storage.on_schedule = self.poke
        self._task = asyncio.create_task(self._run(), name="wakeful-scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self._poke.clear()
            try:
                while await self._storage.fire_due_schedules(time.time()) > 0:
                    pass
                due = await self._storage.next_schedule()
            except Exception:
                log.exception("scheduler failed; retrying")
                due = time.time() + 1.0
            wait = MAX_SLEEP_SECONDS if due is None else max(0.0, due - time.time())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(wait, MAX_SLEEP_SECONDS)):
                    await self._poke.wait()
