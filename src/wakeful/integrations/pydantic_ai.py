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

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

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

from ..agent import rows as s
from ..agent.rows import RunRow
from ..entities import vocabulary as v
from ..errors import WakefulError
from . import _durable as d
from ._durable import CallInfo, DurableResult, current_call

if TYPE_CHECKING:
    from ..entities.context import Context

__all__ = ["CallInfo", "DurableResult", "WakefulAgent", "current_call"]

DepsT = TypeVar("DepsT")
OutputT = TypeVar("OutputT")

_KIND_OF = {"unapproved": "approval", "external": "async"}
DENIED_MESSAGE = "The user denied this call."


def _dump_messages(messages: Sequence[ModelMessage]) -> list[Any]:
    """Messages as the stream keeps them; their unset (``None``) fields left out, which
    halves a response and reads back equal."""
    return list(
        ModelMessagesTypeAdapter.dump_python(list(messages), mode="json", exclude_none=True)
    )


def _load_messages(value: Any) -> list[ModelMessage]:
    return list(ModelMessagesTypeAdapter.validate_python(value))


def _user_prompt(text: str) -> list[ModelMessage]:
    return [ModelRequest(parts=[UserPromptPart(text)])]


class WakefulAgent(d.Wrapper[Agent[DepsT, OutputT]], Generic[DepsT, OutputT]):
    """A pydantic-ai :class:`~pydantic_ai.Agent` whose runs are durable in a handler."""

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
        model = _model_name(self.agent.model)
        begun = d.begin(ctx, prompt, model=model, force=force, delta_interval=self.delta_interval)
        if begun is None:
            return DurableResult(None, "idle")
        if isinstance(begun, RunRow):
            return d.served(begun, self.agent.output_type)
        return await _Run(self, begun, deps, usage_limits, model_settings).go()


def _model_name(model: Model | str | None) -> str | None:
    if isinstance(model, Model):
        return f"{model.system}:{model.model_name}"
    return model


@dataclass
class _Run(Generic[DepsT, OutputT]):
    owner: WakefulAgent[DepsT, OutputT]
    state: d.RunState
    deps: DepsT
    usage_limits: UsageLimits | None
    model_settings: ModelSettings | None

    async def go(self) -> DurableResult[OutputT]:
        state = self.state
        history = d.history(
            state,
            recorded=_load_messages,
            prompt=_user_prompt,
        )
        prompt = state.prompts()
        messages = history
        answers: DeferredToolResults | None = None
        usage: RunUsage | None = None
        while True:
            try:
                result: AgentRunResult[Any] = await d.interruptible(
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
            except d.Interrupted:
                return state.finish(s.ABORTED, finish_reason="interrupted")
            except UsageLimitExceeded as exc:
                return state.finish(s.ABORTED, finish_reason="usage_limit", error=str(exc))
            except WakefulError:
                raise  # the pass itself failed (fenced, say): its runtime retries or closes it
            except Exception as exc:
                return state.finish(s.FAILED, finish_reason="error", error=f"{exc}")
            output = result.output
            if not isinstance(output, DeferredToolRequests):
                new = _dump_messages(result.all_messages()[len(history) :])
                return state.finish(s.COMPLETED, output=output, messages=new)
            answers = _answers(state, output)
            if answers is None:
                run = state.writer.save(state.run(), status=s.AWAITING)
                await state.ctx.flush()
                return d.result_of(run)
            messages, prompt, usage = result.all_messages(), None, result.usage


# --- the conversation ---------------------------------------------------------------------


def _answers(state: d.RunState, requests: DeferredToolRequests) -> DeferredToolResults | None:
    """Wakeful's answers to the deferred calls, or None while some are still awaited (those
    are marked waiting, so the tool-calls API takes their answers)."""
    results = DeferredToolResults()
    waiting = False
    for kind, parts in (("approval", requests.approvals), ("async", requests.calls)):
        for part in parts:
            call = d.call_row(state, _new_call(part, kind))
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
                    d.call_done(state, call, s.DENIED, error=answer.error or "denied")
            elif answer.status == s.COMPLETED:
                results.calls[call.id] = answer.result
                if call.status != s.COMPLETED:
                    d.call_done(state, call, s.COMPLETED, result=answer.result)
            else:
                results.calls[call.id] = ModelRetry(answer.error or "the call failed")
                if call.status != s.FAILED:
                    d.call_done(state, call, s.FAILED, error=answer.error)
    return None if waiting else results


def _new_call(part: ToolCallPart, kind: str = "call") -> d.NewCall:
    try:
        args = part.args_as_dict()
    except ValueError:
        args = {"_raw": part.args}
    return d.NewCall(part.tool_call_id, part.tool_name, args, kind)


# --- the capability: the model and the tools, wrapped -----------------------------------------


@dataclass(init=False)
class _Durable(AbstractCapability[Any]):
    """Wraps whichever model serves each request, and the run's function tools."""

    state: d.RunState

    def __init__(self, state: d.RunState) -> None:
        self.state = state

    def get_wrapper_model(self, model: Model) -> Model | None:
        return _DurableModel(model, self.state)

    def get_wrapper_toolset(self, toolset: AbstractToolset[Any]) -> AbstractToolset[Any] | None:
        return _DurableToolset(toolset, self.state)


class _DurableModel(WrapperModel):
    """The k-th request of the run: the k-th completed step's response if there is one, or
    a call of the model, streamed into deltas and recorded as that step."""

    def __init__(self, wrapped: Model, state: d.RunState) -> None:
        super().__init__(wrapped)
        self.state = state

    async def request(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        model_request_parameters: ModelRequestParameters,
    ) -> ModelResponse:
        state = self.state
        recorded = d.replayed(state)
        if recorded is not None:
            (response,) = _load_messages([recorded])
            assert isinstance(response, ModelResponse)
            return response

        def record(response: ModelResponse) -> tuple[ModelResponse, d.StepRecord]:
            response = _own_call_ids(state, response)
            return response, _step_record(response, model_request_parameters)

        return await d.request(
            state,
            self.model_name,
            lambda deltas: self._stream(messages, model_settings, model_request_parameters, deltas),
            record,
        )

    async def _stream(
        self,
        messages: list[ModelMessage],
        model_settings: ModelSettings | None,
        parameters: ModelRequestParameters,
        deltas: d.Deltas,
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


def _own_call_ids(state: d.RunState, response: ModelResponse) -> ModelResponse:
    ids = d.CallIds(state)
    parts = [
        dataclasses.replace(part, tool_call_id=ids.own(part.tool_call_id))
        if isinstance(part, ToolCallPart)
        else part
        for part in response.parts
    ]
    return dataclasses.replace(response, parts=parts)


def _step_record(response: ModelResponse, parameters: ModelRequestParameters) -> d.StepRecord:
    tools = {tool.name: tool for tool in parameters.function_tools}
    calls = [
        _new_call(part, _KIND_OF.get(tools[part.tool_name].kind, "call"))
        for part in response.parts
        if isinstance(part, ToolCallPart) and part.tool_name in tools
    ]
    return d.StepRecord(
        text="".join(part.content for part in response.parts if isinstance(part, TextPart)),
        reasoning="".join(p.content for p in response.parts if isinstance(p, ThinkingPart)),
        calls=calls,
        input_tokens=response.usage.input_tokens,
        output_tokens=response.usage.output_tokens,
        finish_reason=response.finish_reason or "stop",
        response=_dump_messages([response])[0],
    )


@dataclass
class _DurableToolset(WrapperToolset[Any]):
    """A completed call returns its recorded result; any other runs, and is recorded."""

    state: d.RunState

    async def call_tool(
        self, name: str, tool_args: dict[str, Any], ctx: RunContext[Any], tool: ToolsetTool[Any]
    ) -> Any:
        call = d.call_row(
            self.state, _new_call(ToolCallPart(name, tool_args, ctx.tool_call_id or ""))
        )
        return await d.run_call(
            self.state,
            call,
            lambda: super(_DurableToolset, self).call_tool(name, tool_args, ctx, tool),
            waits=(ApprovalRequired, CallDeferred),
            retry=ModelRetry,
        )
