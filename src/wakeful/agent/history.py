"""Building the model's messages from the entity's stream.

Inbox messages become user turns; each completed step becomes an assistant turn (its text
and tool calls), followed by one tool turn per call with its result or error. Everything is
read from materialized state, so a resumed run sees exactly what was persisted. Oversized
tool results are truncated to a budget so one large result cannot crowd out the rest.
"""

from __future__ import annotations

from typing import Any

import orjson

from ..entities import vocabulary as v
from ..state import StateStore
from .models.base import Message, ToolCall
from .records import Rows
from .rows import CALL_DONE, COMPLETED, DENIED, FAILED, SUPERSEDED, StepRow, ToolCallRow

CHARS_PER_TOKEN = 4


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
    rows = Rows(store)
    items: list[tuple[int, Message]] = []
    inbox = store.collection(v.INBOX)
    for key, row in inbox.items():
        if isinstance(row, dict):
            items.append((inbox.first_seen(key), Message("user", inbox_text(row.get("payload")))))
    steps = store.collection(v.STEP)
    for key in steps.keys():  # noqa: SIM118 (a Collection, not a dict)
        # A cached step is final, so completed: only the others need reading.
        turns = cache.get(key) if cache is not None else None
        if turns is None:
            step = steps.view(key, StepRow)
            if step is None or step.status != COMPLETED:
                continue
            turns, final = _step_turns(rows, key, tool_result_budget)
            if final and cache is not None:
                cache[key] = turns
        order = steps.first_seen(key)
        # Tool turns stay right after their assistant turn, in call order (a stable sort).
        items.extend((order, message) for message in turns)
    items.sort(key=lambda item: item[0])
    return [message for _, message in items]


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
