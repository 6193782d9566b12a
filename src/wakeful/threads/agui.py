"""A thread's runs as an AG-UI event stream, for existing AG-UI front ends.

The front end posts a ``RunAgentInput``; its newest user message goes to the thread (as
any message would), and the thread's stream is translated into AG-UI events until that
run ends: RUN_STARTED, STEP_STARTED / STEP_FINISHED, TEXT_MESSAGE_START / CONTENT / END
as text streams, TOOL_CALL_START / ARGS / END for each call and TOOL_CALL_RESULT when it
finishes, then RUN_FINISHED (or RUN_ERROR).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson
from ag_ui.core import (
    BaseEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)

from ..agent import rows as r
from ..agent.rows import DeltaRow, RunRow, StepRow, ToolCallRow
from ..streams.storage import Storage
from .run_stream import RunTranslator, run_events


def last_user_text(run_input: RunAgentInput) -> str | None:
    for message in reversed(run_input.messages):
        if getattr(message, "role", None) == "user":
            content = getattr(message, "content", None)
            if isinstance(content, str):
                return content
            if isinstance(content, list):
                texts = [getattr(part, "text", "") for part in content]
                return "".join(text for text in texts if isinstance(text, str)) or None
    return None


class Translator(RunTranslator[BaseEvent]):
    """Turns one thread's stream events into AG-UI events for one run: the first run that
    starts after the translator does, or, given ``message_id``, the run that message
    started (a run already queued for earlier messages may start first)."""

    def __init__(self, thread_id: str, run_id: str, message_id: str | None = None) -> None:
        super().__init__(message_id=message_id)
        self.thread_id = thread_id
        self.run_id = run_id
        self.open_texts: set[str] = set()
        self.started_calls: set[str] = set()
        self.finished_calls: set[str] = set()

    def started(self, run: RunRow) -> list[BaseEvent]:
        return [RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)]

    def ended(self, run: RunRow) -> list[BaseEvent]:
        events: list[BaseEvent] = [
            TextMessageEndEvent(message_id=step) for step in sorted(self.open_texts)
        ]
        self.open_texts.clear()
        if run.status == r.FAILED:
            events.append(RunErrorEvent(message=run.error or "run failed", code="RUN_FAILED"))
        else:
            events.append(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    result={"status": run.status, "text": run.text},
                )
            )
        return events

    def text_delta(self, delta: DeltaRow) -> list[BaseEvent]:
        step_id = delta.step_id
        events: list[BaseEvent] = []
        if step_id not in self.open_texts:
            self.open_texts.add(step_id)
            events.append(TextMessageStartEvent(message_id=step_id, role="assistant"))
        events.append(TextMessageContentEvent(message_id=step_id, delta=delta.delta))
        return events

    def step(self, step: StepRow) -> list[BaseEvent]:
        step_id = step.id
        if step.status == r.RUNNING:
            return [StepStartedEvent(step_name=step_id)]
        events: list[BaseEvent] = []
        if step_id in self.open_texts:
            self.open_texts.discard(step_id)
            events.append(TextMessageEndEvent(message_id=step_id))
        events.append(StepFinishedEvent(step_name=step_id))
        return events

    def tool_call(self, call: ToolCallRow) -> list[BaseEvent]:
        call_id = call.id
        events: list[BaseEvent] = []
        if call_id not in self.started_calls:
            self.started_calls.add(call_id)
            events += [
                ToolCallStartEvent(
                    tool_call_id=call_id,
                    tool_call_name=call.name,
                    parent_message_id=call.step_id,
                ),
                ToolCallArgsEvent(tool_call_id=call_id, delta=orjson.dumps(call.args).decode()),
                ToolCallEndEvent(tool_call_id=call_id),
            ]
        if call.status in r.CALL_DONE and call_id not in self.finished_calls:
            self.finished_calls.add(call_id)
            result = call.result if call.status == r.COMPLETED else {"error": call.error}
            content = result if isinstance(result, str) else orjson.dumps(result).decode()
            events.append(
                ToolCallResultEvent(
                    message_id=f"{call_id}:result",
                    tool_call_id=call_id,
                    content=content,
                    role="tool",
                )
            )
        return events


async def agui_events(
    storage: Storage,
    stream: str,
    start: int,
    thread_id: str,
    run_id: str,
    message_id: str | None = None,
) -> AsyncIterator[BaseEvent]:
    """AG-UI events for the next run on ``stream`` after position ``start`` (the one
    ``message_id`` started, if given)."""
    translator = Translator(thread_id, run_id, message_id)
    async for event in run_events(storage, stream, start, translator):
        yield event
