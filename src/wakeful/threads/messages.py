"""A thread's conversation as chat messages, read from its materialized stream.

User messages come from the inbox; each step of a run is an assistant message with its
text and tool calls. A step still running shows the text streamed so far (from its
deltas) with status ``streaming``; an interrupted step's text is ``superseded``.
"""

from __future__ import annotations

from typing import Any

from ..agent import rows as r
from ..agent.history import inbox_text
from ..agent.records import Rows
from ..entities import vocabulary as v
from ..state import StateStore

# Thread status from its latest run.
STREAMING, AWAITING, COMPLETED, FAILED, STOPPED = (
    "streaming",
    "awaiting_tool_results",
    "completed",
    "failed",
    "stopped",
)
_FROM_RUN = {
    r.RUNNING: STREAMING,
    r.AWAITING: AWAITING,
    r.COMPLETED: COMPLETED,
    r.FAILED: FAILED,
    r.ABORTED: STOPPED,
}


def thread_status(store: StateStore, entity_status: str) -> str:
    if entity_status == "failed":
        return FAILED
    if entity_status in ("stopped", "killed"):
        return STOPPED
    runs = Rows(store).runs()
    answered = {key for run in runs for key in run.trigger}
    if any(key not in answered for key in store.collection(v.INBOX).order()):
        return STREAMING  # a message waits for (or is starting) its run
    if not runs:
        return COMPLETED
    return _FROM_RUN.get(runs[-1].status, COMPLETED)


def thread_messages(store: StateStore) -> list[dict[str, Any]]:
    rows = Rows(store)
    items: list[tuple[int, dict[str, Any]]] = []
    inbox = store.collection(v.INBOX)
    for key, row in inbox.items():
        if isinstance(row, dict):
            message = {
                "id": key,
                "role": "user",
                "content": inbox_text(row.get("payload")),
                "status": "complete",
                "from": row.get("from"),
            }
            items.append((inbox.first_seen(key), message))
    steps = store.collection(v.STEP)
    for key in steps.keys():  # noqa: SIM118 (a Collection, not a dict)
        step = rows.step(key)
        if step is None:
            continue
        text_row = rows.text(key)
        status: str = step.status
        if text_row is not None:
            content = text_row.text
            text_status: str = text_row.status
        else:
            content = rows.deltas(v.TEXT_DELTA, key)
            text_status = "streaming" if status == r.RUNNING else status
        calls = [
            {
                "id": call.id,
                "name": call.name,
                "args": call.args,
                "status": call.status,
                "kind": call.kind,
                "result": call.result,
                "error": call.error,
                "attempts": call.attempts,
                "last_error": call.last_error,
            }
            for call in rows.calls(key)
        ]
        if not content and not calls and status != r.RUNNING:
            continue
        message = {
            "id": key,
            "role": "assistant",
            "run_id": step.run_id,
            "content": content,
            "status": "superseded"
            if text_status == r.SUPERSEDED
            else ("streaming" if status == r.RUNNING else "complete"),
            "tool_calls": calls,
            "model": step.model,
        }
        items.append((steps.first_seen(key), message))
    items.sort(key=lambda item: item[0])
    return [message for _, message in items]
