"""Folding a stream of State Protocol events into collections, with snapshots."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .collections import Collection
from .events import Change, Control, InvalidEvent, parse


class StateStore:
    """All collections of one stream, as of ``offset`` (a byte position in the stream)."""

    def __init__(self, models: Mapping[str, type[Any] | None] | None = None) -> None:
        self._models = dict(models or {})
        self.collections: dict[str, Collection[Any]] = {
            name: Collection(name, model) for name, model in self._models.items()
        }
        self.position = 0
        self.events = 0

    def collection(self, name: str) -> Collection[Any]:
        found = self.collections.get(name)
        if found is None:
            found = self.collections[name] = Collection(name, self._models.get(name))
        return found

    def apply(self, message: Any) -> Change | Control | None:
        """Apply one decoded message; messages that are not events are ignored."""
        try:
            event = parse(message)
        except InvalidEvent:
            return None
        self.events += 1
        if isinstance(event, Control):
            if event.control == "reset":
                for collection in self.collections.values():
                    collection.clear()
            return event
        self.collection(event.type).apply(event, self.events)
        return event

    def apply_all(self, messages: Iterable[Any], position: int | None = None) -> None:
        for message in messages:
            self.apply(message)
        if position is not None:
            self.position = position

    def copy(self) -> StateStore:
        """An independent copy at the same position (see :meth:`Collection.copy`)."""
        twin = StateStore(self._models)
        twin.collections = {name: c.copy() for name, c in self.collections.items()}
        twin.position, twin.events = self.position, self.events
        return twin

    def snapshot(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "events": self.events,
            "collections": {
                name: collection.snapshot()
                for name, collection in self.collections.items()
                if len(collection)
            },
            "order": {
                name: collection.order()
                for name, collection in self.collections.items()
                if len(collection)
            },
        }

    @classmethod
    def restore(
        cls, snapshot: Mapping[str, Any], models: Mapping[str, type[Any] | None] | None = None
    ) -> StateStore:
        store = cls(models)
        order = snapshot.get("order", {})
        for name, rows in snapshot.get("collections", {}).items():
            collection = store.collection(name)
            seen = order.get(name, {})
            for key, value in rows.items():
                collection.apply(Change(name, key, "insert", value), int(seen.get(key, 0)))
        store.position = int(snapshot.get("position", 0))
        store.events = int(snapshot.get("events", 0))
        return store

    def as_dict(self) -> dict[str, dict[str, Any]]:
        """Plain data of every non-empty collection, for comparisons and APIs."""
        return {name: c.snapshot() for name, c in self.collections.items() if len(c)}
