"""A thread's conversation as chat messages, read from its materialized stream.

User messages come from the inbox; each step of a run is an assistant message with its
text and tool calls. A step still running shows the text streamed so far (from its
deltas) with status ``streaming``; an interrupted step's text is ``superseded``.
"""

from __future__ import annotations

from typing import Any

from ..agent import records as r
from ..agent.history import inbox_text
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
    runs = r.Rows(store).runs()
    answered = {str(key) for run in runs for key in run.get("trigger") or ()}
    if any(key not in answered for key in store.collection(v.INBOX).order()):
        return STREAMING  # a message waits for (or is starting) its run
    if not runs:
        return COMPLETED
    return _FROM_RUN.get(str(runs[-1].get("status")), COMPLETED)


def thread_messages(store: StateStore) -> list[dict[str, Any]]:
    rows = r.Rows(store)
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
    for key, step in steps.items():
        if not isinstance(step, dict):
            continue
        text_row = rows.text(key)
        status = str(step.get("status"))
        if text_row is not None:
            content = str(text_row.get("text", ""))
            text_status = str(text_row.get("status", "completed"))
        else:
            content = rows.deltas(v.TEXT_DELTA, key)
            text_status = "streaming" if status == r.RUNNING else status
        calls = [
            {
                "id": call.get("id"),
                "name": call.get("name"),
                "args": call.get("args"),
                "status": call.get("status"),
                "kind": call.get("kind"),
                "result": call.get("result"),
                "error": call.get("error"),
                "attempts": call.get("attempts", 0),
                "last_error": call.get("last_error"),
            }
            for call in rows.calls(key)
        ]
        if not content and not calls and status != r.RUNNING:
            continue
        message = {
            "id": key,
            "role": "assistant",
            "run_id": step.get("run_id"),
            "content": content,
            "status": "superseded"
            if text_status == r.SUPERSEDED
            else ("streaming" if status == r.RUNNING else "complete"),
            "tool_calls": calls,
            "model": step.get("model"),
        }
        items.append((steps.first_seen(key), message))
    items.sort(key=lambda item: item[0])
    return [message for _, message in items]
