"""What a process runs beside serving HTTP, or instead of it: the entity runtime, the
scheduler, remote types, webhook deliveries and the expiry sweep.

``wakeful serve`` runs it inside the ASGI app's lifespan, ``wakeful worker`` on its own;
so this module imports nothing of the HTTP layer (no Starlette, no ``wakeful.server``),
and a worker process never loads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from .agent.limits import Concurrency
from .agent.metering import Meter
from .agent.provider import ModelCache, agent_resources
from .entities.definition import Registry
from .entities.remote_types import RemoteTypes
from .entities.retention import delete_idle, trim_wake_stream
from .entities.runtime import Runtime
from .settings import Settings
from .streams.paths import MOUNT
from .streams.scheduler import Scheduler
from .streams.storage import Storage, open_storage
from .streams.subscriptions.delivery import Dispatcher
from .streams.subscriptions.keys import load_keys

log = logging.getLogger("wakeful.background")


def make_storage(settings: Settings) -> Storage:
    options: dict[str, object] = {}
    if not settings.database.startswith(("postgresql://", "postgres://")):
        options["synchronous"] = settings.sqlite_synchronous
    return open_storage(settings.database, **options)


def callback_root(settings: Settings) -> str | None:
    """The streams root that webhook services call back to, if the process knows its URL."""
    return f"{settings.public_url.rstrip('/')}{MOUNT}" if settings.public_url else None


class Background:
    """The tasks a process runs beside (or instead of) serving HTTP.

    ``registry`` is the given one plus the database's remote types: use it, not the
    given one, for everything that spawns or messages entities."""

    def __init__(self, storage: Storage, registry: Registry, settings: Settings) -> None:
        self.storage = storage
        self.remote_types = RemoteTypes(storage, callback_root(settings))
        registry = registry.with_remote(self.remote_types)
        self.registry = registry
        self.settings = settings
        self.scheduler = Scheduler(storage)
        self.concurrency = Concurrency.of(settings)
        self.models = ModelCache()
        self.runtime = Runtime(
            storage,
            registry,
            settings=settings,
            resources=agent_resources(
                self.concurrency, self.models, meter=Meter.of(settings, storage)
            ),
        )
        self.dispatcher: Dispatcher | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.remote_types.start()
        key, secret = await load_keys(self.storage.subscriptions)
        self.dispatcher = Dispatcher(self.storage.subscriptions, key, secret)
        self.storage.subscriptions.on_wake = self.dispatcher.poke
        self.dispatcher.start()
        self.scheduler.start()
        if self.settings.run_workers:
            await self.runtime.start()
        self._sweeper = asyncio.create_task(self._sweep_expired())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        await self.runtime.stop()
        await self.models.aclose()
        await self.scheduler.stop()
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        await self.remote_types.stop()

    async def _sweep_expired(self) -> None:
        while True:
            await asyncio.sleep(self.settings.expiry_sweep_seconds)
            try:
                await self.storage.expire()
            except Exception:
                log.exception("expiry sweep failed")
            try:
                await trim_wake_stream(self.storage, self.settings.wake_retention or None)
            except Exception:
                log.exception("trimming the wake stream failed")
            if self.settings.run_workers:  # the processes that run a type delete its idle
                try:
                    await delete_idle(self.storage, self.registry)
                except Exception:
                    log.exception("deleting idle entities failed")
