"""The check before each model request: how full the model's context window would be,
and what the compaction policy does about it.

:meth:`ContextWindow.prepare` builds the request, measures it (the counter's estimate,
corrected by the provider's count of the last step), and asks the policy. A summary it
asks for is written and flushed before the request is rebuilt from the stream, so the
stream always holds what the model was sent; a notice is recorded where it was given. A
request that would still not fit the window is not sent: the run ends ``aborted`` with
finish reason ``context_window``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..entities import vocabulary as v
from ..state.events import now_timestamp
from . import records as r
from .compaction import ContextUsage, Decision
from .history import conversation_turns
from .models.base import ModelError, ModelRequest
from .rows import COMPLETED, ContextRow, RunRow, StepRow
from .summaries import split, summarise
from .tokens import calibrated, count_messages, count_request

if TYPE_CHECKING:
    from .loop import Agent

log = logging.getLogger("wakeful.agent")

RequestBuilder = Callable[[], Awaitable[ModelRequest]]


@dataclass(frozen=True, slots=True)
class Prepared:
    """A request ready to send, its size as the step row records it, and ``blocked``
    (why not to send it) when it would not fit the window."""

    request: ModelRequest
    tokens: int
    estimate: int
    window: int | None
    blocked: str | None = None

    def step_fields(self) -> dict[str, Any]:
        return {
            "context_tokens": self.tokens,
            "context_estimate": self.estimate,
            "context_window": self.window,
        }


class ContextWindow:
    """The context window of one agent's model, checked before each of its requests."""

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        options = agent.options
        self.counter = options.token_counter
        self.policy = options.compaction
        self.window = (
            options.context_window
            or agent.model.context_window
            or options.context_windows.window_for(agent.model.name)
        )

    async def prepare(self, run: RunRow, *, turn_start: bool, build: RequestBuilder) -> Prepared:
        request = await build()
        tokens, estimate = self._measure(request)
        window = self.window
        if window is None or self.policy is None:
            return Prepared(request, tokens, estimate, window)
        decision = self.policy.decide(self._usage(tokens, window, turn_start))
        if decision.compact and await self._compact(run, decision, tokens):
            request = await build()
            tokens, estimate = self._measure(request)
            decision = self.policy.decide(self._usage(tokens, window, turn_start=False))
        if decision.notice is not None:
            self._notice(run, decision.notice, tokens, window)
            request = await build()
            tokens, estimate = self._measure(request)
        blocked = None
        if tokens >= window:
            blocked = (
                f"the request needs about {tokens} tokens, and the model's context window"
                f" holds {window}"
            )
        return Prepared(request, tokens, estimate, window, blocked)

    # --- measuring -------------------------------------------------------------------

    def _measure(self, request: ModelRequest) -> tuple[int, int]:
        """The request's best known size, and the counter's own estimate of it."""
        estimate = count_request(self.counter, request)
        last = self._last_counted_step()
        if last is None:
            return estimate, estimate
        return calibrated(estimate, last.context_estimate, last.input_tokens), estimate

    def _last_counted_step(self) -> StepRow | None:
        steps = self.agent.ctx.store.collection(v.STEP)
        for key in reversed(steps.keys()):
            step = steps.view(key, StepRow)
            if step is not None and step.status == COMPLETED and step.context_estimate:
                return step
        return None

    def _usage(self, tokens: int, window: int, turn_start: bool) -> ContextUsage:
        generation = self._generation()
        noticed = [
            row.percent or 0
            for row in self.agent.rows.inserted()
            if row.kind == "notice" and row.generation == generation
        ]
        return ContextUsage(tokens, window, turn_start, max(noticed, default=0))

    def _generation(self) -> int:
        return sum(1 for row in self.agent.rows.inserted() if row.kind == "summary")

    # --- writing ---------------------------------------------------------------------

    def _notice(self, run: RunRow, percent: int, tokens: int, window: int) -> None:
        generation = self._generation()
        share = round(100 * tokens / window)
        row = ContextRow(
            id=f"notice:{generation}:{percent}",
            kind="notice",
            text=f"The context window is {share}% full: about {tokens} of {window} tokens used.",
            run_id=run.id,
            generation=generation,
            percent=percent,
            tokens_before=tokens,
            context_window=window,
            at=now_timestamp(),
        )
        self.agent._writer.emit(r.context_event(row))

    async def _compact(self, run: RunRow, decision: Decision, tokens: int) -> bool:
        """Summarise the older turns into a row, flushed; False if there was nothing to
        summarise, or the default history is not what the model is sent."""
        agent = self.agent
        if agent.options.build_messages is not None:
            return False  # the hook builds the messages, and would not use a summary
        assert self.window is not None
        turns = conversation_turns(
            agent.ctx.store, tool_result_budget=agent.options.tool_result_budget
        )
        chosen = split(turns, self.counter, decision.keep_tokens)
        if chosen is None:
            return False
        try:
            summary = await summarise(
                agent.model,
                chosen.older,
                counter=self.counter,
                window=self.window,
                instructions=decision.instructions,
                max_tokens=decision.summary_max_tokens,
                attempts=agent.options.model_attempts,
                backoff=agent.options.model_backoff,
                guard=agent._model_call,
            )
        except ModelError as exc:
            # Without a summary the request may still fit; if not, the floor stops it.
            log.warning("%s: compaction failed: %s", agent.ctx.url, exc)
            key = f"{run.id}:compaction:{uuid.uuid4().hex[:12]}"
            agent._writer.emit(r.error_event(key, str(exc), "compaction", run.id))
            return False
        if not summary.text:
            return False
        replaced = sum(count_messages(self.counter, turn.messages) for turn in chosen.older)
        generation = self._generation()
        through = chosen.through
        row = ContextRow(
            id=f"summary:{generation}",
            kind="summary",
            text=summary.text,
            run_id=run.id,
            through_type=through.type,
            through_key=through.key,
            generation=generation,
            tokens_before=tokens,
            tokens_after=max(0, tokens - replaced + self.counter.count(summary.text)),
            context_window=self.window,
            model=agent.model.name,
            input_tokens=summary.usage.input_tokens,
            output_tokens=summary.usage.output_tokens,
            at=now_timestamp(),
        )
        agent._writer.emit(r.context_event(row))
        await agent.ctx.flush()
        return True
