"""A materialized collection: rows by key, typed by an optional Pydantic model."""

from __future__ import annotations

import bisect
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, ValidationError

from .events import Change

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
log = logging.getLogger("wakeful.state")

Listener = Callable[[Change], None]


class Collection(Generic[T]):
    """Rows of one event type. Values are validated into ``model`` when one is given.

    A stored value that no longer fits the model (say, after the model changed) is kept as
    the raw JSON value rather than dropped: the stream is the truth, not the model."""

    def __init__(self, name: str, model: type[T] | None = None) -> None:
        self.name = name
        self.model = model
        self._rows: dict[str, T] = {}
        self._raw: dict[str, Any] = {}
        self._first_seen: dict[str, int] = {}
        self._listeners: list[Listener] = []
        self._groups: dict[str, _Groups] = {}
        # Typed views of rows (see ``view``), each with the raw value it was made from.
        self._views: dict[str, tuple[Any, BaseModel]] = {}

    def _decode(self, value: Any) -> T:
        model = self.model
        if model is not None and isinstance(model, type) and issubclass(model, BaseModel):
            try:
                return model.model_validate(value)  # type: ignore[return-value,unused-ignore]
            except ValidationError as exc:
                log.warning("row of %s does not match %s: %s", self.name, model.__name__, exc)
        return value  # type: ignore[no-any-return]

    def apply(self, change: Change, sequence: int = 0) -> None:
        """Apply a change; ``sequence`` (the event's index in its stream) orders rows across
        collections by when they first appeared."""
        if change.operation == "delete":
            self._rows.pop(change.key, None)
            self._raw.pop(change.key, None)
            self._first_seen.pop(change.key, None)
            self._views.pop(change.key, None)
        else:
            self._first_seen.setdefault(change.key, sequence)
            self._rows[change.key] = self._decode(change.value)
            self._raw[change.key] = change.value
        for groups in self._groups.values():
            groups.update(change.key, self._rows.get(change.key, _MISSING), self._first_seen)
        for listener in list(self._listeners):
            listener(change)

    def clear(self) -> None:
        self._rows.clear()
        self._raw.clear()
        self._first_seen.clear()
        self._groups.clear()
        self._views.clear()

    def copy(self) -> Collection[T]:
        """An independent copy, with no listeners: its rows are copies (a writer may change
        a row of the copy in place), validated into ``model`` again. The indexes of
        :meth:`grouped` and the views are rebuilt on demand."""
        twin: Collection[T] = Collection(self.name, self.model)
        # One JSON round trip in C copies every row deeply, far cheaper than replaying the
        # events that made them.
        raw: dict[str, Any] = orjson.loads(orjson.dumps(self._raw))
        twin._raw = raw
        twin._rows = (
            dict(raw) if self.model is None else {k: twin._decode(v) for k, v in raw.items()}
        )
        twin._first_seen = dict(self._first_seen)
        return twin

    def order(self) -> dict[str, int]:
        """``first_seen`` of every row, for snapshots."""
        return dict(self._first_seen)

    def first_seen(self, key: str) -> int:
        """The stream-wide index of the event that created this row."""
        return self._first_seen.get(key, 0)

    def on_change(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener`` on every applied change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def get(self, key: str) -> T | None:
        return self._rows.get(key)

    def raw(self, key: str) -> Any:
        return self._raw.get(key)

    def view(self, key: str, model: type[M]) -> M | None:
        """The row ``key`` read as ``model`` (None if there is none, or it is no object).

        For collections kept as raw JSON whose readers want typed rows: each version of a
        row is validated once, by its first reader, and the others get the same (frozen,
        ideally) instance. Cheaper than a model on the collection, which would validate
        every change, read or not."""
        raw = self._raw.get(key)
        cached = self._views.get(key)
        if cached is not None and cached[0] is raw and type(cached[1]) is model:
            return cached[1]
        if not isinstance(raw, dict):
            return None
        row = read_row(model, raw)
        # Holding ``raw`` keeps its identity from being reused while the entry lives.
        self._views[key] = (raw, row)
        return row

    def grouped_views(self, field: str, value: Any, model: type[M]) -> list[M]:
        """:meth:`view` of each row of :meth:`grouped` (those that are objects).

        The agent loop reads its run's steps this way at every step, so the common case
        (a row already viewed, unchanged since) is inlined."""
        groups = self._groups.get(field)
        if groups is None:
            self.grouped(field, value)  # builds the index
            groups = self._groups[field]
        try:
            keys: Iterable[str] = groups.members.get(value, ())
        except TypeError:
            keys = [key for key, _ in self.grouped(field, value)]
        raw_rows, views = self._raw, self._views
        found: list[M] = []
        for key in keys:
            cached = views.get(key)
            if cached is not None and cached[0] is raw_rows[key] and type(cached[1]) is model:
                found.append(cached[1])
                continue
            row = self.view(key, model)
            if row is not None:
                found.append(row)
        return found

    def keep_view(self, key: str, row: BaseModel) -> None:
        """Take ``row`` as the view of the row ``key`` as it is now: for a writer that
        applied the row's own dump, so that its readers need not validate it again."""
        if key in self._raw:
            self._views[key] = (self._raw[key], row)

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._rows.values()))

    def keys(self) -> list[str]:
        return list(self._rows)

    def items(self) -> list[tuple[str, T]]:
        return list(self._rows.items())

    def where(self, **equals: Any) -> list[T]:
        """Rows whose fields equal the given values (attributes or dict keys)."""
        return [
            row
            for row in self._rows.values()
            if all(_field(row, k) == v for k, v in equals.items())
        ]

    def grouped(self, field: str, value: Any) -> list[tuple[str, T]]:
        """Rows whose ``field`` equals ``value``, as (key, row), in the order they first
        appeared. The first call builds an index on ``field``; changes keep it current, so
        a later call costs the size of the group, not of the collection."""
        groups = self._groups.get(field)
        if groups is None:
            groups = self._groups[field] = _Groups(field)
            for key in sorted(self._rows, key=self._first_seen.__getitem__):
                groups.update(key, self._rows[key], self._first_seen)
        try:
            keys = groups.members.get(value, ())
        except TypeError:  # an unhashable value is in no group: look at every row
            return [(key, row) for key, row in self._rows.items() if _field(row, field) == value]
        return [(key, self._rows[key]) for key in keys]

    def query(
        self,
        predicate: Callable[[T], bool] | None = None,
        *,
        order_by: Callable[[T], Any] | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[T]:
        rows = [row for row in self._rows.values() if predicate is None or predicate(row)]
        if order_by is not None:
            rows.sort(key=order_by, reverse=descending)
        return rows if limit is None else rows[:limit]

    def snapshot(self) -> dict[str, Any]:
        return dict(self._raw)


def read_row(model: type[M], value: dict[str, Any]) -> M:
    """``value`` as ``model``, validated; a value that does not fit (written by an older
    or foreign writer) is taken as it is, with a warning, rather than lost: the stream is
    the truth, not the model."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        log.warning("row does not match %s: %s", model.__name__, exc)
        return model.model_construct(**value)


def _field(row: Any, name: str) -> Any:
    if isinstance(row, dict):
        return row.get(name)
    return getattr(row, name, None)


_MISSING: Any = object()


class _Groups:
    """Keys of a collection grouped by the value of one field, each group in the order the
    rows first appeared."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.members: dict[Any, list[str]] = {}
        self.value_of: dict[str, Any] = {}

    def update(self, key: str, row: Any, first_seen: dict[str, int]) -> None:
        old = self.value_of.get(key, _MISSING)
        new = _MISSING if row is _MISSING else _field(row, self.field)
        if old is not _MISSING and new is not _MISSING and old == new:
            return  # the common update: the grouping field did not change
        if old is not _MISSING:
            self.members[old].remove(key)
            if not self.members[old]:
                del self.members[old]
            del self.value_of[key]
        if new is _MISSING:
            return
        try:
            group = self.members.setdefault(new, [])
        except TypeError:
            return  # unhashable: grouped() scans for such values
        self.value_of[key] = new
        position = first_seen.get(key, 0)
        if not group or first_seen.get(group[-1], 0) <= position:
            group.append(key)  # rows almost always arrive in stream order
        else:
            bisect.insort(group, key, key=lambda member: first_seen.get(member, 0))
