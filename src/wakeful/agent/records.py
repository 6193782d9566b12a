"""The agent's events on the entity stream, and its rows as the materialized state holds
them, typed (:mod:`wakeful.agent.rows`) and in stream order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import vocabulary as v
from ..entities.resources import PASS_FAILED
from ..state import StateStore
from ..state.events import insert, now_timestamp, update
from .rows import (
    RUN_DONE,
    ContextRow,
    DeltaRow,
    ErrorRow,
    R,
    ReasoningRow,
    Row,
    RunRow,
    StepRow,
    TextRow,
    ToolCallRow,
    ToolResultRow,
)

#: The model of each of the agent's collections.
MODEL_OF: dict[str, type[Row]] = {
    v.RUN: RunRow,
    v.STEP: StepRow,
    v.TEXT: TextRow,
    v.TEXT_DELTA: DeltaRow,
    v.REASONING: ReasoningRow,
    v.REASONING_DELTA: DeltaRow,
    v.TOOL_CALL: ToolCallRow,
    v.TOOL_RESULT: ToolResultRow,
    v.ERROR: ErrorRow,
    v.CONTEXT_INSERTED: ContextRow,
}
#: The collection of each model of a row that is written again (deltas, the one model of
#: two collections, never are).
COLLECTION_OF: dict[type[Row], str] = {
    RunRow: v.RUN,
    StepRow: v.STEP,
    TextRow: v.TEXT,
    ToolCallRow: v.TOOL_CALL,
    ToolResultRow: v.TOOL_RESULT,
}


def row_event(row: RunRow | StepRow | ToolCallRow, *, new: bool = False) -> dict[str, Any]:
    """The change event that writes ``row`` (an insert for a ``new`` one)."""
    build = insert if new else update
    return build(COLLECTION_OF[type(row)], row.id, row.wire())


def change_event(kind: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    """An update of an existing row, given as its whole new value."""
    return update(kind, key, value)


def text_event(kind: str, row: Row, key: str) -> dict[str, Any]:
    """A step's whole text or reasoning (``kind``), keyed by the step."""
    return update(kind, key, row.wire())


def delta_event(kind: str, key: str, row: DeltaRow) -> dict[str, Any]:
    return insert(kind, key, row.wire())


def context_event(row: ContextRow) -> dict[str, Any]:
    """A summary or notice the runtime put into the context (written once, never again)."""
    return insert(v.CONTEXT_INSERTED, row.id, row.wire())


def error_event(key: str, message: str, kind: str, run_id: str | None) -> dict[str, Any]:
    row = ErrorRow(message=message, kind=kind, run_id=run_id, at=now_timestamp())
    return insert(v.ERROR, key, row.wire())


@dataclass(frozen=True, slots=True)
class Rows:
    """Typed rows of the agent's collections, ordered by when they first appeared."""

    store: StateStore

    def _group(self, kind: str, model: type[R], field: str, equals: str) -> list[R]:
        """The rows whose ``field`` equals ``equals``, in stream order: an index kept by
        the collection, so this costs the size of the group, not of the history."""
        return self.store.collection(kind).grouped_views(field, equals, model)

    def runs(self) -> list[RunRow]:
        rows = self.store.collection(v.RUN)
        keys = sorted(rows.keys(), key=rows.first_seen)
        found = (rows.view(key, RunRow) for key in keys)
        return [row for row in found if row is not None]

    def active_run(self) -> RunRow | None:
        active = [row for row in self.runs() if row.status not in RUN_DONE]
        return active[-1] if active else None

    def served(self, key: str | None) -> RunRow | None:
        """The run that served the wake ``key`` already (:meth:`Context.run_key`, in an
        earlier try of this pass), unless the runtime closed it because that pass failed
        for good: a resume then starts over."""
        if key is None:
            return None
        for run in reversed(self.runs()):
            if key in run.wakes:
                return None if run.finish_reason == PASS_FAILED else run
        return None

    def run(self, run_id: str) -> RunRow | None:
        return self.store.collection(v.RUN).view(run_id, RunRow)

    def step(self, step_id: str) -> StepRow | None:
        return self.store.collection(v.STEP).view(step_id, StepRow)

    def steps(self, run_id: str) -> list[StepRow]:
        return self._group(v.STEP, StepRow, "run_id", run_id)

    def call(self, call_id: str) -> ToolCallRow | None:
        return self.store.collection(v.TOOL_CALL).view(call_id, ToolCallRow)

    def calls(self, step_id: str) -> list[ToolCallRow]:
        return self._group(v.TOOL_CALL, ToolCallRow, "step_id", step_id)

    def answer(self, call_id: str) -> ToolResultRow | None:
        """The outside answer to a waiting call (result or approval), if one arrived."""
        return self.store.collection(v.TOOL_RESULT).view(call_id, ToolResultRow)

    def text(self, step_id: str) -> TextRow | None:
        return self.store.collection(v.TEXT).view(step_id, TextRow)

    def inserted(self) -> list[ContextRow]:
        """The runtime's summaries and notices, in stream order."""
        rows = self.store.collection(v.CONTEXT_INSERTED)
        found = (rows.view(key, ContextRow) for key in sorted(rows.keys(), key=rows.first_seen))
        return [row for row in found if row is not None]

    def deltas(self, kind: str, step_id: str) -> str:
        """The text a step's latest model attempt streamed (earlier attempts failed)."""
        parts = self._group(kind, DeltaRow, "step_id", step_id)
        latest = max((part.attempt for part in parts), default=1)
        parts = [part for part in parts if part.attempt == latest]
        parts.sort(key=lambda part: part.seq)
        return "".join(part.delta for part in parts)
