"""Building the model's messages from the entity's stream.

Inbox messages become user turns; each completed step becomes an assistant turn (its text
and tool calls), followed by one tool turn per call with its result or error. Everything is
read from materialized state, so a resumed run sees exactly what was persisted. Oversized
tool results are truncated to a budget so one large result cannot crowd out the rest.

What the runtime put into the context (``context_inserted`` rows) takes part too: the
latest compaction summary stands, as a user turn, in the place of every turn it replaces
(those up to its ``through`` watermark, which is where the summary goes, not where its
row landed: the turns after the watermark were kept word for word), and a window notice
is a system turn where it was recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..entities import vocabulary as v
from ..state import StateStore
from .models.base import Message, ToolCall
from .records import Rows
from .rows import (
    CALL_DONE,
    COMPLETED,
    DENIED,
    FAILED,
    SUPERSEDED,
    ContextRow,
    StepRow,
    ToolCallRow,
)
from .tokens import CHARS_PER_TOKEN

SUMMARY_HEADING = "Summary of the conversation so far (older turns were compacted into it):"


@dataclass(frozen=True, slots=True)
class Turn:
    """One unit of the conversation that compaction keeps or replaces whole: a user
    message, a step's assistant turn with its tool results, a summary or a notice.
    ``final`` turns can no longer change (a step whose calls all have results)."""

    order: int
    messages: tuple[Message, ...]
    final: bool
    type: str
    key: str


def inbox_text(payload: Any) -> str:
    """What a user turn says: a string as is, ``{"text"|"content": ...}``, else JSON."""
    if isinstance(payload, str):
        return payload
    if isinstance(payload, dict):
        for field in ("text", "content", "message", "prompt"):
            if isinstance(payload.get(field), str):
                return str(payload[field])
    return orjson.dumps(payload).decode()


def result_text(call: ToolCallRow, budget_tokens: int | None) -> tuple[str, bool]:
    if call.status == DENIED:
        return f"The user denied this call. {call.error or ''}".strip(), True
    if call.status == FAILED:
        return f"Error: {call.error or 'tool failed'}", True
    result = call.result
    text = result if isinstance(result, str) else orjson.dumps(result).decode()
    if budget_tokens is not None and len(text) > budget_tokens * CHARS_PER_TOKEN:
        limit = budget_tokens * CHARS_PER_TOKEN
        text = text[:limit] + f"\n[truncated: {len(text) - limit} more characters]"
    return text, False


def build_messages(
    store: StateStore,
    *,
    tool_result_budget: int | None = 2000,
    cache: dict[str, list[Message]] | None = None,
) -> list[Message]:
    """The conversation so far. ``cache`` (kept by the caller between steps) holds the
    turns of steps that can no longer change, so that each step does not rebuild them."""
    turns = conversation_turns(store, tool_result_budget=tool_result_budget, cache=cache)
    return [message for turn in turns for message in turn.messages]


def summary_message(summary: ContextRow) -> Message:
    return Message("user", f"{SUMMARY_HEADING}\n\n{summary.text}")


def notice_message(notice: ContextRow) -> Message:
    return Message("system", f"<token_budget>{notice.text}</token_budget>")


def watermark(store: StateStore, row: ContextRow) -> int | None:
    """Where in the stream a summary's replaced turns end; None if it names no turn."""
    if row.through_type is None or row.through_key is None:
        return None
    turns = store.collection(row.through_type)
    if row.through_key not in turns:
        return None
    return turns.first_seen(row.through_key)


def latest_summary(store: StateStore) -> tuple[ContextRow, int] | None:
    """The summary history uses (the latest that names a turn), and its watermark."""
    for row in reversed(Rows(store).inserted()):
        if row.kind == "summary":
            mark = watermark(store, row)
            if mark is not None:
                return row, mark
    return None


def conversation_turns(
    store: StateStore,
    *,
    tool_result_budget: int | None = 2000,
    cache: dict[str, list[Message]] | None = None,
) -> list[Turn]:
    """The conversation as turns in stream order, the latest summary first in place of
    the turns it replaces."""
    rows = Rows(store)
    found: list[Turn] = []
    summary = latest_summary(store)
    after = -1
    if summary is not None:
        row, after = summary
        found.append(Turn(after, (summary_message(row),), True, v.CONTEXT_INSERTED, row.id))
    inbox = store.collection(v.INBOX)
    for key, value in inbox.items():
        order = inbox.first_seen(key)
        if order > after and isinstance(value, dict):
            message = Message("user", inbox_text(value.get("payload")))
            found.append(Turn(order, (message,), True, v.INBOX, key))
    inserted = store.collection(v.CONTEXT_INSERTED)
    for notice in rows.inserted():
        order = inserted.first_seen(notice.id)
        if notice.kind == "notice" and order > after:
            found.append(
                Turn(order, (notice_message(notice),), True, v.CONTEXT_INSERTED, notice.id)
            )
    steps = store.collection(v.STEP)
    for key in steps.keys():  # noqa: SIM118 (a Collection, not a dict)
        order = steps.first_seen(key)
        if order <= after:
            continue
        # A cached step is final, so completed: only the others need reading.
        turns = cache.get(key) if cache is not None else None
        final = True
        if turns is None:
            step = steps.view(key, StepRow)
            if step is None or step.status != COMPLETED:
                continue
            turns, final = _step_turns(rows, key, tool_result_budget)
            if final and cache is not None:
                cache[key] = turns
        if turns:
            # Tool turns stay right after their assistant turn, in call order.
            found.append(Turn(order, tuple(turns), final, v.STEP, key))
    found.sort(key=lambda turn: turn.order)
    return found


def _step_turns(
    rows: Rows, step_id: str, tool_result_budget: int | None
) -> tuple[list[Message], bool]:
    """A completed step's assistant turn and tool turns, and whether they are final (every
    call has its result: nothing about the step can change any more)."""
    text_row = rows.text(step_id)
    text = text_row.text if text_row is not None and text_row.status != SUPERSEDED else ""
    calls = rows.calls(step_id)
    tool_calls = tuple(ToolCall(call.id, call.name, dict(call.args)) for call in calls)
    if not text and not tool_calls:
        return [], True
    turns = [Message("assistant", text, tool_calls)]
    final = True
    for call in calls:
        if call.status not in CALL_DONE:
            final = False
            continue
        content, is_error = result_text(call, tool_result_budget)
        turns.append(
            Message("tool", content, tool_call_id=call.id, name=call.name, is_error=is_error)
        )
    return turns, final
