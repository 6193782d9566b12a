"""The agent's events on the entity stream (``run``, ``step``, ``text``, ``tool_call`` ...)
and typed views of their rows, as the materialized state holds them.

Field names follow Electric's built-in collections: status, finish reason, model,
duration, input / output tokens, tool name, args, result, error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities import vocabulary as v
from ..state import StateStore
from ..state.events import insert, now_timestamp, update

# run.status
RUNNING, AWAITING, COMPLETED, FAILED, ABORTED = (
    "running",
    "awaiting_tool_results",
    "completed",
    "failed",
    "aborted",
)
RUN_DONE = frozenset({COMPLETED, FAILED, ABORTED})
# tool_call.status
PENDING, CALLING, AWAITING_RESULT, AWAITING_APPROVAL, DENIED = (
    "pending",
    "running",
    "awaiting_result",
    "awaiting_approval",
    "denied",
)
CALL_DONE = frozenset({COMPLETED, FAILED, DENIED})
SUPERSEDED = "superseded"


def run_event(value: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    build = insert if new else update
    return build(v.RUN, str(value["id"]), value)


def step_event(value: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    build = insert if new else update
    return build(v.STEP, str(value["id"]), value)


def text_event(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return update(v.TEXT, key, value)


def reasoning_event(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return update(v.REASONING, key, value)


def delta_event(kind: str, key: str, value: dict[str, Any]) -> dict[str, Any]:
    return insert(kind, key, value)


def tool_call_event(value: dict[str, Any], *, new: bool = False) -> dict[str, Any]:
    build = insert if new else update
    return build(v.TOOL_CALL, str(value["id"]), value)


def error_event(key: str, message: str, kind: str, run_id: str | None) -> dict[str, Any]:
    return insert(
        v.ERROR, key, {"message": message, "kind": kind, "run_id": run_id, "at": now_timestamp()}
    )


@dataclass(frozen=True, slots=True)
class Rows:
    """Rows of the agent's collections, ordered by when they first appeared."""

    store: StateStore

    def _ordered(
        self, collection: str, field: str | None = None, equals: Any = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """The rows (those whose ``field`` equals ``equals``, if given) in stream order."""
        rows = self.store.collection(collection)
        if field is not None:
            # An index kept by the collection: the cost of the group, not of the history.
            return [(key, row) for key, row in rows.grouped(field, equals) if isinstance(row, dict)]
        items = [(key, row) for key, row in rows.items() if isinstance(row, dict)]
        items.sort(key=lambda item: rows.first_seen(item[0]))
        return items

    def runs(self) -> list[dict[str, Any]]:
        return [row for _, row in self._ordered(v.RUN)]

    def active_run(self) -> dict[str, Any] | None:
        active = [row for row in self.runs() if row.get("status") not in RUN_DONE]
        return active[-1] if active else None

    def steps(self, run_id: str) -> list[dict[str, Any]]:
        return [row for _, row in self._ordered(v.STEP, "run_id", run_id)]

    def calls(self, step_id: str) -> list[dict[str, Any]]:
        return [row for _, row in self._ordered(v.TOOL_CALL, "step_id", step_id)]

    def answer(self, call_id: str) -> dict[str, Any] | None:
        """The outside answer to a waiting call (result or approval), if one arrived."""
        row = self.store.collection(v.TOOL_RESULT).get(call_id)
        return row if isinstance(row, dict) else None

    def text(self, step_id: str) -> dict[str, Any] | None:
        row = self.store.collection(v.TEXT).get(step_id)
        return row if isinstance(row, dict) else None

    def deltas(self, kind: str, step_id: str) -> str:
        """The text a step's latest model attempt streamed (earlier attempts failed)."""
        parts = [row for _, row in self._ordered(kind, "step_id", step_id)]
        latest = max((int(row.get("attempt", 1)) for row in parts), default=1)
        parts = [row for row in parts if int(row.get("attempt", 1)) == latest]
        parts.sort(key=lambda row: int(row.get("seq", 0)))
        return "".join(str(row.get("delta", "")) for row in parts)
