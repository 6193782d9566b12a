"""A thread's run as the AI SDK's UI message stream (what ``useChat`` reads).

One run is one assistant message (its id is the run's id): ``start``, then per step
``start-step``, its reasoning and text parts (``reasoning-*``, ``text-*``) and tool calls
(``tool-input-*``, then ``tool-approval-request`` for a call that needs approval, and
``tool-output-available`` / ``-error`` / ``-denied`` when it ends), ``finish-step``; then
``finish`` (or ``error`` and ``finish``), and ``[DONE]``. A step the loop threw away (a
model call retried, a step a crash cut short) is taken back with ``reset-step``, so the
client shows only what the run kept.

Field names are the protocol's (``ai`` 7, ``uiMessageChunkSchema``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson

from ..agent import rows as r
from ..agent.rows import DeltaRow, RunRow, StepRow, ToolCallRow
from .run_stream import RunTranslator

Chunk = dict[str, Any]

#: The response header by which the AI SDK's transport recognizes the protocol.
HEADERS = {
    "x-vercel-ai-ui-message-stream": "v1",
    "cache-control": "no-cache",
    "x-accel-buffering": "no",
}

_FINISH_REASON = {r.COMPLETED: "stop", r.AWAITING: "tool-calls", r.FAILED: "error"}


class UIStreamTranslator(RunTranslator[Chunk]):
    """UI message chunks for one run (see :class:`~.run_stream.RunTranslator` for which)."""

    def __init__(self, *, message_id: str | None = None, run_id: str | None = None) -> None:
        super().__init__(message_id=message_id, run_id=run_id)
        self.steps: set[str] = set()
        self.attempts: dict[str, int] = {}
        #: Open text and reasoning parts: part id -> the chunk type prefix that closes it.
        self.open_parts: dict[str, str] = {}
        self.calls: set[str] = set()
        self.asked: set[str] = set()
        self.answered: set[str] = set()

    def begin(self) -> list[Chunk]:
        return [{"type": "start", "messageId": self.own_run}] if self.own_run else []

    def started(self, run: RunRow) -> list[Chunk]:
        message_id = run.id
        if self.message_id is not None and run.trigger[:1] != [self.message_id]:
            # The message joined a run that had begun (one waiting for a tool's result):
            # what follows is a new assistant message to the client, not the earlier one.
            message_id = f"{run.id}:{self.message_id}"
        return [{"type": "start", "messageId": message_id}]

    def ended(self, run: RunRow) -> list[Chunk]:
        chunks = self._close()
        if run.status == r.FAILED:
            chunks.append({"type": "error", "errorText": run.error or "the run failed"})
        reason = _FINISH_REASON.get(run.status)
        if reason is None:  # aborted: stopped, or out of steps or tokens
            reason = "interrupted" if run.finish_reason == "interrupted" else "other"
        chunks.append({"type": "finish", "finishReason": reason})
        return chunks

    def step(self, step: StepRow) -> list[Chunk]:
        if step.status == r.RUNNING:
            if step.id in self.steps:
                return []
            self.steps.add(step.id)
            return [{"type": "start-step"}]
        if step.id not in self.steps:
            return []
        self.steps.discard(step.id)
        chunks = self._close(step.id)
        chunks.append({"type": "reset-step" if step.status == r.SUPERSEDED else "finish-step"})
        return chunks

    def text_delta(self, delta: DeltaRow) -> list[Chunk]:
        return self._delta(delta, "text")

    def reasoning_delta(self, delta: DeltaRow) -> list[Chunk]:
        return self._delta(delta, "reasoning")

    def tool_call(self, call: ToolCallRow) -> list[Chunk]:
        chunks: list[Chunk] = []
        ids = {"toolCallId": call.id}
        if call.id not in self.calls:
            self.calls.add(call.id)
            chunks += [
                {"type": "tool-input-start", **ids, "toolName": call.name},
                {"type": "tool-input-delta", **ids, "inputTextDelta": _json(call.args)},
                {"type": "tool-input-available", **ids, "toolName": call.name, "input": call.args},
            ]
        if call.status == r.AWAITING_APPROVAL and call.id not in self.asked:
            self.asked.add(call.id)
            # The approval is the call's: answering it answers the call.
            chunks.append({"type": "tool-approval-request", "approvalId": call.id, **ids})
        if call.status in r.CALL_DONE and call.id not in self.answered:
            self.answered.add(call.id)
            if call.status == r.COMPLETED:
                chunks.append({"type": "tool-output-available", **ids, "output": call.result})
            elif call.status == r.DENIED:
                chunks.append({"type": "tool-output-denied", **ids})
            else:
                chunks.append({"type": "tool-output-error", **ids, "errorText": _error(call)})
        return chunks

    def _delta(self, delta: DeltaRow, kind: str) -> list[Chunk]:
        chunks: list[Chunk] = []
        step_id = delta.step_id
        if delta.attempt > self.attempts.setdefault(step_id, delta.attempt):
            # The model call was retried: what the failed attempt streamed is void.
            self.attempts[step_id] = delta.attempt
            chunks += self._close(step_id)
            chunks.append({"type": "reset-step"})
        if delta.attempt < self.attempts[step_id]:
            return chunks  # a late piece of a void attempt
        part = f"{step_id}:{kind}:{delta.attempt}"
        if part not in self.open_parts:
            self.open_parts[part] = kind
            chunks.append({"type": f"{kind}-start", "id": part})
        chunks.append({"type": f"{kind}-delta", "id": part, "delta": delta.delta})
        return chunks

    def _close(self, step_id: str | None = None) -> list[Chunk]:
        """End the open parts (of one step, or all)."""
        ending = [
            part for part in self.open_parts if step_id is None or part.startswith(f"{step_id}:")
        ]
        return [{"type": f"{self.open_parts.pop(part)}-end", "id": part} for part in ending]


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()


def _error(call: ToolCallRow) -> str:
    error = call.error
    if isinstance(error, str) and error:
        return error
    return _json(error) if error is not None else f"tool {call.name} failed"


async def sse(chunks: AsyncIterator[Chunk]) -> AsyncIterator[bytes]:
    """The chunks as server-sent events, ended by ``[DONE]`` as the protocol ends."""
    async for chunk in chunks:
        yield b"data: " + orjson.dumps(chunk) + b"\n\n"
    yield b"data: [DONE]\n\n"
