"""A thread's runs as an AG-UI event stream, for existing AG-UI front ends.

The front end posts a ``RunAgentInput``; its newest user message goes to the thread (as
any message would), and the thread's stream is translated into AG-UI events until that
run ends: RUN_STARTED, STEP_STARTED / STEP_FINISHED, TEXT_MESSAGE_START / CONTENT / END
as text streams, TOOL_CALL_START / ARGS / END for each call and TOOL_CALL_RESULT when it
finishes, then RUN_FINISHED (or RUN_ERROR).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

import orjson
from ag_ui.core import (
    BaseEvent,
    Interrupt,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunFinishedInterruptOutcome,
    RunFinishedOutcome,
    RunFinishedSuccessOutcome,
    RunStartedEvent,
    StateDeltaEvent,
    StateSnapshotEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
    ToolMessage,
)

from ..agent import rows as r
from ..agent.records import Rows
from ..agent.rows import DeltaRow, RunRow, StepRow, ToolCallRow
from ..entities import vocabulary as v
from ..errors import BadRequest, ErrorCode
from ..state import StateStore
from ..state.events import Change
from .answering import ToolAnswer, give_answers
from .run_stream import Following, RunTranslator
from .service import ThreadService

#: The AG-UI error code of a run a spending limit ended (docs/usage.md).
BUDGET_EXCEEDED = "BUDGET_EXCEEDED"
_WAITS = (r.AWAITING_RESULT, r.AWAITING_APPROVAL)
#: What a resume entry's payload may say (``resolved`` without it approves).
_APPROVAL_SCHEMA = {"type": "object", "properties": {"approved": {"type": "boolean"}}}


def _collections(store: StateStore | None) -> dict[str, dict[str, Any]]:
    if store is None:
        return {}
    # Declared collections too, empty or not: a delta's path must find its collection.
    return {
        name.removeprefix(v.STATE_PREFIX): copy.deepcopy(rows.snapshot())
        for name, rows in store.collections.items()
        if name.startswith(v.STATE_PREFIX)
    }


def _pointer(token: str) -> str:
    """A JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def last_user(run_input: RunAgentInput) -> tuple[str, str] | None:
    """The newest user message: its id and text."""
    for message in reversed(run_input.messages):
        if getattr(message, "role", None) == "user":
            content = getattr(message, "content", None)
            if isinstance(content, list):
                texts = [getattr(part, "text", "") for part in content]
                content = "".join(text for text in texts if isinstance(text, str))
            return (message.id, content) if isinstance(content, str) and content else None
    return None


def tool_messages(run_input: RunAgentInput) -> list[ToolMessage]:
    """The tool results after the newest assistant message: a front end's answers."""
    found: list[ToolMessage] = []
    for message in reversed(run_input.messages):
        if not isinstance(message, ToolMessage):
            break
        found.append(message)
    return found[::-1]


def input_answers(run_input: RunAgentInput) -> list[ToolAnswer]:
    """The input's answers to waiting calls: tool messages (a front-end tool's result)
    and resume entries (an approval interrupt resolved, or cancelled)."""
    found = [
        ToolAnswer(
            message.tool_call_id,
            "failed" if message.error else "completed",
            result=message.content,
            error=message.error,
        )
        for message in tool_messages(run_input)
    ]
    for entry in run_input.resume or []:
        payload = entry.payload
        refused = isinstance(payload, dict) and payload.get("approved") is False
        approved = entry.status == "resolved" and not refused
        found.append(ToolAnswer(entry.interrupt_id, "approved" if approved else "denied"))
    return found


class Translator(RunTranslator[BaseEvent]):
    """Turns one thread's stream events into AG-UI events for one run: the first run that
    starts after the translator does, or, given ``message_id``, the run that message
    started (a run already queued for earlier messages may start first)."""

    def __init__(
        self,
        thread_id: str,
        run_id: str,
        message_id: str | None = None,
        *,
        own_run: str | None = None,
        shown: Iterable[ToolCallRow] = (),
        delivered: Iterable[str] = (),
        state: StateStore | None = None,
    ) -> None:
        super().__init__(message_id=message_id, run_id=own_run)
        #: The thread's own collections (``state:<name>``) as the client will hold them.
        self.state: dict[str, dict[str, Any]] = _collections(state)
        self.thread_id = thread_id
        self.run_id = run_id
        self.open_texts: set[str] = set()
        shown = list(shown)
        #: Calls the client has (``shown``), and those whose results it has: the ones
        #: that had ended, and those it sent the results of itself (``delivered``).
        self.started_calls: set[str] = {call.id for call in shown}
        ended = {call.id for call in shown if call.status in r.CALL_DONE}
        self.finished_calls: set[str] = ended | set(delivered)
        #: Calls that wait for the client, as last seen: they end a waiting run.
        self.waiting: dict[str, ToolCallRow] = {call.id: call for call in shown}

    def begin(self) -> list[BaseEvent]:
        return self.started(None) if self.own_run is not None else []

    def started(self, run: RunRow | None) -> list[BaseEvent]:
        return [
            RunStartedEvent(thread_id=self.thread_id, run_id=self.run_id),
            StateSnapshotEvent(snapshot=copy.deepcopy(self.state)),
        ]

    def translate(self, change: Change) -> list[BaseEvent]:
        if not change.type.startswith(v.STATE_PREFIX):
            return super().translate(change)
        # Every change is applied, before the run starts too, so the snapshot is current.
        name = change.type.removeprefix(v.STATE_PREFIX)
        patch: list[dict[str, Any]] = []
        if name not in self.state:
            self.state[name] = {}
            patch.append({"op": "add", "path": f"/{_pointer(name)}", "value": {}})
        rows = self.state[name]
        path = f"/{_pointer(name)}/{_pointer(change.key)}"
        if change.operation != "delete":
            rows[change.key] = change.value
            patch.append({"op": "add", "path": path, "value": copy.deepcopy(change.value)})
        elif rows.pop(change.key, None) is not None:
            patch.append({"op": "remove", "path": path})
        if self.own_run is None or self.done or not patch:
            return []
        return [StateDeltaEvent(delta=patch)]

    def ended(self, run: RunRow) -> list[BaseEvent]:
        events: list[BaseEvent] = [
            TextMessageEndEvent(message_id=step) for step in sorted(self.open_texts)
        ]
        self.open_texts.clear()
        if run.status == r.FAILED:
            events.append(RunErrorEvent(message=run.error or "run failed", code="RUN_FAILED"))
        elif run.budget is not None:
            # A spending limit ended the run: the client is told which, as an error it can
            # show (the run row has the limit and what was spent).
            message = run.error or run.budget.describe()
            events.append(RunErrorEvent(message=message, code=BUDGET_EXCEEDED))
        else:
            events.append(
                RunFinishedEvent(
                    thread_id=self.thread_id,
                    run_id=self.run_id,
                    result={"status": run.status, "text": run.text},
                    outcome=self._outcome(run),
                )
            )
        return events

    def _outcome(self, run: RunRow) -> RunFinishedOutcome:
        """An interrupt per call that waits for approval; else success, naming the
        front-end calls that wait for their results."""
        if run.status != r.AWAITING:
            return RunFinishedSuccessOutcome(type="success")
        waiting = [call for call in self.waiting.values() if call.status in _WAITS]
        asks = [call for call in waiting if call.status == r.AWAITING_APPROVAL]
        if asks:
            interrupts = [
                Interrupt(
                    id=call.id,
                    reason="tool_approval",
                    message=f"{call.name} needs approval to run",
                    tool_call_id=call.id,
                    response_schema=_APPROVAL_SCHEMA,
                )
                for call in asks
            ]
            return RunFinishedInterruptOutcome(type="interrupt", interrupts=interrupts)
        pending = [call.id for call in waiting]
        return RunFinishedSuccessOutcome(type="success", pending_tool_call_ids=pending or None)

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
        self.waiting[call_id] = call
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


async def agui_run(
    threads: ThreadService,
    thread_id: str,
    run_input: RunAgentInput,
    *,
    principal: str | None = None,
) -> Following[BaseEvent]:
    """Act on a ``RunAgentInput`` (the thread exists) and say which run answers it.

    Messages are deduplicated by their client ids, so posting the history again adds
    nothing: tool messages after the newest assistant message answer the calls they
    name (and that run goes on); a new user message is sent (with the input's tools);
    a user message the thread has already seen follows its run if that still goes, and
    starts a new run for it otherwise (a retry, or a regenerate)."""
    state = await threads.snapshot(thread_id)
    rows = Rows(state.store)

    def following(translator: Translator) -> Following[BaseEvent]:
        return Following(state.stream, state.position, translator)

    answered = await give_answers(threads, thread_id, state, input_answers(run_input))
    if answered is not None:
        # The run goes on: its calls so far are in the client's history already.
        calls = [call for step in rows.steps(answered) for call in rows.calls(step.id)]
        translator = Translator(
            thread_id,
            run_input.run_id,
            own_run=answered,
            shown=calls,
            delivered=[message.tool_call_id for message in tool_messages(run_input)],
            state=state.store,
        )
        return following(translator)
    user = last_user(run_input)
    if user is None:
        raise BadRequest(
            "RunAgentInput has no user message to send", code=ErrorCode.NO_USER_MESSAGE
        )
    message_id, text = user
    offered = [tool.model_dump(exclude_none=True) for tool in run_input.tools or []]
    payload = {"text": text, "tools": offered}
    if await threads.send_once(thread_id, payload, message_id, principal=principal):
        return following(Translator(thread_id, run_input.run_id, message_id, state=state.store))
    run = next((run for run in rows.runs() if message_id in run.trigger), None)
    if run is None:  # sent, but its run has not started yet
        return following(Translator(thread_id, run_input.run_id, message_id, state=state.store))
    if run.status == r.RUNNING:
        # A replay from the stream's start: its state changes rebuild the state.
        translator = Translator(thread_id, run_input.run_id, own_run=run.id)
        return Following(state.stream, 0, translator, caught_up_at=state.position)
    await threads.regenerate(thread_id)
    return following(Translator(thread_id, run_input.run_id, state=state.store))
