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
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from pydantic import BaseModel

from ..entities import events as entity_events
from ..entities import vocabulary as v
from ..state.events import now_timestamp
from . import records as r
from .history import build_messages
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
from .tools import Tool, ToolArgumentsError, ToolContext, as_tool

if TYPE_CHECKING:
    from ..entities.context import Context

log = logging.getLogger("wakeful.agent")
T = TypeVar("T")
MessagesHook = Callable[["Context"], list[Message]]


class Interrupted(Exception):
    """The run was interrupted by a signal (or the stop API)."""


class Concurrency:
    """Per-server caps on model calls and tool executions running at once.

    Waiting work queues first-come, first-served (asyncio semaphores wake in order)."""

    def __init__(self, model_calls: int = 16, tool_calls: int = 32) -> None:
        if model_calls < 1 or tool_calls < 1:
            raise ValueError("concurrency limits must be at least 1")
        self.model_calls = asyncio.Semaphore(model_calls)
        self.tool_calls = asyncio.Semaphore(tool_calls)


UNLIMITED = Concurrency(1 << 30, 1 << 30)


@dataclass(slots=True)
class AgentConfig:
    model: Model
    system: str | None = None
    tools: dict[str, Tool] = field(default_factory=dict)
    max_steps: int = 20
    max_tokens: int | None = None  # per run: input plus output tokens over all steps
    max_output_tokens: int | None = None  # per model call
    temperature: float | None = None
    tool_result_budget: int | None = 2000  # tokens of one tool result shown to the model
    build_messages: MessagesHook | None = None
    delta_interval: float = 0.05  # seconds between text_delta appends while streaming
    model_attempts: int = 4
    model_backoff: float = 1.0
    concurrency: Concurrency = UNLIMITED


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


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    try:
        return orjson.loads(orjson.dumps(value))
    except TypeError:
        return str(value)


class Agent:
    def __init__(self, ctx: Context, config: AgentConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.rows = r.Rows(ctx.store)
        self._history: dict[str, list[Message]] = {}  # turns of finished steps, by step
        self._interruptible_work: set[asyncio.Future[Any]] = set()
        self._interrupt_watch: asyncio.Future[None] | None = None

    # --- public ----------------------------------------------------------------------

    async def run(self, prompt: str | None = None, *, force: bool = False) -> RunResult:
        """Continue the active run, or start one for new messages (or for ``prompt``).

        ``force`` starts a run from the conversation so far even without a new message
        (resuming a stopped or failed conversation). Returns at once with status ``idle``
        when there is nothing to do."""
        if prompt is not None:
            self._emit(entity_events.inbox(prompt, self.ctx.url))
        run = self.rows.active_run()
        wake = self.ctx.wake
        if run is not None and wake is not None and wake.interrupted:
            self._finish(run, r.ABORTED, finish_reason="interrupted")
            run = None
        if run is None:
            if prompt is None and not force and not self._has_new_messages():
                return RunResult(None, "idle")
            run = self._start_run()
        else:
            # Messages that arrive while a run waits join it (the model sees them with the
            # tool results); recording them keeps "which run answered what" exact.
            joined = [m.id for m in wake.messages] if wake is not None else []
            known = list(run.get("trigger") or [])
            fresh = [message_id for message_id in joined if message_id not in known]
            if run.get("status") == r.AWAITING or fresh:
                run = self._update_run(run, status=r.RUNNING, trigger=known + fresh)
        try:
            return await self._loop(run)
        except Interrupted:
            return self._finish(run, r.ABORTED, finish_reason="interrupted")
        finally:
            self._stop_watching()

    # --- the loop --------------------------------------------------------------------

    async def _loop(self, run: dict[str, Any]) -> RunResult:
        while True:
            if self.ctx.interrupted.is_set():
                raise Interrupted
            steps = self.rows.steps(str(run["id"]))
            last = steps[-1] if steps else None
            if last is not None and last.get("status") == r.RUNNING:
                self._supersede(last)  # a crash cut this step short
                await self.ctx.flush()
                continue
            if last is not None and last.get("status") == r.COMPLETED:
                calls = self.rows.calls(str(last["id"]))
                unfinished = [call for call in calls if call.get("status") not in r.CALL_DONE]
                if unfinished:
                    if await self._run_tools(run, unfinished):
                        run = self._update_run(run, status=r.AWAITING)
                        await self.ctx.flush()
                        return self._result(run)
                    continue
                if not calls:
                    text_row = self.rows.text(str(last["id"])) or {}
                    return self._finish(run, r.COMPLETED, text=str(text_row.get("text", "")))
            completed = [step for step in steps if step.get("status") == r.COMPLETED]
            if len(completed) >= self.config.max_steps:
                return self._finish(run, r.ABORTED, finish_reason="max_steps")
            used = int(run.get("input_tokens", 0)) + int(run.get("output_tokens", 0))
            if self.config.max_tokens is not None and used >= self.config.max_tokens:
                return self._finish(run, r.ABORTED, finish_reason="max_tokens")
            run = await self._model_step(run, len(steps))
            if run.get("status") in r.RUN_DONE:
                return self._result(run)

    def _has_new_messages(self) -> bool:
        wake = self.ctx.wake
        return bool(wake is not None and wake.messages)

    # --- runs and steps --------------------------------------------------------------

    def _emit(self, event: dict[str, Any]) -> None:
        self.ctx.output.events.append(event)
        self.ctx.store.apply(event)

    def _start_run(self) -> dict[str, Any]:
        wake = self.ctx.wake
        run = {
            "id": entity_events.new_id(),
            "status": r.RUNNING,
            "model": self.config.model.name,
            "model_label": self.config.model.label,
            "started_at": now_timestamp(),
            "started": time.time(),
            "steps": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "trigger": [message.id for message in wake.messages] if wake is not None else [],
        }
        self._emit(r.run_event(run, new=True))
        return run

    def _update_run(self, run: dict[str, Any], **changes: Any) -> dict[str, Any]:
        updated = {**run, **changes}
        self._emit(r.run_event(updated))
        return updated

    def _finish(
        self,
        run: dict[str, Any],
        status: str,
        *,
        text: str = "",
        finish_reason: str | None = None,
        error: str | None = None,
    ) -> RunResult:
        started = float(run.get("started", time.time()))
        run = self._update_run(
            run,
            status=status,
            finished_at=now_timestamp(),
            duration_ms=int((time.time() - started) * 1000),
            finish_reason=finish_reason or status,
            error=error,
            text=text,
        )
        if status != r.COMPLETED:
            # Calls left open by a stopped or failed run will never be answered or run.
            for step in self.rows.steps(str(run["id"])):
                for call in self.rows.calls(str(step["id"])):
                    if call.get("status") not in r.CALL_DONE:
                        self._call_done(call, r.FAILED, error=f"the run ended ({status})")
        if status == r.COMPLETED and self.ctx.parent:
            self.ctx.complete(text)
        return self._result(run)

    def _run_row(self, run: dict[str, Any]) -> dict[str, Any]:
        """The stored row of ``run``, as its last event left it."""
        found = [row for row in self.rows.runs() if row.get("id") == run["id"]]
        return found[-1] if found else run

    def _result(self, run: dict[str, Any]) -> RunResult:
        return RunResult(
            run_id=str(run["id"]),
            status=str(run["status"]),
            text=str(run.get("text", "")),
            steps=int(run.get("steps", 0)),
            input_tokens=int(run.get("input_tokens", 0)),
            output_tokens=int(run.get("output_tokens", 0)),
            finish_reason=run.get("finish_reason"),
            error=run.get("error"),
        )

    def _supersede(self, step: dict[str, Any]) -> None:
        step_id = str(step["id"])
        partial = self.rows.deltas(v.TEXT_DELTA, step_id)
        if partial:
            self._emit(
                r.text_event(
                    step_id,
                    {
                        "id": step_id,
                        "run_id": step["run_id"],
                        "step_id": step_id,
                        "text": partial,
                        "status": r.SUPERSEDED,
                    },
                )
            )
        self._emit(r.step_event({**step, "status": r.SUPERSEDED}))

    def _messages(self) -> list[Message]:
        if self.config.build_messages is not None:
            return self.config.build_messages(self.ctx)
        return build_messages(
            self.ctx.store, tool_result_budget=self.config.tool_result_budget, cache=self._history
        )

    async def _model_step(self, run: dict[str, Any], index: int) -> dict[str, Any]:
        run_id = str(run["id"])
        step = {
            "id": f"{run_id}:{index}",
            "run_id": run_id,
            "index": index,
            "status": r.RUNNING,
            "model": self.config.model.name,
            "started_at": now_timestamp(),
        }
        # Not flushed here: the step's start goes with its first text, with whatever ends
        # it (for the tool calls, in the same commit that starts them), or after the delta
        # interval, whichever comes first. An instant model step costs one commit, not two.
        self._emit(r.step_event(step, new=True))
        started = time.perf_counter()
        request = ModelRequest(
            messages=tuple(self._messages()),
            system=self.config.system,
            tools=tuple(tool.spec for tool in self.config.tools.values()),
            max_tokens=self.config.max_output_tokens,
            temperature=self.config.temperature,
        )
        seq = 0  # delta numbers go on across attempts, so a retry's deltas add rows
        for attempt in range(1, self.config.model_attempts + 1):
            stream = _StepStream(self, step, attempt, seq)
            try:
                async with self.config.concurrency.model_calls:
                    await self._interruptible(stream.consume(request))
                break
            except ModelError as exc:
                await stream.discard()
                seq = stream.seq
                if not exc.retryable or attempt == self.config.model_attempts:
                    self._emit(r.error_event(f"{step['id']}:error", str(exc), "model", run_id))
                    self._emit(r.step_event({**step, "status": r.FAILED, "error": str(exc)}))
                    self._finish(run, r.FAILED, error=str(exc), finish_reason="error")
                    # The finished row as _finish wrote it, so the result carries its error.
                    return self.rows.active_run() or self._run_row(run)
                delay = (
                    bounded_retry_after(exc.retry_after)
                    if exc.retry_after is not None
                    else self.config.model_backoff * 2 ** (attempt - 1)
                )
                log.info("%s: model call failed (%s); retrying in %.1fs", self.ctx.url, exc, delay)
                self._emit(
                    r.error_event(f"{step['id']}:retry:{attempt}", str(exc), "model_retry", run_id)
                )
                await self.ctx.flush()
                await self._interruptible(asyncio.sleep(delay))
            except Interrupted:
                await stream.discard()
                self._emit(r.step_event({**step, "status": r.SUPERSEDED}))
                raise
        text, reasoning = stream.text, stream.reasoning
        step_id = str(step["id"])
        if text:
            self._emit(
                r.text_event(
                    step_id,
                    {
                        "id": step["id"],
                        "run_id": run_id,
                        "step_id": step["id"],
                        "text": text,
                        "status": r.COMPLETED,
                    },
                )
            )
        if reasoning:
            self._emit(
                r.reasoning_event(
                    step_id,
                    {"id": step["id"], "run_id": run_id, "step_id": step["id"], "text": reasoning},
                )
            )
        taken = self.ctx.store.collection(v.TOOL_CALL)
        for call in stream.calls:
            tool = self.config.tools.get(call.name)
            call_id = call.id
            if not call_id or call_id in taken:
                # Some servers number calls per response: a call id must name one call in
                # this entity (rows, history and the answers API are keyed by it).
                call_id = f"call_{uuid.uuid4().hex[:24]}"
            self._emit(
                r.tool_call_event(
                    {
                        "id": call_id,
                        "run_id": run_id,
                        "step_id": step["id"],
                        "name": call.name,
                        "args": call.arguments,
                        "kind": tool.kind if tool else "call",
                        "status": r.PENDING,
                        "attempts": 0,
                        "idempotency_key": f"{self.ctx.url}:{run_id}:{call_id}",
                    },
                    new=True,
                )
            )
        usage = stream.usage
        self._emit(
            r.step_event(
                {
                    **step,
                    "status": r.COMPLETED,
                    "finish_reason": stream.finish,
                    "input_tokens": usage.input_tokens,
                    "output_tokens": usage.output_tokens,
                    "duration_ms": int((time.perf_counter() - started) * 1000),
                    "tool_calls": len(stream.calls),
                }
            )
        )
        run = self._update_run(
            run,
            steps=int(run.get("steps", 0)) + 1,
            input_tokens=int(run.get("input_tokens", 0)) + usage.input_tokens,
            output_tokens=int(run.get("output_tokens", 0)) + usage.output_tokens,
        )
        return run  # flushed when its tool calls start, or with the end of the run

    # --- tools -----------------------------------------------------------------------

    async def _run_tools(self, run: dict[str, Any], calls: list[dict[str, Any]]) -> bool:
        """Run what can run; return True if some call now waits for an outside answer."""
        waiting = False
        runnable: list[tuple[dict[str, Any], Tool]] = []
        for call in calls:
            tool = self.config.tools.get(str(call.get("name")))
            if tool is None:
                self._call_done(call, r.FAILED, error=f"unknown tool {call.get('name')!r}")
                continue
            args = dict(call.get("args") or {})
            raw = args.get(INVALID_JSON_KEY) if len(args) == 1 else None
            if isinstance(raw, str):
                self._call_done(
                    call, r.FAILED, error=f"arguments are not a JSON object: {raw[:500]}"
                )
                continue
            try:
                tool.validate(args)
            except ToolArgumentsError as exc:
                self._call_done(call, r.FAILED, error=str(exc))
                continue
            answer = self.rows.answer(str(call["id"]))
            if tool.kind == "async":
                if answer is not None:
                    status = r.COMPLETED if answer.get("status") == "completed" else r.FAILED
                    self._call_done(
                        call, status, result=answer.get("result"), error=answer.get("error")
                    )
                else:
                    self._call_update(call, status=r.AWAITING_RESULT)
                    waiting = True
                continue
            if tool.kind == "approval" and call.get("status") in (r.PENDING, r.AWAITING_APPROVAL):
                if answer is None:
                    self._call_update(call, status=r.AWAITING_APPROVAL)
                    waiting = True
                    continue
                if answer.get("status") != "approved":
                    self._call_done(call, r.DENIED, error=answer.get("error") or "denied")
                    continue
            if (
                call.get("status") == r.CALLING
                and int(call.get("attempts", 0)) >= tool.retry.attempts
            ):
                self._call_done(call, r.FAILED, error="interrupted, and out of attempts")
                continue
            runnable.append((call, tool))
        if runnable:
            started = [
                self._call_update(call, status=r.CALLING, attempts=int(call.get("attempts", 0)) + 1)
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

    async def _execute(self, run: dict[str, Any], call: dict[str, Any], tool: Tool) -> None:
        attempt = int(call.get("attempts", 1))
        started = time.perf_counter()
        while True:
            context = ToolContext(self.ctx, str(run["id"]), str(call["id"]), attempt)
            try:
                async with self.config.concurrency.tool_calls:
                    result = await tool.call(dict(call.get("args") or {}), context)
            except ToolArgumentsError as exc:
                self._call_done(call, r.FAILED, error=str(exc), started=started)
                break
            except Exception as exc:
                message = (
                    "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
                )
                if attempt < tool.retry.attempts and tool.retry.retries(exc):
                    await asyncio.sleep(tool.retry.backoff_seconds * 2 ** (attempt - 1))
                    attempt += 1
                    call = self._call_update(
                        call, status=r.CALLING, attempts=attempt, last_error=message
                    )
                    await self.ctx.flush()
                    continue
                self._call_done(call, r.FAILED, error=message, started=started)
                break
            else:
                self._call_done(call, r.COMPLETED, result=_jsonable(result), started=started)
                break
        # Not waited for: the next model call overlaps the commit, and the flush that
        # starts the next tools waits for it (flushes land in order).
        await self.ctx.flush(wait=False)

    def _call_update(self, call: dict[str, Any], **changes: Any) -> dict[str, Any]:
        updated = {**call, **changes}
        self._emit(r.tool_call_event(updated))
        return updated

    def _call_done(
        self,
        call: dict[str, Any],
        status: str,
        *,
        result: Any = None,
        error: Any = None,
        started: float | None = None,
    ) -> None:
        extra = {}
        if started is not None:
            extra["duration_ms"] = int((time.perf_counter() - started) * 1000)
        self._call_update(
            call, status=status, result=result, error=error, finished_at=now_timestamp(), **extra
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

    def __init__(self, agent: Agent, step: dict[str, Any], attempt: int = 1, seq: int = 0) -> None:
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
                events = self.agent.config.model.stream(request)
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
                if any(self._pending.values()) or self.agent.ctx.output.events:
                    elapsed = time.monotonic() - self._last
                    wait = max(0.0, self.agent.config.delta_interval - elapsed)
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
        if time.monotonic() - self._last >= self.agent.config.delta_interval:
            await self._flush_deltas()

    async def _flush_deltas(self) -> None:
        """Append pending deltas, and anything else not yet flushed (the step's start)."""
        self._last = time.monotonic()
        self._emit_deltas()
        if self.agent.ctx.output.events:
            await self.agent.ctx.flush()

    def _emit_deltas(self) -> None:
        for kind, pending in self._pending.items():
            if not pending:
                continue
            key = f"{self.step['id']}:{self.seq}"
            self.agent._emit(
                r.delta_event(
                    kind,
                    key,
                    {
                        "step_id": self.step["id"],
                        "run_id": self.step["run_id"],
                        "seq": self.seq,
                        "attempt": self.attempt,
                        "delta": pending,
                    },
                )
            )
            self._pending[kind] = ""
            self.seq += 1

    async def discard(self) -> None:
        """A failed or interrupted attempt: its partial text is superseded, not lost."""
        self._emit_deltas()  # so that the attempt's deltas add up to its superseded text
        if self.text:
            step_id = str(self.step["id"])
            self.agent._emit(
                r.text_event(
                    step_id,
                    {
                        "id": step_id,
                        "run_id": self.step["run_id"],
                        "step_id": step_id,
                        "text": self.text,
                        "status": r.SUPERSEDED,
                    },
                )
            )
        self.text, self.reasoning, self.calls = "", "", []
        self._pending = {v.TEXT_DELTA: "", v.REASONING_DELTA: ""}


class ModelCache:
    """Models resolved by name, kept for the life of a runtime so connection pools are
    reused across passes, and closed with it."""

    def __init__(self) -> None:
        self._models: dict[str, Model] = {}

    def get(self, spec: str | None) -> Model:
        key = spec or ""
        model = self._models.get(key)
        if model is None:
            from .models import default_model, resolve

            model = self._models[key] = default_model() if spec is None else resolve(spec)
        return model

    async def aclose(self) -> None:
        for model in self._models.values():
            with contextlib.suppress(Exception):
                await model.aclose()
        self._models.clear()


def use_agent(
    ctx: Context,
    model: Model | str | None = None,
    *,
    system: str | None = None,
    tools: Iterable[Tool | Callable[..., Any]] = (),
    max_steps: int = 20,
    max_tokens: int | None = None,
    max_output_tokens: int | None = None,
    temperature: float | None = None,
    tool_result_budget: int | None = 2000,
    build_messages: MessagesHook | None = None,
    concurrency: Concurrency | None = None,
    models: ModelCache | None = None,
) -> Agent:
    """Configure the agent for this pass: ``ctx.use_agent(...)`` then ``await ctx.agent.run()``.

    ``model`` is a :class:`Model` or a name like ``openai:gpt-4o-mini``; without one the
    default is picked from the environment (an offline demo model when no key is set)."""
    chosen = model if isinstance(model, Model) else (models or ModelCache()).get(model)
    tool_list = [as_tool(item) for item in tools]
    names = [item.name for item in tool_list]
    if len(set(names)) != len(names):
        raise ValueError(f"tool names must be unique, got {names}")
    config = AgentConfig(
        model=chosen,
        system=system,
        tools={item.name: item for item in tool_list},
        max_steps=max_steps,
        max_tokens=max_tokens,
        max_output_tokens=max_output_tokens,
        temperature=temperature,
        tool_result_budget=tool_result_budget,
        build_messages=build_messages,
        concurrency=concurrency or UNLIMITED,
    )
    return Agent(ctx, config)
