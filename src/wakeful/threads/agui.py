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
from ..entities import vocabulary as v
from ..state.events import Change, InvalidEvent, parse
from ..streams.follow import follow
from ..streams.storage import Storage


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


class Translator:
    """Turns one thread's stream events into AG-UI events for one run: the first run that
    starts after the translator does, or, given ``message_id``, the run that message
    started (a run already queued for earlier messages may start first)."""

    def __init__(self, thread_id: str, run_id: str, message_id: str | None = None) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self.message_id = message_id
        self.own_run: str | None = None
        self.open_texts: set[str] = set()
        self.started_calls: set[str] = set()
        self.finished_calls: set[str] = set()
        self.done = False

    def translate(self, change: Change) -> list[BaseEvent]:
        if change.type == v.RUN:
            run = RunRow.read(change.value)
            return self._run(change, run) if run is not None else []
        if self.own_run is None or not isinstance(change.value, dict):
            return []
        if change.value.get("run_id") != self.own_run:
            return []  # another run's row: not worth reading as a model
        if change.type == v.STEP:
            step = StepRow.read(change.value)
            return self._step(step) if step is not None else []
        if change.type == v.TEXT_DELTA:
            delta = DeltaRow.read(change.value)
            return self._text_delta(delta) if delta is not None else []
        if change.type == v.TOOL_CALL:
            call = ToolCallRow.read(change.value)
            return self._tool_call(call) if call is not None else []
        return []

    def _run(self, change: Change, run: RunRow) -> list[BaseEvent]:
        status = run.status
        if self.own_run is None:
            if self.message_id is None and change.operation != "insert":
                return []
            # A message can also join a run already going (one waiting for a tool result).
            if self.message_id is not None and self.message_id not in run.trigger:
                return []
            self.own_run = str(change.key)
            return [RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id)]
        if change.key != self.own_run or status not in (*r.RUN_DONE, r.AWAITING):
            return []
        self.done = True
        events: list[BaseEvent] = [
            TextMessageEndEvent(message_id=step) for step in sorted(self.open_texts)
        ]
        self.open_texts.clear()
        if status == r.FAILED:
            events.append(RunErrorEvent(message=run.error or "run failed", code="RUN_FAILED"))
        else:
            events.append(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    result={"status": status, "text": run.text},
                )
            )
        return events

    def _text_delta(self, delta: DeltaRow) -> list[BaseEvent]:
        step_id = delta.step_id
        events: list[BaseEvent] = []
        if step_id not in self.open_texts:
            self.open_texts.add(step_id)
            events.append(TextMessageStartEvent(message_id=step_id, role="assistant"))
        events.append(TextMessageContentEvent(message_id=step_id, delta=delta.delta))
        return events

    def _step(self, step: StepRow) -> list[BaseEvent]:
        step_id = step.id
        if step.status == r.RUNNING:
            return [StepStartedEvent(step_name=step_id)]
        events: list[BaseEvent] = []
        if step_id in self.open_texts:
            self.open_texts.discard(step_id)
            events.append(TextMessageEndEvent(message_id=step_id))
        events.append(StepFinishedEvent(step_name=step_id))
        return events

    def _tool_call(self, call: ToolCallRow) -> list[BaseEvent]:
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
    async for entry in follow(storage, stream, start):
        try:
            event = parse(orjson.loads(entry.data))
        except (InvalidEvent, orjson.JSONDecodeError):
            continue
        if not isinstance(event, Change):
            continue
        for translated in translator.translate(event):
            yield translated
        if translator.done:
            return
