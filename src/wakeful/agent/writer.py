"""Writing the agent's rows in a pass: each change goes to the pass's progress (committed by
``ctx.flush()`` or the end of the pass) and to the pass's state at once, so the writer reads
its own writes. Progress, not output: the handler's own writes wait for the pass's final
commit, while the run's rows are flushed as it goes (see ``wakeful.entities.context``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from . import records as r
from .rows import RunRow, StepRow, ToolCallRow

if TYPE_CHECKING:
    from ..entities.context import Context

RowT = TypeVar("RowT", RunRow, StepRow, ToolCallRow)


@dataclass(frozen=True, slots=True)
class RowWriter:
    ctx: Context

    def emit(self, event: dict[str, Any]) -> None:
        self.ctx.progress.events.append(event)
        self.ctx.store.apply(event)

    def insert(self, row: RowT) -> RowT:
        """Write a new row. The store keeps the row itself as its typed view, so that the
        next read of it costs no validation."""
        event = r.row_event(row, new=True)
        self.emit(event)
        self.ctx.store.collection(event["type"]).keep_view(row.id, row)
        return row

    def save(self, row: RowT, **changes: Any) -> RowT:
        """Write ``row`` with ``changes`` (fields of its model, or extras); returns it as
        written. The new value is the stored one merged with ``changes``, validated once,
        here, into the row every reader of the pass shares."""
        model = type(row)
        kind = r.COLLECTION_OF[model]
        rows = self.ctx.store.collection(kind)
        stored = rows.raw(row.id)
        self.emit(r.change_event(kind, row.id, {**(stored or row.wire()), **changes}))
        saved = rows.view(row.id, model)
        assert saved is not None
        return saved
