"""pydantic-ai agents, durable on Wakeful.

::

    durable = WakefulAgent(agent)        # beside the agent, once

    async def handle(ctx, wake):
        result = await durable.run(ctx, deps=...)

A wrapper, like pydantic-ai's ``TemporalAgent``, rather than a ``ctx.run_agent(...)``
method: it is typed by the agent's deps and output (``WakefulAgent[Deps, Output]``), which
a method of the handler context could only be if the context knew pydantic-ai; it leaves
the agent unchanged (so the same agent still runs plain in tests or scripts); and it is
made once, at import, where its options belong. Nor a capability alone (as pydantic-ai's
``DBOSDurability`` is): a durable run here is more than one ``Agent.run``. It starts from
the entity's inbox and history, and goes on across passes with the answers to its
deferred calls, so something must drive it per pass; inside, it is a capability.

What it records, in the native loop's vocabulary (so the console, threads, AG-UI and the
client show it like a native run): the run is a ``run`` row (its validated output and its
new pydantic-ai messages recorded on it when it completes), each model request a ``step``
row (its text streamed as ``text_delta`` rows, its usage and its whole response kept), each
tool call a ``tool_call`` row with Wakeful's idempotency key (:func:`current_call`).

How it resumes: the run is a pydantic-ai run done again from its start in every pass, with a
capability that wraps the model and the tools. The k-th model request of the run answers
with the k-th completed step's recorded response, so a completed model call is never sent
again; a tool call whose row is completed returns its recorded result without running, and
one cut short by a crash runs again with the same key. Tools that need approval or run
outside (``requires_approval=True``, external tools, ``ApprovalRequired`` or ``CallDeferred``)
end pydantic-ai's run with ``DeferredToolRequests``: their calls become Wakeful's waiting
calls (``approval`` and ``async``), answered through the tool-calls API, and the run waits
without a worker; the answer wakes the entity and the run goes on with pydantic-ai's own
``DeferredToolResults``.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast

import orjson
from pydantic import BaseModel, TypeAdapter

from .._extras import require

require("pydantic_ai", extra="pydantic-ai", feature="pydantic-ai agents")

from pydantic_ai import (
    Agent,
    AgentRunResult,
    DeferredToolRequests,
    DeferredToolResults,
    ModelMessagesTypeAdapter,
    RunContext,
    ToolApproved,
    ToolDenied,
)
from pydantic_ai.capabilities import AbstractCapability
from pydantic_ai.exceptions import ApprovalRequired, CallDeferred, ModelRetry, UsageLimitExceeded
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    TextPart,
    TextPartDelta,
    ThinkingPart,
    ThinkingPartDelta,
    ToolCallPart,
    UserPromptPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.models.function import FunctionModel
from pydantic_ai.models.wrapper import WrapperModel
from pydantic_ai.settings import ModelSettings
from pydantic_ai.toolsets import AbstractToolset, WrapperToolset
from pydantic_ai.toolsets.abstract import ToolsetTool
from pydantic_ai.usage import RunUsage, UsageLimits

from ..agent import records as r
from ..agent import rows as s
from ..agent.history import inbox_text
from ..agent.rows import DeltaRow, ReasoningRow, RunRow, StepRow, TextRow, ToolCallRow
from ..agent.writer import RowWriter
from ..entities import events as entity_events
from ..entities import vocabulary as v
from ..errors import WakefulError
from ..state.events import now_timestamp

if TYPE_CHECKING:
    from ..entities.context import Context

__all__ = ["CallInfo", "DurableResult", "WakefulAgent", "current_call"]

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")
T = TypeVar("T")

_CALL: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "wakeful_tool_call", default=None
)
_KIND_OF = {"unapproved": "approval", "external": "async"}
DENIED_MESSAGE = "The user denied this call."


@dataclass(frozen=True, slots=True)
class CallInfo:
    """The tool call running now, as Wakeful records it."""

    #: ``{entity}:{run}:{call}``: the same in every attempt of the call, so that the tool
    #: can make its side effects once.
    idempotency_key: str
    #: 1, then 2 if a crash cut the first attempt short, and so on.
    attempt: int
    call_id: str
    #: The entity's context for this call: its writes (state, send, spawn, ...) land with
    #: the call's result, in the same commit, and a failed attempt's never do.
    ctx: Context


def current_call() -> CallInfo:
    """The Wakeful call of the tool running now (inside a tool of a :class:`WakefulAgent`)."""
    call = _CALL.get()
    if call is None:
        raise LookupError("no Wakeful tool call runs here: only inside a WakefulAgent's tools")
    return call


@dataclass(frozen=True, slots=True)
class DurableResult(Generic[OutputT]):
    """How the run stands after this pass: ``completed`` with its ``output``, waiting for
    answers (``awaiting_tool_results``), ``aborted`` (a usage limit), ``failed`` or ``idle``."""

    run_id: str | None
    status: str
    output: OutputT | None = None
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return orjson.loads(orjson.dumps(dataclasses.asdict(value), default=str))
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return str(value)


def _dump_messages(messages: Sequence[ModelMessage]) -> list[Any]:
    """Messages as the stream keeps them; their unset (``None``) fields left out, which
    halves a response and reads back equal."""
    return list(
        ModelMessagesTypeAdapter.dump_python(list(messages), mode="json", exclude_none=True)
    )


def _load_messages(value: Any) -> list[ModelMessage]:
    return list(ModelMessagesTypeAdapter.validate_python(value))


class WakefulAgent(Generic[DepsT, OutputT]):
    """A pydantic-ai :class:`~pydantic_ai.Agent` whose runs are durable in a handler."""

    def __init__(self, agent: Agent[DepsT, OutputT], *, delta_interval: float = 0.05) -> None:
        self.agent = agent
        #: Seconds between ``text_delta`` appends while the model streams.
        self.delta_interval = delta_interval

    async def run(
        self,
        ctx: Context,
        prompt: str | None = None,
        *,
        deps: DepsT = None,  # type: ignore[assignment]
        usage_limits: UsageLimits | None = None,
        model_settings: ModelSettings | None = None,
        force: bool = False,
    ) -> DurableResult[OutputT]:
        """Continue the entity's active run, or start one for its new messages (or for
        ``prompt``); ``force`` starts one without a new message. Returns at once with
        status ``idle`` when there is nothing to do.

        A pass that is tried again (its handler raised, or its worker died) continues the
        run its first try started, or gets its result if it ended, as the native loop's
        :meth:`~wakeful.agent.Agent.run` does."""
        writer = RowWriter(ctx)
        rows = r.Rows(ctx.store)
        key = ctx.run_key()
        served = rows.served(key)
        if served is not None and served.status in s.RUN_DONE:
            return self._served(served)
        new: list[str] = []
        if prompt is not None and served is None:
            event = entity_events.inbox(prompt, ctx.url)
            writer.emit(event)
            new.append(event["key"])
        run = rows.active_run()
        if run is not None and ctx.wake is not None and ctx.wake.interrupted and served is None:
            state = _RunState(ctx, writer, rows, run.id, self.delta_interval)
            _Run(self, state, deps, usage_limits, model_settings)._finish(
                s.ABORTED, finish_reason="interrupted"
            )
            run = None
        if run is None:
            new = [m.id for m in ctx.wake.messages] + new if ctx.wake is not None else new
            if not new and not force:
                return DurableResult(None, "idle")
            run = writer.insert(
                RunRow(
                    id=entity_events.new_id(),
                    status=s.RUNNING,
                    model=_model_name(self.agent.model),
                    started_at=now_timestamp(),
                    started=time.time(),
                    trigger=new,
                    wakes=[key] if key is not None else [],
                )
            )
        else:
            changes: dict[str, Any] = {"status": s.RUNNING} if run.status == s.AWAITING else {}
            if key is not None and key not in run.wakes:
                changes["wakes"] = [*run.wakes, key]
            if changes:
                run = writer.save(run, **changes)
        state = _RunState(ctx, writer, rows, run.id, self.delta_interval)
        return await _Run(self, state, deps, usage_limits, model_settings).go(run)

    def _served(self, run: RunRow) -> DurableResult[OutputT]:
        """The result of a run that ended in an earlier try of this pass, its output read
        back as the agent's output type (or as recorded, when that is not one type)."""
        recorded = (run.model_extra or {}).get("output")
        output: Any = recorded
        with contextlib.suppress(Exception):
            output = TypeAdapter[Any](cast(Any, self.agent.output_type)).validate_python(recorded)
        return dataclasses.replace(_result(run), output=output)


def _model_name(model: Model | str | None) -> str | None:
    if isinstance(model, Model):
        return f"{model.system}:{model.model_name}"
    return model


@dataclass
class _RunState:
    """What the model and tool wrappers of one pass share: the rows and the next step."""

    ctx: Context
    writer: RowWriter
    rows: r.Rows
    run_id: str
    delta_interval: float
    requests: int = 0  # model requests answered in this pass, replayed or not

    def run(self) -> RunRow:
        run = self.rows.run(self.run_id)
        assert run is not None
        return run

    def key(self, call_id: str) -> str:
        return f"{self.ctx.url}:{self.run_id}:{call_id}"


@dataclass
class _Run(Generic[DepsT, OutputT]):
    owner: WakefulAgent[DepsT, OutputT]
    state: _RunState
    deps: DepsT
    usage_limits: UsageLimits | None
    model_settings: ModelSettings | None

    async def go(self, run: RunRow) -> DurableResult[OutputT]:
        state = self.state
        history = _history(state, run)
        prompt = "\n\n".join(_prompts(state, run.trigger)) or None
        messages = history
        answers: DeferredToolResults | None = None
        usage: RunUsage | None = None
        while True:
            try:
                result: AgentRunResult[Any] = await _interruptible(
                    state.ctx,
                    self.owner.agent.run(
                        prompt,
                        output_type=[self.owner.agent.output_type, DeferredToolRequests],
                        message_history=messages,
                        deferred_tool_results=answers,
                        deps=self.deps,
                        usage_limits=self.usage_limits,
                        usage=usage,
                        model_settings=self.model_settings,
                        capabilities=[_Durable(state)],
                    ),
                )
            except _Interrupted:
                return self._finish(s.ABORTED, finish_reason="interrupted")
            except UsageLimitExceeded as exc:
                return self._finish(s.ABORTED, finish_reason="usage_limit", error=str(exc))
            except WakefulError:
                raise  # the pass itself failed (fenced, say): its runtime retries or closes it
            except Exception as exc:
                return self._finish(s.FAILED, finish_reason="error", error=f"{exc}")
            output = result.output
            if not isinstance(output, DeferredToolRequests):
                new = result.all_messages()[len(history) :]
                return self._finish(s.COMPLETED, output=output, messages=new)
            answers = _answers(state, output)
            if answers is None:
                run = state.writer.save(state.run(), status=s.AWAITING)
                await state.ctx.flush()
                return _result(run)
            messages, prompt, usage = result.all_messages(), None, result.usage

    def _finish(
        self,
        status: s.RunStatus,
        *,
        output: Any = None,
        messages: Sequence[ModelMessage] = (),
        finish_reason: str | None = None,
        error: str | None = None,
    ) -> DurableResult[OutputT]:
        state = self.state
        run = state.run()
        started = run.started if run.started is not None else time.time()
        value = _jsonable(output)
        text = value if isinstance(value, str) else "" if value is None else orjson.dumps(value)
        changes: dict[str, Any] = {
            "status": status,
            "finished_at": now_timestamp(),
            "duration_ms": int((time.time() - started) * 1000),
            "finish_reason": finish_reason or status,
            "error": error,
            "text": text if isinstance(text, str) else text.decode(),
        }
        if status == s.COMPLETED:
            changes.update(output=value, messages=_dump_messages(messages))
        else:
            for step in state.rows.steps(run.id):
                for call in state.rows.calls(step.id):
                    if call.status not in s.CALL_DONE:
                        state.writer.save(call, status=s.FAILED, error=f"the run ended ({status})")
        run = state.writer.save(run, **changes)
        if status == s.COMPLETED and state.ctx.parent:
            state.ctx.complete(run.text)
        return dataclasses.replace(_result(run), output=output)


_TOTALS = ("steps", "input_tokens", "output_tokens", "finish_reason", "error")


class _Interrupted(Exception):
    """An interrupt signal (or the stop API) ended the run."""


async def _interruptible(ctx: Context, work: Awaitable[T]) -> T:
    """Await ``work``, cancelled within moments of an interrupt signal: ``_Interrupted``."""
    task = asyncio.ensure_future(work)
    watch = asyncio.ensure_future(ctx.interrupted.wait())
    try:
        await asyncio.wait({task, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})
    if task.cancelled() and ctx.interrupted.is_set():
        raise _Interrupted
    return task.result()


def _result(run: RunRow) -> DurableResult[Any]:
    return DurableResult(run.id, run.status, **{name: getattr(run, name) for name in _TOTALS})


# --- the conversation ---------------------------------------------------------------------


def _prompts(state: _RunState, ids: Sequence[str]) -> list[str]:
    inbox = state.ctx.store.collection(v.INBOX)
    found = (inbox.get(key) for key in ids)
    return [inbox_text(row.get("payload")) for row in found if isinstance(row, dict)]


def _history(state: _RunState, current: RunRow) -> list[ModelMessage]:
    """The messages before ``current``: each completed run's own messages, and inbox
    messages that no run answered as user prompts, in stream order."""
    store = state.ctx.store
    runs = store.collection(v.RUN)
    inbox = store.collection(v.INBOX)
    answered = set(current.trigger)  # a run that ended otherwise left its prompts unanswered
    items: list[tuple[int, list[ModelMessage]]] = []
    for run in state.rows.runs():
        recorded = (run.model_extra or {}).get("messages")
        if run.id != current.id and run.status == s.COMPLETED and recorded:
            items.append((runs.first_seen(run.id), _load_messages(recorded)))
            answered.update(run.trigger)
    for key, row in inbox.items():
        if key not in answered and isinstance(row, dict):
            text = inbox_text(row.get("payload"))
            items.append((inbox.first_seen(key), [ModelRequest(parts=[UserPromptPart(text)])]))
    items.sort(key=lambda item: item[0])
    return [message for _, messages in items for message in messages]


def _answers(state: _RunState, requests: DeferredToolRequests) -> DeferredToolResults | None:
    """Wakeful's answers to the deferred calls, or None while some are still awaited (those
    are marked waiting, so the tool-calls API takes their answers)."""
    results = DeferredToolResults()
    waiting = False
    for kind, parts in (("approval", requests.approvals), ("async", requests.calls)):
        for part in parts:
            call = _call_row(state, part, kind)
            answer = state.rows.answer(call.id)
            if answer is None:
                status = s.AWAITING_APPROVAL if kind == "approval" else s.AWAITING_RESULT
                if call.status != status or call.kind != kind:
                    state.writer.save(call, kind=kind, status=status)
                waiting = True
            elif kind == "approval":
                approved = answer.status == "approved"
                results.approvals[call.id] = (
                    ToolApproved() if approved else ToolDenied(answer.error or DENIED_MESSAGE)
                )
                if not approved and call.status != s.DENIED:
                    _call_done(state, call, s.DENIED, error=answer.error or "denied")
            elif answer.status == s.COMPLETED:
                results.calls[call.id] = answer.result
                if call.status != s.COMPLETED:
                    _call_done(state, call, s.COMPLETED, result=answer.result)
            else:
                results.calls[call.id] = ModelRetry(answer.error or "the call failed")
                if call.status != s.FAILED:
                    _call_done(state, call, s.FAILED, error=answer.error)
    return None if waiting else results


def _call_row(state: _RunState, part: ToolCallPart, kind: str = "call") -> ToolCallRow:
    call = state.rows.call(part.tool_call_id)
    if call is not None:
        return call
    return state.writer.insert(
        ToolCallRow(
            id=part.tool_call_id,
            run_id=state.run_id,
            name=part.tool_name,
            args=_args(part),
            kind=kind,
            status=s.PENDING,
            attempts=0,
            idempotency_key=state.key(part.tool_call_id),
        )
    )


def _args(part: ToolCallPart) -> dict[str, Any]:
    try:
        return part.args_as_dict()
    except ValueError:
        return {"_raw": part.args}


def _call_done(state: _RunState, call: ToolCallRow, status: s.CallStatus, **changes: Any) -> None:
    state.writer.save(call, status=status, finished_at=now_timestamp(), **changes)


# --- the capability: the model and the tools, wrapped -----------------------------------------


@dataclass(init=False)
class _Durable(AbstractCapability[Any]):
    """Wraps whichever model serves each request, and the run's function tools."""

    state: _RunState

    def __init__(self, state: _RunState) -> None:
        self.state = state

    def get_wrapper_model(self, model: Model) -> Model | None:
        return _DurableModel(model, self.state)

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any] | None:
        return _DurableToolset(toolset, self.state)


class _DurableModel(WrapperModel):
    """The k-th request of the run: the k-th completed step's response if there is one, or
    a call of the model, streamed into deltas and recorded as that step."""

    def __init__(self, wrapped: Model, state: _RunState) -> None:
        super().__init__(wrapped)
        self.state = state

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        state = self.state
        steps = state.rows.steps(state.run_id)
        completed = [step for step in steps if step.status == s.COMPLETED]
        if state.requests < len(completed):
            recorded = (completed[state.requests].model_extra or {}).get("response")
            state.requests += 1
            (response,) = _load_messages([recorded])
            assert isinstance(response, ModelResponse)
            return response
        if steps and steps[-1].status == s.RUNNING:
            _supersede(state, steps[-1])  # a crash cut this step short
        step = state.writer.insert(
            StepRow(
                id=f"{state.run_id}:{len(steps)}",
                run_id=state.run_id,
                index=len(steps),
                status=s.RUNNING,
                model=self.model_name,
                started_at=now_timestamp(),
            )
        )
        started = time.perf_counter()
        deltas = _Deltas(state, step)
        try:
            response = await self._stream(
                messages, model_settings, model_request_parameters, deltas
            )
        except Exception as exc:
            deltas.emit()
            state.writer.emit(r.error_event(f"{step.id}:error", str(exc), "model", state.run_id))
            state.writer.save(step, status=s.FAILED, error=str(exc))
            raise
        deltas.emit()
        response = _own_call_ids(state, response)
        _record(state, step, response, model_request_parameters, time.perf_counter() - started)
        state.requests += 1
        # Not waited for: the commit overlaps what follows, and a tool waits for it
        # (flushes land in order) before it runs. An instant step costs one commit.
        await state.ctx.flush(wait=False)
        return response

    async def _stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        parameters: ModelRequestParameters,
        deltas: _Deltas,
    ) -> ModelResponse:
        if not _streams(self.wrapped):
            return await self.wrapped.request(messages, model_settings, parameters)
        async with self.wrapped.request_stream(messages, model_settings, parameters) as stream:
            async for event in stream:
                if isinstance(event, PartStartEvent):
                    if isinstance(event.part, TextPart):
                        deltas.add(v.TEXT_DELTA, event.part.content)
                    elif isinstance(event.part, ThinkingPart):
                        deltas.add(v.REASONING_DELTA, event.part.content)
                elif isinstance(event, PartDeltaEvent):
                    if isinstance(event.delta, TextPartDelta):
                        deltas.add(v.TEXT_DELTA, event.delta.content_delta)
                    elif isinstance(event.delta, ThinkingPartDelta):
                        deltas.add(v.REASONING_DELTA, event.delta.content_delta or "")
                await deltas.maybe_flush()
            return stream.get()


def _streams(model: Model) -> bool:
    """Whether the model can stream: all can but a ``FunctionModel`` without a stream
    function (the usual scripted model of tests)."""
    return not (isinstance(model, FunctionModel) and model.stream_function is None)


class _Deltas:
    """A step's streamed text, coalesced into ``text_delta`` / ``reasoning_delta`` rows."""

    def __init__(self, state: _RunState, step: StepRow) -> None:
        self.state = state
        self.step = step
        self.pending: dict[str, str] = {v.TEXT_DELTA: "", v.REASONING_DELTA: ""}
        self.seq = 0
        self.last = time.monotonic()

    def add(self, kind: str, text: str) -> None:
        self.pending[kind] += text

    async def maybe_flush(self) -> None:
        if time.monotonic() - self.last >= self.state.delta_interval:
            self.last = time.monotonic()
            self.emit()
            await self.state.ctx.flush()

    def emit(self) -> None:
        for kind, pending in self.pending.items():
            if pending:
                row = DeltaRow(
                    step_id=self.step.id, run_id=self.step.run_id, seq=self.seq, delta=pending
                )
                self.state.writer.emit(r.delta_event(kind, f"{self.step.id}:{self.seq}", row))
                self.pending[kind] = ""
                self.seq += 1


def _supersede(state: _RunState, step: StepRow) -> None:
    partial = state.rows.deltas(v.TEXT_DELTA, step.id)
    if partial:
        row = TextRow(
            id=step.id, run_id=step.run_id, step_id=step.id, text=partial, status=s.SUPERSEDED
        )
        state.writer.emit(r.text_event(v.TEXT, row, step.id))
    state.writer.save(step, status=s.SUPERSEDED)


def _own_call_ids(state: _RunState, response: ModelResponse) -> ModelResponse:
    """Give a call an id of its own when the model gave none, or one already used in this
    entity (some servers number calls per response): rows, history and the tool-calls API
    are keyed by it. The recorded response carries the new ids, so replays see them too."""
    taken = state.ctx.store.collection(v.TOOL_CALL)
    seen: set[str] = set()
    parts = []
    for part in response.parts:
        if isinstance(part, ToolCallPart):
            if not part.tool_call_id or part.tool_call_id in taken or part.tool_call_id in seen:
                part = dataclasses.replace(part, tool_call_id=f"call_{uuid.uuid4().hex[:24]}")
            seen.add(part.tool_call_id)
        parts.append(part)
    return dataclasses.replace(response, parts=parts)


def _record(
    state: _RunState,
    step: StepRow,
    response: ModelResponse,
    parameters: ModelRequestParameters,
    seconds: float,
) -> None:
    """The step's text, reasoning and tool calls, then the step and the run's totals."""
    writer, run_id = state.writer, state.run_id
    text = "".join(part.content for part in response.parts if isinstance(part, TextPart))
    if text:
        row = TextRow(id=step.id, run_id=run_id, step_id=step.id, text=text, status=s.COMPLETED)
        writer.emit(r.text_event(v.TEXT, row, step.id))
    thinking = "".join(part.content for part in response.parts if isinstance(part, ThinkingPart))
    if thinking:
        reasoning = ReasoningRow(id=step.id, run_id=run_id, step_id=step.id, text=thinking)
        writer.emit(r.text_event(v.REASONING, reasoning, step.id))
    tools = {tool.name: tool for tool in parameters.function_tools}
    calls = [p for p in response.parts if isinstance(p, ToolCallPart) and p.tool_name in tools]
    for part in calls:
        writer.insert(
            ToolCallRow(
                id=part.tool_call_id,
                run_id=run_id,
                step_id=step.id,
                name=part.tool_name,
                args=_args(part),
                kind=_KIND_OF.get(tools[part.tool_name].kind, "call"),
                status=s.PENDING,
                attempts=0,
                idempotency_key=state.key(part.tool_call_id),
            )
        )
    usage = response.usage
    writer.save(
        step,
        status=s.COMPLETED,
        finish_reason=response.finish_reason or "stop",
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        duration_ms=int(seconds * 1000),
        tool_calls=len(calls),
        response=_dump_messages([response])[0],
    )
    run = state.run()
    writer.save(
        run,
        steps=run.steps + 1,
        input_tokens=run.input_tokens + usage.input_tokens,
        output_tokens=run.output_tokens + usage.output_tokens,
    )


@dataclass
class _DurableToolset(WrapperToolset[Any]):
    """A completed call returns its recorded result; any other runs, and is recorded."""

    state: _RunState

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        state = self.state
        call_id = ctx.tool_call_id or ""
        call = _call_row(state, ToolCallPart(name, tool_args, call_id))
        if call.status == s.COMPLETED:
            return call.result
        if call.status == s.FAILED and (call.model_extra or {}).get("retry"):
            raise ModelRetry(str(call.error))
        call = state.writer.save(call, status=s.CALLING, attempts=call.attempts + 1)
        await state.ctx.flush()
        started = time.perf_counter()
        key = call.idempotency_key or state.key(call.id)
        view = state.ctx.for_tool()
        token = _CALL.set(CallInfo(key, call.attempts, call.id, view))
        try:
            result = await super().call_tool(name, tool_args, ctx, tool)
        except (ApprovalRequired, CallDeferred):
            raise  # the call waits: see _answers
        except ModelRetry as exc:
            await self._done(call, s.FAILED, started, error=exc.message, retry=True)
            raise
        except Exception as exc:
            await self._done(call, s.FAILED, started, error=f"{type(exc).__name__}: {exc}")
            raise
        finally:
            _CALL.reset(token)
        view.output.move_to(state.ctx.progress)
        await self._done(call, s.COMPLETED, started, result=_jsonable(result))
        return result

    async def _done(
        self, call: ToolCallRow, status: s.CallStatus, started: float, **changes: Any
    ) -> None:
        duration = int((time.perf_counter() - started) * 1000)
        _call_done(self.state, call, status, duration_ms=duration, **changes)
        # Not waited for: the next model step's flush waits for it (flushes land in order).
        await self.state.ctx.flush(wait=False)
