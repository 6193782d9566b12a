"""Materializing an entity's state: latest snapshot plus the tail of its stream.

Waking an idle entity reads one snapshot and the events after it, never the whole log.
A bounded cache keeps the materialized state of recently active entities, so a busy entity
reads only what is new; an idle one costs nothing once it falls out of the cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import WakefulError
from ..settings import DEFAULTS
from ..state import StateStore
from ..streams.storage.access import PassStorage
from . import vocabulary as v
from .addressing import Address
from .definition import EntityType

SNAPSHOT_LABEL = "snapshot"
SNAPSHOT_EVERY_EVENTS = 500
READ_CHUNK_BYTES = 1 << 20


@dataclass(slots=True)
class Positioned:
    """A message of a JSON stream with the byte range it occupies."""

    start: int
    end: int
    value: Any


async def read_messages(
    storage: PassStorage, path: str, start: int, end: int
) -> AsyncIterator[Positioned]:
    """Messages of the JSON stream ``path`` that start in ``[start, end)``, with positions."""
    try:
        stream = await storage.head(path)
    except WakefulError:
        return
    position = start
    while position < end:
        result = await storage.read_from(stream, position, READ_CHUNK_BYTES)
        if not result.messages:
            return
        for raw in result.messages:
            if position >= end:
                return
            next_position = position + len(raw)
            try:
                value = orjson.loads(raw)
            except orjson.JSONDecodeError:
                value = None
            yield Positioned(position, next_position, value)
            position = next_position


def models_of(definition: EntityType) -> dict[str, type[Any] | None]:
    return {v.state_type(name): spec.model for name, spec in definition.state.items()}


@dataclass(slots=True)
class Loaded:
    store: StateStore
    snapshot_events: int  # events covered by the latest snapshot written


class StateCache:
    def __init__(self, storage: PassStorage, capacity: int = DEFAULTS.state_cache_size) -> None:
        self._storage = storage
        self._capacity = capacity
        self._entries: OrderedDict[str, Loaded] = OrderedDict()

    def drop(self, url: str) -> None:
        self._entries.pop(url, None)

    def put(self, url: str, loaded: Loaded) -> None:
        if self._capacity <= 0:
            return
        self._entries[url] = loaded
        self._entries.move_to_end(url)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)

    async def load(self, address: Address, definition: EntityType, upto: int) -> Loaded:
        """State materialized from position 0 (or the snapshot) to ``upto``; taken out of
        the cache, so its owner may advance it (and put it back)."""
        loaded = self._entries.pop(address.url, None)
        if loaded is None or loaded.store.position > upto:
            loaded = await self._from_snapshot(address, definition)
        await self.catch_up(loaded, address, upto)
        return loaded

    async def catch_up(self, loaded: Loaded, address: Address, upto: int) -> None:
        """Apply to ``loaded`` the events of the stream from where it is up to ``upto``."""
        store = loaded.store
        async for message in read_messages(self._storage, address.stream, store.position, upto):
            store.apply(message.value)
            store.position = message.end

    async def _from_snapshot(self, address: Address, definition: EntityType) -> Loaded:
        models = models_of(definition)
        labels = await self._storage.labels(address.stream)
        at = labels.get(SNAPSHOT_LABEL)
        if at is not None:
            try:
                async for message in read_messages(
                    self._storage, address.snapshots, int(at), int(at) + (1 << 40)
                ):
                    store = StateStore.restore(message.value, models)
                    return Loaded(store, store.events)
            except (WakefulError, ValueError, TypeError):
                pass  # an unreadable snapshot only costs a full replay
        return Loaded(StateStore(models), 0)
