"""The dispatcher: claims woken entities and runs their passes.

Each entity is a pull-wake subscription over its own stream (and whatever it observes).
An append that gives an idle entity work records a wake in the same transaction, and
announces it on the wake stream. Every worker process follows that stream live, tries to
claim each announced entity (the database lets exactly one win), and runs the pass. A
worker that dies holds its claims only until their leases run out; the wake is then
announced again and another worker takes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time

import orjson

from ..errors import Conflict, NotFound, OffsetGone, UnknownEntityType, WakefulError
from ..settings import DEFAULTS, Settings
from ..streams.follow import changes
from ..streams.model import CreateRequest, StreamRecord
from ..streams.storage import Storage
from ._runtime.runner import PassRunner
from .addressing import WAKE_STREAM, from_subscription_id
from .definition import Registry
from .loading import StateCache
from .resources import Resources
from .work_queue import WorkQueue

log = logging.getLogger("wakeful.entities")


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Runtime:
    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        *,
        settings: Settings = DEFAULTS,
        name: str | None = None,
        resources: Resources | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.name = name or worker_name()
        self.cache = StateCache(storage, settings.state_cache_size)
        self.passes = PassRunner(storage, registry, self.cache, self.name, resources)
        self._queue = WorkQueue()
        self._concurrency = settings.worker_concurrency
        self.passes_run = 0
        self.trimmed_past = 0  # times the wake stream's retention overtook the follower

    async def start(self) -> None:
        await ensure_wake_stream(self.storage)
        tail = (await self.storage.head(WAKE_STREAM)).tail
        await self._enqueue_outstanding()
        self._queue.spawn(self._follow(tail), "wakeful-wake-follower")
        for index in range(self._concurrency):
            self._queue.spawn(self._queue.work(self.process), f"wakeful-worker-{index}")

    async def stop(self) -> None:
        await self._queue.stop()

    def _enqueue(self, subscription_id: str) -> None:
        self._queue.put(subscription_id)

    async def _enqueue_outstanding(self) -> None:
        """Queue the wakes the subscriptions table holds unclaimed (it is the truth; the
        wake stream only announces them)."""
        for subscription_id in await self.storage.subscriptions.outstanding_wakes():
            self._enqueue(subscription_id)

    async def _follow(self, position: int) -> None:
        """Follow the wake stream from ``position``, queueing every announced entity."""
        while True:
            try:
                async for head in changes(self.storage, WAKE_STREAM, idle=5.0):
                    if not head.announced:
                        # Quiet: pick up wakes no announcement reached us for (more than
                        # one start-up scan returns, or announced while this process was
                        # down).
                        await self._enqueue_outstanding()
                    position = await self._read_wakes(head.stream, position)
                await ensure_wake_stream(self.storage)  # gone: make it again
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("following the wake stream failed; retrying")
                await asyncio.sleep(1.0)
                with contextlib.suppress(WakefulError):
                    await ensure_wake_stream(self.storage)

    async def _read_wakes(self, stream: StreamRecord, position: int) -> int:
        """Queue the entities announced from ``position`` on; returns where reading ended."""
        while True:
            try:
                result = await self.storage.read_from(stream, position)
            except OffsetGone as gone:
                # Trimmed past us by the wake stream's retention: what was announced in the
                # trimmed part is still in the subscriptions table, so skip ahead and queue
                # every outstanding wake from there.
                position = max(gone.retained_from or 0, stream.retained_from)
                self.trimmed_past += 1
                await self._enqueue_outstanding()
                continue
            for raw in result.messages:
                with contextlib.suppress(ValueError):
                    wake = orjson.loads(raw)
                    if isinstance(wake, dict) and isinstance(wake.get("subscription_id"), str):
                        self._enqueue(wake["subscription_id"])
            position = result.next_position
            if not result.messages or position >= stream.tail:
                # Read no further than the head seen: later wakes set the hub's event.
                return position

    async def process(self, subscription_id: str) -> bool:
        """Claim and run one entity's pending wake; False if there was nothing to claim."""
        address = from_subscription_id(subscription_id)
        if address is None:
            return False
        if address.type not in self.registry:
            return False  # another worker's registry may know this type
        try:
            row = await self.storage.subscriptions.claim(subscription_id, self.name)
        except (Conflict, NotFound):
            return False
        started = time.perf_counter()
        try:
            await self.passes.run(address, row)
        except UnknownEntityType:
            return False
        except WakefulError as exc:
            log.warning("%s: pass abandoned (%s: %s)", address, exc.code, exc.message)
            return False
        self.passes_run += 1
        log.debug("%s: pass done in %.1f ms", address, (time.perf_counter() - started) * 1000)
        return True


async def ensure_wake_stream(storage: Storage) -> None:
    await storage.create(CreateRequest(WAKE_STREAM, "application/json", None, None, False, b""))
