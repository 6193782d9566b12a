"""Answers a front end gives to a thread's waiting tool calls, whatever the protocol:
a client tool's result or error, an approval or a denial.

Front ends post what they know every time (the AI SDK its whole history, AG-UI its
messages and resume entries), so an answer to a call that is not waiting for it (a
server tool's output, a call answered before) is passed over, not refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..agent.records import Rows
from ..agent.rows import AWAITING_APPROVAL, AWAITING_RESULT, AnswerStatus
from ..errors import AlreadyAnswered
from .service import ThreadService, ThreadState

_WAITING = {AWAITING_RESULT: ("completed", "failed"), AWAITING_APPROVAL: ("approved", "denied")}


@dataclass(frozen=True, slots=True)
class ToolAnswer:
    call_id: str
    status: AnswerStatus
    result: Any = None
    error: str | None = None


async def give_answers(
    threads: ThreadService, thread_id: str, state: ThreadState, answers: Iterable[ToolAnswer]
) -> str | None:
    """Give each answer its waiting call; the id of the run they answered, if any did."""
    rows = Rows(state.store)
    run_id: str | None = None
    for answer in answers:
        call = rows.call(answer.call_id)
        if call is None or answer.status not in _WAITING.get(call.status, ()):
            continue
        if rows.answer(call.id) is not None:
            continue
        try:
            await threads.answer(
                thread_id, call.id, answer.status, result=answer.result, error=answer.error
            )
        except AlreadyAnswered:
            continue  # a racing post gave it first
        run_id = call.run_id
    return run_id
