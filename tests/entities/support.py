"""Helpers for entity tests: a running runtime over a real database, and stream readers.

A :class:`Harness` is what ``wakeful serve`` runs in its lifespan (storage, runtime,
scheduler, subscription dispatcher) without HTTP, plus an :class:`EntityService` to spawn,
send and signal. Asynchronous outcomes are awaited with :func:`eventually`, which polls
briefly instead of sleeping a fixed time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
from support.waiting import eventually, of_type

from wakeful.background import Background
from wakeful.entities.addressing import Address
from wakeful.entities.definition import Registry
from wakeful.entities.runtime import Runtime
from wakeful.entities.service import EntityService
from wakeful.errors import WakefulError
from wakeful.settings import Settings
from wakeful.state import StateStore
from wakeful.streams.storage import Storage

T = TypeVar("T")
DEFAULT_TIMEOUT = 5.0


async def read_raw(storage: Storage, path: str) -> list[tuple[int, int, Any]]:
    """Every message of a JSON stream as ``(start, end, decoded)`` byte positions."""
    try:
        stream = await storage.head(path)
    except WakefulError:
        return []
    found: list[tuple[int, int, Any]] = []
    position = 0
    while position < stream.tail:
        result = await storage.read_from(stream, position)
        if not result.messages:
            break
        for raw in result.messages:
            found.append((position, position + len(raw), orjson.loads(raw)))
            position += len(raw)
    return found


async def read_events(storage: Storage, path: str) -> list[dict[str, Any]]:
    return [value for _, _, value in await read_raw(storage, path)]


def wakes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The ``value`` of every ``wake`` record: one per handler pass that committed."""
    return [event["value"] for event in of_type(events, "wake")]


@dataclass
class Harness:
    storage: Storage
    registry: Registry
    background: Background
    service: EntityService

    @property
    def runtime(self) -> Runtime:
        return self.background.runtime

    async def events(self, url: str) -> list[dict[str, Any]]:
        return await read_events(self.storage, Address.parse(url).stream)

    async def materialize(self, url: str) -> StateStore:
        store = StateStore()
        for event in await self.events(url):
            store.apply(event)
        return store

    async def status(self, url: str) -> str:
        return (await self.service.get(url)).status

    async def wait_status(self, url: str, status: str, within: float = DEFAULT_TIMEOUT) -> None:
        async def probe() -> bool:
            return await self.status(url) == status

        await eventually(probe, within=within, what=f"{url} to be {status}")

    async def wait_events(
        self,
        url: str,
        predicate: Callable[[list[dict[str, Any]]], bool],
        *,
        within: float = DEFAULT_TIMEOUT,
        what: str = "events",
    ) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            found = await self.events(url)
            return found if predicate(found) else None

        result = await eventually(probe, within=within, what=f"{what} on {url}")
        assert result is not None
        return result

    async def wait_passes(self, url: str, count: int, within: float = DEFAULT_TIMEOUT) -> None:
        await self.wait_events(
            url, lambda found: len(wakes(found)) >= count, within=within, what=f"{count} passes"
        )

    async def stop(self) -> None:
        await self.background.stop()
        await self.storage.stop()


async def start_harness(
    storage: Storage, registry: Registry, *, workers: bool = True, concurrency: int = 8
) -> Harness:
    await storage.start()
    settings = Settings(run_workers=workers, worker_concurrency=concurrency)
    background = Background(storage, registry, settings)
    await background.start()
    return Harness(storage, registry, background, EntityService(storage, registry))
