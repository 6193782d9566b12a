"""What every integration shares: another framework's run, recorded in the loop's rows.

An integration runs its framework's agent again from the start of the run in every pass,
with the model and the tools wrapped. This module holds the framework-free half of that:
starting or continuing the entity's run, answering the k-th model request of the run with
the k-th completed step's recorded response, recording a new step and its streamed text,
running a tool call once (its recorded result replayed after), the run's history from the
stream, and ending the run. Each integration only translates its framework's messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter

from ..agent import records as r
from ..agent import rows as s
from ..agent.history import inbox_text
from ..agent.rows import DeltaRow, ReasoningRow, RunRow, StepRow, TextRow, ToolCallRow
from ..agent.writer import RowWriter
from ..entities import events as entity_events
from ..entities import vocabulary as v
from ..state.events import now_timestamp

if TYPE_CHECKING:
    from ..entities.context import Context

OutputT = TypeVar("OutputT")
AgentT = TypeVar("AgentT")
T = TypeVar("T")

_CALL: contextvars.ContextVar[CallInfo | None] = contextvars.ContextVar(
    "wakeful_tool_call", default=None
)
_TOTALS = ("steps", "input_tokens", "output_tokens", "finish_reason", "error")


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
    """The Wakeful call of the tool running now (inside a tool of a durable agent)."""
    call = _CALL.get()
    if call is None:
        raise LookupError("no Wakeful tool call runs here: only inside a durable agent's tools")
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


def result_of(run: RunRow, output: Any = None) -> DurableResult[Any]:
    totals = {name: getattr(run, name) for name in _TOTALS}
    return DurableResult(run.id, run.status, output=output, **totals)


def served(run: RunRow, output_type: Any) -> DurableResult[Any]:
    """The result of a run that ended in an earlier try of this pass, its output read back
    as ``output_type`` (or as recorded, when it is not one type)."""
    recorded = (run.model_extra or {}).get("output")
    output: Any = recorded
    with contextlib.suppress(Exception):
        output = TypeAdapter[Any](output_type).validate_python(recorded)
    return result_of(run, output)


class Wrapper(Generic[AgentT]):
    """An agent of another framework, unchanged, and how its runs stream."""

    def __init__(self, agent: AgentT, *, delta_interval: float = 0.05) -> None:
        self.agent = agent
        #: Seconds between ``text_delta`` appends while the model streams.
        self.delta_interval = delta_interval


def jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return orjson.loads(orjson.dumps(dataclasses.asdict(value), default=str))
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return str(value)


class Interrupted(Exception):
    """An interrupt signal (or the stop API) ended the run."""


async def interruptible(ctx: Context, work: Awaitable[T]) -> T:
    """Await ``work``, cancelled within moments of an interrupt signal: :class:`Interrupted`."""
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
        raise Interrupted
    return task.result()


# --- the run ------------------------------------------------------------------------------


@dataclass
class RunState:
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

    def prompts(self) -> str | None:
        """The run's prompt: the text of the inbox messages that started it."""
        inbox = self.ctx.store.collection(v.INBOX)
        found = (inbox.get(key) for key in self.run().trigger)
        texts = [inbox_text(row.get("payload")) for row in found if isinstance(row, dict)]
        return "\n\n".join(texts) or None

    def finish(
        self,
        status: s.RunStatus,
        *,
        output: Any = None,
        messages: list[Any] | None = None,
        finish_reason: str | None = None,
        error: str | None = None,
        **extra: Any,
    ) -> DurableResult[Any]:
        """End the run: its output and new (framework) messages if it completed; its open
        calls failed if not. ``extra`` are more fields for the run's row."""
        run = self.run()
        started = run.started if run.started is not None else time.time()
        value = jsonable(output)
        text = value if isinstance(value, str) else "" if value is None else orjson.dumps(value)
        changes: dict[str, Any] = {
            "status": status,
            "finished_at": now_timestamp(),
            "duration_ms": int((time.time() - started) * 1000),
            "finish_reason": finish_reason or status,
            "error": error,
            "text": text if isinstance(text, str) else text.decode(),
            **extra,
        }
        if status == s.COMPLETED:
            changes.update(output=value, messages=messages or [])
        else:
            for step in self.rows.steps(run.id):
                for call in self.rows.calls(step.id):
                    if call.status not in s.CALL_DONE:
                        self.writer.save(call, status=s.FAILED, error=f"the run ended ({status})")
        run = self.writer.save(run, **changes)
        if status == s.COMPLETED and self.ctx.parent:
            self.ctx.complete(run.text)
        return result_of(run, output)


def begin(
    ctx: Context, prompt: str | None, *, model: str | None, force: bool, delta_interval: float
) -> RunState | RunRow | None:
    """The run this pass works on: the entity's active run, or one started for its new
    messages (or for ``prompt``; ``force`` starts one without). A run that ended in an earlier
    try of this pass is returned as its row (its result is served, never a second run);
    ``None`` when there is nothing to do.

    An interrupt ends the active run (``aborted``, ``interrupted``) before a new one starts."""
    writer = RowWriter(ctx)
    rows = r.Rows(ctx.store)
    key = ctx.run_key()
    served = rows.served(key)
    if served is not None and served.status in s.RUN_DONE:
        return served
    new: list[str] = []
    if prompt is not None and served is None:
        event = entity_events.inbox(prompt, ctx.url)
        writer.emit(event)
        new.append(event["key"])
    run = rows.active_run()
    if run is not None and ctx.wake is not None and ctx.wake.interrupted and served is None:
        RunState(ctx, writer, rows, run.id, delta_interval).finish(
            s.ABORTED, finish_reason="interrupted"
        )
        run = None
    if run is None:
        new = [m.id for m in ctx.wake.messages] + new if ctx.wake is not None else new
        if not new and not force:
            return None
        run = writer.insert(
            RunRow(
                id=entity_events.new_id(),
                status=s.RUNNING,
                model=model,
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
    return RunState(ctx, writer, rows, run.id, delta_interval)


def history(
    state: RunState,
    *,
    recorded: Callable[[Any], list[T]],
    prompt: Callable[[str], list[T]],
) -> list[T]:
    """The messages before the current run, in the framework's type: each completed run's
    own messages (``recorded`` reads them back), and inbox messages that no run answered
    (``prompt`` makes a user message of each), in stream order."""
    store = state.ctx.store
    runs = store.collection(v.RUN)
    inbox = store.collection(v.INBOX)
    current = state.run()
    answered = set(current.trigger)  # a run that ended otherwise left its prompts unanswered
    items: list[tuple[int, list[T]]] = []
    for run in state.rows.runs():
        messages = (run.model_extra or {}).get("messages")
        if run.id != current.id and run.status == s.COMPLETED and messages:
            items.append((runs.first_seen(run.id), recorded(messages)))
            answered.update(run.trigger)
    for key, row in inbox.items():
        if key not in answered and isinstance(row, dict):
            items.append((inbox.first_seen(key), prompt(inbox_text(row.get("payload")))))
    items.sort(key=lambda item: item[0])
    return [message for _, messages in items for message in messages]


# --- model steps --------------------------------------------------------------------------


def replayed(state: RunState) -> Any | None:
    """The recorded response of the k-th completed step, for the run's k-th model request
    (so a completed model call is never sent again); ``None`` once the record runs out."""
    completed = [step for step in state.rows.steps(state.run_id) if step.status == s.COMPLETED]
    if state.requests >= len(completed):
        return None
    state.requests += 1
    return (completed[state.requests - 1].model_extra or {}).get("response")


async def request(
    state: RunState,
    model: str | None,
    send: Callable[[Deltas], Awaitable[T]],
    record: Callable[[T], tuple[T, StepRecord]],
    **extra: Any,
) -> T:
    """A new step of the run: ``send`` the request (its streamed text into the deltas it is
    given), then ``record`` the response (it returns the response as the run goes on with
    it, and the step's record). ``extra`` are more fields for the step's row."""
    step = _open_step(state, model, **extra)
    started = time.perf_counter()
    deltas = Deltas(state, step)
    try:
        response = await send(deltas)
    except Exception as exc:
        deltas.emit()
        state.writer.emit(r.error_event(f"{step.id}:error", str(exc), "model", state.run_id))
        state.writer.save(step, status=s.FAILED, error=str(exc))
        raise
    deltas.emit()
    response, done = record(response)
    await _record_step(state, step, done, time.perf_counter() - started)
    return response


def _open_step(state: RunState, model: str | None, **extra: Any) -> StepRow:
    """A new step for a request to send; a step that a crash cut short is superseded first."""
    steps = state.rows.steps(state.run_id)
    if steps and steps[-1].status == s.RUNNING:
        _supersede(state, steps[-1])
    return state.writer.insert(
        StepRow(
            id=f"{state.run_id}:{len(steps)}",
            run_id=state.run_id,
            index=len(steps),
            status=s.RUNNING,
            model=model,
            started_at=now_timestamp(),
            **extra,
        )
    )


def _supersede(state: RunState, step: StepRow) -> None:
    partial = state.rows.deltas(v.TEXT_DELTA, step.id)
    if partial:
        row = TextRow(
            id=step.id, run_id=step.run_id, step_id=step.id, text=partial, status=s.SUPERSEDED
        )
        state.writer.emit(r.text_event(v.TEXT, row, step.id))
    state.writer.save(step, status=s.SUPERSEDED)


class Deltas:
    """A step's streamed text, coalesced into ``text_delta`` / ``reasoning_delta`` rows."""

    def __init__(self, state: RunState, step: StepRow) -> None:
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


class CallIds:
    """Gives a call an id of its own when the model gave none, or one already used in this
    entity (some servers number calls per response): rows, history and the tool-calls API
    are keyed by it. The recorded response carries the new ids, so replays see them too."""

    def __init__(self, state: RunState) -> None:
        self.taken = state.ctx.store.collection(v.TOOL_CALL)
        self.seen: set[str] = set()

    def own(self, call_id: str | None) -> str:
        if not call_id or call_id in self.taken or call_id in self.seen:
            call_id = f"call_{uuid.uuid4().hex[:24]}"
        self.seen.add(call_id)
        return call_id


@dataclass(frozen=True, slots=True)
class NewCall:
    """A tool call of a model response, to record as a ``tool_call`` row."""

    id: str
    name: str
    args: dict[str, Any]
    kind: str = "call"
    #: More fields for the row (``handoff=True`` for an Agents SDK handoff, say).
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StepRecord:
    """A model response in the loop's terms, with the framework's own form of it."""

    text: str
    reasoning: str
    calls: Sequence[NewCall]
    input_tokens: int
    output_tokens: int
    finish_reason: str
    response: Any  # the framework's response as JSON, replayed as it is


async def _record_step(state: RunState, step: StepRow, record: StepRecord, seconds: float) -> None:
    """The step's text, reasoning and tool calls, then the step and the run's totals; the
    commit is started, not waited for: it overlaps what follows, and a tool waits for it
    (flushes land in order) before it runs. An instant step costs one commit."""
    writer, run_id = state.writer, state.run_id
    if record.text:
        row = TextRow(
            id=step.id, run_id=run_id, step_id=step.id, text=record.text, status=s.COMPLETED
        )
        writer.emit(r.text_event(v.TEXT, row, step.id))
    if record.reasoning:
        reasoning = ReasoningRow(id=step.id, run_id=run_id, step_id=step.id, text=record.reasoning)
        writer.emit(r.text_event(v.REASONING, reasoning, step.id))
    for call in record.calls:
        insert_call(state, call, step_id=step.id)
    writer.save(
        step,
        status=s.COMPLETED,
        finish_reason=record.finish_reason,
        input_tokens=record.input_tokens,
        output_tokens=record.output_tokens,
        duration_ms=int(seconds * 1000),
        tool_calls=len(record.calls),
        response=record.response,
    )
    run = state.run()
    writer.save(
        run,
        steps=run.steps + 1,
        input_tokens=run.input_tokens + record.input_tokens,
        output_tokens=run.output_tokens + record.output_tokens,
    )
    state.requests += 1
    await state.ctx.flush(wait=False)


# --- tool calls ---------------------------------------------------------------------------


def insert_call(state: RunState, call: NewCall, *, step_id: str | None = None) -> ToolCallRow:
    return state.writer.insert(
        ToolCallRow(
            id=call.id,
            run_id=state.run_id,
            step_id=step_id,
            name=call.name,
            args=call.args,
            kind=call.kind,
            status=s.PENDING,
            attempts=0,
            idempotency_key=state.key(call.id),
            **call.extra,
        )
    )


def call_row(state: RunState, call: NewCall) -> ToolCallRow:
    """The call's row, recorded now if its step did not record it."""
    return state.rows.call(call.id) or insert_call(state, call)


def call_done(state: RunState, call: ToolCallRow, status: s.CallStatus, **changes: Any) -> None:
    state.writer.save(call, status=status, finished_at=now_timestamp(), **changes)


async def run_call(
    state: RunState,
    call: ToolCallRow,
    invoke: Callable[[], Awaitable[Any]],
    *,
    waits: tuple[type[BaseException], ...] = (),
    retry: type[Exception] | None = None,
) -> Any:
    """Run the call once: a completed call returns its recorded result without running;
    any other runs (again, with the same idempotency key and the next attempt number) and
    is recorded. ``waits`` are the framework's exceptions that park a call (raised on, the
    row left as it is), ``retry`` its "try again" for the model (recorded, and raised again
    on a replay)."""
    if call.status == s.COMPLETED:
        return call.result
    if retry is not None and call.status == s.FAILED and (call.model_extra or {}).get("retry"):
        raise retry(str(call.error))
    call = state.writer.save(call, status=s.CALLING, attempts=call.attempts + 1)
    await state.ctx.flush()
    started = time.perf_counter()
    key = call.idempotency_key or state.key(call.id)
    view = state.ctx.for_tool()
    token = _CALL.set(CallInfo(key, call.attempts, call.id, view))
    try:
        result = await invoke()
    except waits:
        raise
    except Exception as exc:
        if retry is not None and isinstance(exc, retry):
            await _ran(state, call, s.FAILED, started, error=str(exc), retry=True)
        else:
            await _ran(state, call, s.FAILED, started, error=f"{type(exc).__name__}: {exc}")
        raise
    finally:
        _CALL.reset(token)
    view.output.move_to(state.ctx.progress)
    await _ran(state, call, s.COMPLETED, started, result=jsonable(result))
    return result


async def _ran(
    state: RunState, call: ToolCallRow, status: s.CallStatus, started: float, **changes: Any
) -> None:
    duration = int((time.perf_counter() - started) * 1000)
    call_done(state, call, status, duration_ms=duration, **changes)
    # Not waited for: the next model step's flush waits for it (flushes land in order).
    await state.ctx.flush(wait=False)
