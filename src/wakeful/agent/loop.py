"""The durable agent loop: call the model, run tools, repeat until it answers.

Every step is flushed to the entity's stream as it completes (and text as it streams, in
coalesced deltas), so a crash resumes at the step where it stopped: completed steps are
not requested again, completed tool calls never run again, a call that started but did not
finish is retried only as its policy allows, with the same idempotency key, and the
partial text of an interrupted step is marked superseded. Tools that wait for the outside
(asynchronous results, approvals) park the run without holding a worker; the answer
arrives as an input event, wakes the entity, and the loop continues.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ..entities import events as entity_events
from ..entities import vocabulary as v
from ..state.events import now_timestamp
from . import executor_queue
from . import records as r
from . import rows as s
from .history import build_messages
from .limits import UNLIMITED, Concurrency
from .metering import Meter, added, run_principal
from .models.base import (
    INVALID_JSON_KEY,
    Finish,
    Message,
    Model,
    ModelError,
    ModelEvent,
    ModelRequest,
    ReasoningDelta,
    TextDelta,
    ToolCall,
    ToolCallReady,
    Usage,
    bounded_retry_after,
)
from .options import AgentOptions
from .rows import DeltaRow, ReasoningRow, RunRow, StepRow, TextRow, ToolCallRow
from .sources import assemble
from .tools import Tool, ToolArgumentsError, ToolContext, jsonable
from .window import ContextWindow
from .writer import RowT, RowWriter

if TYPE_CHECKING:
    from ..entities.context import Context

log = logging.getLogger("wakeful.agent")
T = TypeVar("T")


class Interrupted(Exception):
    """The run was interrupted by a signal (or the stop API)."""


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: str | None
    status: str
    text: str = ""
    steps: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None


def _resolve(spec: Model | str | None) -> Model:
    """The model an :class:`Agent` made outside a runtime uses (a runtime shares one per
    name among its passes: :class:`~wakeful.agent.provider.ModelCache`)."""
    if isinstance(spec, Model):
        return spec
    from .models import default_model, resolve

    return default_model() if spec is None else resolve(spec)


class Agent:
    """The loop for one pass of one entity, built from :class:`AgentOptions`.

    Usually made by ``ctx.use_agent(...)``, which gives it the runtime's models and
    concurrency caps; ``Agent(ctx, options)`` makes one with a model of its own."""

    def __init__(
        self,
        ctx: Context,
        options: AgentOptions,
        *,
        model: Model | None = None,
        concurrency: Concurrency = UNLIMITED,
        meter: Meter | None = None,
    ) -> None:
        self.ctx = ctx
        self.options = options
        self.model = model if model is not None else _resolve(options.model)
        self.tools = options.tool_table()
        self.concurrency = concurrency
        self.meter = meter or Meter()
        self.budget = self.meter.budget.over(options.budget)
        self.prices = self.meter.prices.with_prices(options.prices or {})
        self.rows = r.Rows(ctx.store)
        self._writer = RowWriter(ctx)
        self._history: dict[str, list[Message]] = {}  # turns of finished steps, by step
        self._interruptible_work: set[asyncio.Future[Any]] = set()
        self._interrupt_watch: asyncio.Future[None] | None = None
        self._window = ContextWindow(self)

    # --- public ----------------------------------------------------------------------

    async def run(self, prompt: str | None = None, *, force: bool = False) -> RunResult:
        """Continue the active run, or start one for new messages (or for ``prompt``).

        ``force`` starts a run from the conversation so far even without a new message
        (resuming a stopped or failed conversation). Returns at once with status ``idle``
        when there is nothing to do.

        A pass that is tried again (its handler raised, or its worker died) asks for the
        same run again: each call of a pass has a key (:meth:`Context.run_key`) that the
        run records, so the retry continues that run, or returns its result if it ended,
        instead of starting a second one."""
        key = self.ctx.run_key()
        served = self.rows.served(key)
        if served is not None and served.status in s.RUN_DONE:
            return self._result(served)
        if prompt is not None and served is None:
            self._emit(entity_events.inbox(prompt, self.ctx.url))
        run = self.rows.active_run()
        wake = self.ctx.wake
        if run is not None and wake is not None and wake.interrupted and served is None:
            self._finish(run, s.ABORTED, finish_reason="interrupted")
            run = None
        if run is None:
            if prompt is None and not force and not self._has_new_messages():
                return RunResult(None, "idle")
            run = self._start_run(key)
        else:
            # Messages that arrive while a run waits join it (the model sees them with the
            # tool results); recording them keeps "which run answered what" exact.
            joined = [m.id for m in wake.messages] if wake is not None else []
            known = list(run.trigger)
            fresh = [message_id for message_id in joined if message_id not in known]
            changes: dict[str, Any] = {}
            if run.status == s.AWAITING or fresh:
                changes.update(status=s.RUNNING, trigger=known + fresh)
            if key is not None and key not in run.wakes:
                changes["wakes"] = [*run.wakes, key]
            if changes:
                run = self._save(run, **changes)
        try:
            return await self._loop(run)
        except Interrupted:
            return self._finish(run, s.ABORTED, finish_reason="interrupted")
        finally:
            self._stop_watching()

    # --- the loop --------------------------------------------------------------------

    async def _loop(self, run: RunRow) -> RunResult:
        while True:
            if self.ctx.interrupted.is_set():
                raise Interrupted
            steps = self.rows.steps(run.id)
            last = steps[-1] if steps else None
            if last is not None and last.status == s.RUNNING:
                self._supersede(last)  # a crash cut this step short
                await self.ctx.flush()
                continue
            if last is not None and last.status == s.COMPLETED:
                calls = self.rows.calls(last.id)
                unfinished = [call for call in calls if call.status not in s.CALL_DONE]
                if unfinished:
                    if await self._run_tools(run, unfinished):
                        run = self._save(run, status=s.AWAITING)
                        await self.ctx.flush()
                        return self._result(run)
                    continue
                if not calls:
                    text_row = self.rows.text(last.id)
                    text = text_row.text if text_row is not None else ""
                    return self._finish(run, s.COMPLETED, text=text)
            completed = [step for step in steps if step.status == s.COMPLETED]
            if len(completed) >= self.options.max_steps:
                return self._finish(run, s.ABORTED, finish_reason="max_steps")
            used = run.input_tokens + run.output_tokens
            if self.options.max_tokens is not None and used >= self.options.max_tokens:
                return self._finish(run, s.ABORTED, finish_reason="max_tokens")
            spent = await self.meter.check(self.ctx, run, self.budget)
            if spent is not None:
                return self._finish(
                    run,
                    s.ABORTED,
                    finish_reason="budget",
                    error=spent.describe(),
                    budget=spent.model_dump(exclude_none=True),
                )
            run = await self._model_step(run, len(steps))
            if run.status in s.RUN_DONE:
                return self._result(run)

    def _has_new_messages(self) -> bool:
        wake = self.ctx.wake
        return bool(wake is not None and wake.messages)

    # --- rows ------------------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        self._writer.emit(event)

    def _insert(self, row: RowT) -> RowT:
        return self._writer.insert(row)

    def _save(self, row: RowT, **changes: Any) -> RowT:
        """Write ``row`` with ``changes`` (fields of its model only); returns it as written.

        A dict merge, not a model copy: the loop writes rows at every step, and a copy plus
        a dump cost several times that."""
        model = type(row)
        unknown = changes.keys() - model.model_fields.keys()
        if unknown:
            raise TypeError(f"{model.__name__} has no fields {sorted(unknown)}")
        return self._writer.save(row, **changes)

    # --- runs and steps --------------------------------------------------------------

    def _start_run(self, key: str | None) -> RunRow:
        wake = self.ctx.wake
        return self._insert(
            RunRow(
                id=entity_events.new_id(),
                status=s.RUNNING,
                model=self.model.name,
                model_label=self.model.label,
                started_at=now_timestamp(),
                started=time.time(),
                steps=0,
                input_tokens=0,
                output_tokens=0,
                principal=run_principal(self.ctx),
                trigger=[message.id for message in wake.messages] if wake is not None else [],
                wakes=[key] if key is not None else [],
            )
        )

    def _finish(
        self,
        run: RunRow,
        status: s.RunStatus,
        *,
        text: str = "",
        finish_reason: str | None = None,
        error: str | None = None,
        **changes: Any,
    ) -> RunResult:
        started = run.started if run.started is not None else time.time()
        run = self._save(
            run,
            status=status,
            finished_at=now_timestamp(),
            duration_ms=int((time.time() - started) * 1000),
            finish_reason=finish_reason or status,
            error=error,
            text=text,
            **changes,
        )
        if status != s.COMPLETED:
            # Calls left open by a stopped or failed run will never be answered or run.
            for step in self.rows.steps(run.id):
                for call in self.rows.calls(step.id):
                    if call.status not in s.CALL_DONE:
                        self._call_done(call, s.FAILED, error=f"the run ended ({status})")
                        self._cancel_executor_call(call, status)
        if status == s.COMPLETED and self.ctx.parent:
            self.ctx.complete(text)
        return self._result(run)

    def _result(self, run: RunRow) -> RunResult:
        return RunResult(
            run_id=run.id,
            status=run.status,
            text=run.text,
            steps=run.steps,
            input_tokens=run.input_tokens,
            output_tokens=run.output_tokens,
            finish_reason=run.finish_reason,
            error=run.error,
        )

    def _supersede(self, step: StepRow) -> None:
        partial = self.rows.deltas(v.TEXT_DELTA, step.id)
        if partial:
            self._emit(
                r.text_event(
                    v.TEXT,
                    TextRow(
                        id=step.id,
                        run_id=step.run_id,
                        step_id=step.id,
                        text=partial,
                        status=s.SUPERSEDED,
                    ),
                    step.id,
                )
            )
        self._save(step, status=s.SUPERSEDED)

    def conversation(self) -> list[Message]:
        """The conversation on the stream as the model is sent it (with the latest
        compaction summary in place of the turns it replaces)."""
        return build_messages(
            self.ctx.store,
            tool_result_budget=self.options.tool_result_budget,
            cache=self._history,
        )

    async def _messages(self) -> list[Message]:
        if self.options.build_messages is not None:
            return self.options.build_messages(self.ctx)
        if self.ctx.context_sources is not None:
            return await assemble(self.ctx, self.ctx.context_sources, self.options.token_counter)
        return self.conversation()

    async def _request(self) -> ModelRequest:
        return ModelRequest(
            messages=tuple(await self._messages()),
            system=self.options.system,
            tools=tuple(tool.spec for tool in self.tools.values()),
            max_tokens=self.options.max_output_tokens,
            temperature=self.options.temperature,
        )

    async def _model_call(self, awaitable: Awaitable[T]) -> T:
        """A model call within the server's cap, given up on an interrupt."""
        async with self.concurrency.model_calls:
            return await self._interruptible(awaitable)

    async def _model_step(self, run: RunRow, index: int) -> RunRow:
        # The window is checked first: a summary it writes is on the stream before the
        # step that relies on it starts.
        prepared = await self._window.prepare(run, turn_start=index == 0, build=self._request)
        if prepared.blocked is not None:
            self._finish(run, s.ABORTED, finish_reason="context_window", error=prepared.blocked)
            return self.rows.run(run.id) or run
        # Not flushed here: the step's start goes with its first text, with whatever ends
        # it (for the tool calls, in the same commit that starts them), or after the delta
        # interval, whichever comes first. An instant model step costs one commit, not two.
        step = self._insert(
            StepRow(
                id=f"{run.id}:{index}",
                run_id=run.id,
                index=index,
                status=s.RUNNING,
                model=self.model.name,
                started_at=now_timestamp(),
                **prepared.step_fields(),
            )
        )
        started = time.perf_counter()
        request = prepared.request
        seq = 0  # delta numbers go on across attempts, so a retry's deltas add rows
        for attempt in range(1, self.options.model_attempts + 1):
            stream = _StepStream(self, step, attempt, seq)
            try:
                await self._model_call(stream.consume(request))
                break
            except ModelError as exc:
                await stream.discard()
                seq = stream.seq
                if not exc.retryable or attempt == self.options.model_attempts:
                    self._emit(r.error_event(f"{step.id}:error", str(exc), "model", run.id))
                    self._save(step, status=s.FAILED, error=str(exc))
                    self._finish(run, s.FAILED, error=str(exc), finish_reason="error")
                    return self.rows.run(run.id) or run
                delay = (
                    bounded_retry_after(exc.retry_after)
                    if exc.retry_after is not None
                    else self.options.model_backoff * 2 ** (attempt - 1)
                )
                log.info("%s: model call failed (%s); retrying in %.1fs", self.ctx.url, exc, delay)
                self._emit(
                    r.error_event(f"{step.id}:retry:{attempt}", str(exc), "model_retry", run.id)
                )
                await self.ctx.flush()
                await self._interruptible(asyncio.sleep(delay))
            except Interrupted:
                await stream.discard()
                self._save(step, status=s.SUPERSEDED)
                raise
        text, reasoning = stream.text, stream.reasoning
        if text:
            self._emit(
                r.text_event(
                    v.TEXT,
                    TextRow(
                        id=step.id, run_id=run.id, step_id=step.id, text=text, status=s.COMPLETED
                    ),
                    step.id,
                )
            )
        if reasoning:
            self._emit(
                r.text_event(
                    v.REASONING,
                    ReasoningRow(id=step.id, run_id=run.id, step_id=step.id, text=reasoning),
                    step.id,
                )
            )
        taken = self.ctx.store.collection(v.TOOL_CALL)
        for call in stream.calls:
            tool = self.tools.get(call.name)
            call_id = call.id
            if not call_id or call_id in taken:
                # Some servers number calls per response: a call id must name one call in
                # this entity (rows, history and the answers API are keyed by it).
                call_id = f"call_{uuid.uuid4().hex[:24]}"
            self._insert(
                ToolCallRow(
                    id=call_id,
                    run_id=run.id,
                    step_id=step.id,
                    name=call.name,
                    args=call.arguments,
                    kind=tool.kind if tool else "call",
                    status=s.PENDING,
                    attempts=0,
                    idempotency_key=f"{self.ctx.url}:{run.id}:{call_id}",
                )
            )
        usage = stream.usage
        cost = self.prices.cost(step.model, usage.input_tokens, usage.output_tokens)
        step = self._save(
            step,
            status=s.COMPLETED,
            finish_reason=stream.finish,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cost=cost,
            duration_ms=int((time.perf_counter() - started) * 1000),
            tool_calls=len(stream.calls),
        )
        # Indexed in the commit that completes the step (docs/usage.md).
        self.ctx.progress.operations.append(self.meter.record(self.ctx, run, step))
        return self._save(
            run,
            steps=run.steps + 1,
            input_tokens=run.input_tokens + usage.input_tokens,
            output_tokens=run.output_tokens + usage.output_tokens,
            cost=added(run.cost, cost),
        )  # flushed when its tool calls start, or with the end of the run

    # --- tools -----------------------------------------------------------------------

    async def _run_tools(self, run: RunRow, calls: list[ToolCallRow]) -> bool:
        """Run what can run; return True if some call now waits for an outside answer."""
        waiting = False
        runnable: list[tuple[ToolCallRow, Tool]] = []
        for call in calls:
            tool = self.tools.get(call.name)
            if tool is None:
                self._call_done(call, s.FAILED, error=f"unknown tool {call.name!r}")
                continue
            args = dict(call.args)
            raw = args.get(INVALID_JSON_KEY) if len(args) == 1 else None
            if isinstance(raw, str):
                self._call_done(
                    call, s.FAILED, error=f"arguments are not a JSON object: {raw[:500]}"
                )
                continue
            try:
                tool.validate(args)
            except ToolArgumentsError as exc:
                self._call_done(call, s.FAILED, error=str(exc))
                continue
            answer = self.rows.answer(call.id)
            if tool.kind == "executor" and answer is None:
                if call.status == s.PENDING:
                    # Enqueued in the commit that records the call as waiting: both or
                    # neither, so a call is put on its executor's queue exactly once.
                    self._save(call, status=s.AWAITING_RESULT)
                    self.ctx.progress.operations.extend(self._enqueue(run, call, tool))
                waiting = True
                continue
            if tool.kind in ("async", "executor"):
                if answer is not None:
                    status: s.CallStatus = s.COMPLETED if answer.status == s.COMPLETED else s.FAILED
                    self._call_done(call, status, result=answer.result, error=answer.error)
                else:
                    self._save(call, status=s.AWAITING_RESULT)
                    waiting = True
                continue
            if tool.kind == "approval" and call.status in (s.PENDING, s.AWAITING_APPROVAL):
                if answer is None:
                    self._save(call, status=s.AWAITING_APPROVAL)
                    waiting = True
                    continue
                if answer.status != "approved":
                    self._call_done(call, s.DENIED, error=answer.error or "denied")
                    continue
            if call.status == s.CALLING and call.attempts >= tool.retry.attempts:
                self._call_done(call, s.FAILED, error="interrupted, and out of attempts")
                continue
            runnable.append((call, tool))
        if runnable:
            started = [
                self._save(call, status=s.CALLING, attempts=call.attempts + 1)
                for call, _ in runnable
            ]
            await self.ctx.flush()
            executions = [
                self._execute(run, call, tool)
                for call, (_, tool) in zip(started, runnable, strict=True)
            ]
            # One call (the usual case) needs no gathering task around it.
            await self._interruptible(
                executions[0] if len(executions) == 1 else asyncio.gather(*executions)
            )
        # Not waited for: the results commit with the next step's start (or on their own
        # within milliseconds), and no tool runs before they have landed.
        await self.ctx.flush(wait=False)
        return waiting

    async def _execute(self, run: RunRow, call: ToolCallRow, tool: Tool) -> None:
        attempt = call.attempts or 1
        started = time.perf_counter()
        while True:
            # The tool's writes are its own until its result is recorded: then they move to
            # the progress with it, to land in the same commit (a failed attempt's never do).
            view = self.ctx.for_tool()
            context = ToolContext(view, run.id, call.id, attempt)
            try:
                async with self.concurrency.tool_calls:
                    result = await tool.call(dict(call.args), context)
            except ToolArgumentsError as exc:
                self._call_done(call, s.FAILED, error=str(exc), started=started)
                break
            except Exception as exc:
                message = (
                    "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                )
                if attempt < tool.retry.attempts and tool.retry.retries(exc):
                    await asyncio.sleep(tool.retry.backoff_seconds * 2 ** (attempt - 1))
                    attempt += 1
                    call = self._save(call, status=s.CALLING, attempts=attempt, last_error=message)
                    await self.ctx.flush()
                    continue
                self._call_done(call, s.FAILED, error=message, started=started)
                break
            else:
                view.output.move_to(self.ctx.progress)
                self._call_done(call, s.COMPLETED, result=jsonable(result), started=started)
                break
        # Not waited for: the next model call overlaps the commit, and the flush that
        # starts the next tools waits for it (flushes land in order).
        await self.ctx.flush(wait=False)

    def _call_done(
        self,
        call: ToolCallRow,
        status: s.CallStatus,
        *,
        result: Any = None,
        error: Any = None,
        started: float | None = None,
    ) -> None:
        extra = {}
        if started is not None:
            extra["duration_ms"] = int((time.perf_counter() - started) * 1000)
        self._save(
            call, status=status, result=result, error=error, finished_at=now_timestamp(), **extra
        )

    def _enqueue(self, run: RunRow, call: ToolCallRow, tool: Tool) -> list[Any]:
        assert tool.executor is not None
        return executor_queue.enqueue_operations(
            executor_queue.Enqueue(
                executor=tool.executor,
                entity=self.ctx.url,
                call_id=call.id,
                run_id=run.id,
                tool=tool.name,
                args=dict(call.args),
                idempotency_key=call.idempotency_key or f"{self.ctx.url}:{run.id}:{call.id}",
                max_attempts=tool.retry.attempts,
                backoff_seconds=tool.retry.backoff_seconds,
            )
        )

    def _cancel_executor_call(self, call: ToolCallRow, status: str) -> None:
        """A waiting executor call of a run that ended: cancelled on its queue, so that a
        late result is refused (and recorded) instead of answering a finished run."""
        tool = self.tools.get(call.name)
        if tool is None or tool.executor is None or call.status != s.AWAITING_RESULT:
            return
        key = call.idempotency_key or f"{self.ctx.url}:{call.run_id}:{call.id}"
        self.ctx.progress.operations.extend(
            executor_queue.cancel_operations(tool.executor, key, f"the run ended ({status})")
        )

    # --- interruption ----------------------------------------------------------------

    async def _interruptible(self, awaitable: Awaitable[T]) -> T:
        """Await, but give up within moments of an interrupt signal: ``Interrupted``."""
        work = asyncio.ensure_future(awaitable)
        if self.ctx.interrupted.is_set():
            await _cancel(work)
            raise Interrupted
        self._interruptible_work.add(work)
        if self._interrupt_watch is None or self._interrupt_watch.done():
            self._interrupt_watch = asyncio.ensure_future(self._cancel_on_interrupt())
        try:
            # Awaiting the task itself: cancelling this pass cancels the work too.
            return await work
        except asyncio.CancelledError:
            this = asyncio.current_task()
            if (
                work.cancelled()
                and self.ctx.interrupted.is_set()
                and not (this is not None and this.cancelling())
            ):
                raise Interrupted from None
            raise
        finally:
            self._interruptible_work.discard(work)

    async def _cancel_on_interrupt(self) -> None:
        """One watcher for all the interruptible work of a run, rather than one per await."""
        await self.ctx.interrupted.wait()
        for work in list(self._interruptible_work):
            work.cancel()

    def _stop_watching(self) -> None:
        if self._interrupt_watch is not None:
            self._interrupt_watch.cancel()
            self._interrupt_watch = None


async def _cancel(task: asyncio.Future[Any]) -> None:
    """Cancel ``task`` and wait for it to end, whatever it raises. Unlike awaiting it under
    ``suppress(CancelledError)``, this lets a cancellation of the caller itself through."""
    task.cancel()
    await asyncio.wait({task})
    if not task.cancelled():
        task.exception()  # retrieved, so that it is not reported as never retrieved


class _StepStream:
    """Consumes one model response, appending coalesced deltas as it goes."""

    def __init__(self, agent: Agent, step: StepRow, attempt: int = 1, seq: int = 0) -> None:
        self.agent = agent
        self.step = step
        self.attempt = attempt
        self.text = ""
        self.reasoning = ""
        self.calls: list[ToolCall] = []
        self.usage = Usage()
        self.finish = "stop"
        self._pending: dict[str, str] = {v.TEXT_DELTA: "", v.REASONING_DELTA: ""}
        self.seq = seq
        self._last = time.monotonic()

    async def consume(self, request: ModelRequest) -> None:
        """Read the model's stream through a queue, so pending deltas are appended on time
        even while the model pauses (an async generator must not be cancelled mid-read)."""
        queue: asyncio.Queue[ModelEvent | None] = asyncio.Queue()

        async def produce() -> None:
            try:
                events = self.agent.model.stream(request)
                try:
                    async for item in events:
                        await queue.put(item)
                finally:
                    # Closing at once (not at garbage collection) ends the HTTP response.
                    close = getattr(events, "aclose", None)
                    if close is not None:
                        await close()
            finally:
                await queue.put(None)

        producer = asyncio.ensure_future(produce())
        try:
            while True:
                wait = None
                if any(self._pending.values()) or self.agent.ctx.progress.events:
                    elapsed = time.monotonic() - self._last
                    wait = max(0.0, self.agent.options.delta_interval - elapsed)
                try:
                    async with asyncio.timeout(wait):
                        event = await queue.get()
                except TimeoutError:
                    await self._flush_deltas()
                    continue
                if event is None:
                    break
                await self._take(event)
            await producer  # re-raises a model error
        finally:
            if not producer.done():
                await _cancel(producer)
        self._emit_deltas()  # committed with the end of the step

    async def _take(self, event: ModelEvent) -> None:
        if isinstance(event, TextDelta):
            self.text += event.text
            self._pending[v.TEXT_DELTA] += event.text
        elif isinstance(event, ReasoningDelta):
            self.reasoning += event.text
            self._pending[v.REASONING_DELTA] += event.text
        elif isinstance(event, ToolCallReady):
            self.calls.append(event.call)
        elif isinstance(event, Usage):
            self.usage = Usage(
                self.usage.input_tokens + event.input_tokens,
                self.usage.output_tokens + event.output_tokens,
            )
        elif isinstance(event, Finish):
            self.finish = event.reason
        if time.monotonic() - self._last >= self.agent.options.delta_interval:
            await self._flush_deltas()

    async def _flush_deltas(self) -> None:
        """Append pending deltas, and anything else not yet flushed (the step's start)."""
        self._last = time.monotonic()
        self._emit_deltas()
        if self.agent.ctx.progress.events:
            await self.agent.ctx.flush()

    def _emit_deltas(self) -> None:
        for kind, pending in self._pending.items():
            if not pending:
                continue
            row = DeltaRow(
                step_id=self.step.id,
                run_id=self.step.run_id,
                seq=self.seq,
                attempt=self.attempt,
                delta=pending,
            )
            self.agent._emit(r.delta_event(kind, f"{self.step.id}:{self.seq}", row))
            self._pending[kind] = ""
            self.seq += 1

    async def discard(self) -> None:
        """A failed or interrupted attempt: its partial text is superseded, not lost."""
        self._emit_deltas()  # so that the attempt's deltas add up to its superseded text
        if self.text:
            step = self.step
            row = TextRow(
                id=step.id, run_id=step.run_id, step_id=step.id, text=self.text, status=s.SUPERSEDED
            )
            self.agent._emit(r.text_event(v.TEXT, row, step.id))
        self.text, self.reasoning, self.calls = "", "", []
        self._pending = {v.TEXT_DELTA: "", v.REASONING_DELTA: ""}
