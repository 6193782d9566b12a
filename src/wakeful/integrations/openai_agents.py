"""OpenAI Agents SDK agents, durable on Wakeful.

::

    durable = WakefulRunner(agent)       # beside the agent, once

    async def handle(ctx, wake):
        result = await durable.run(ctx, context=...)

A runner, as the SDK's own ``Runner`` (and the DBOS and Temporal integrations' runners)
is, since an ``agents.Agent`` is plain data that the runner brings to life. Its ``run``
runs the SDK's ``Runner.run`` on a copy of the agent (and of every agent its handoffs
reach) whose model and function tools are wrapped; the agent itself is not changed, so it
still runs plain in tests and scripts.

What it records, in the native loop's vocabulary (so the console, threads, AG-UI and the
client show it like a native run): the run is a ``run`` row (its final output, its last
agent and its new input items recorded on it when it completes), each model request a
``step`` row (its text streamed as ``text_delta`` rows while the model streams, the agent
that made it, its usage and its whole response kept), each function tool call a
``tool_call`` row with Wakeful's idempotency key (:func:`~wakeful.current_call`), and each
handoff a ``tool_call`` row marked ``handoff`` whose result names the agent handed to.

How it resumes: every pass runs the SDK's run again from its start. The k-th model request
answers with the k-th completed step's recorded response, so a completed model call is never
sent again; a tool call whose row is completed returns its recorded result without running,
and one cut short by a crash runs again with the same key; a completed handoff hands over
without running its ``on_handoff`` again. The SDK's seam for the model is its ``Model``
interface (the wrapper is one), for tools a ``FunctionTool``'s ``on_invoke_tool``, for
handoffs a ``Handoff``'s ``on_invoke_handoff``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import TypeAdapter

from .._extras import require

require("agents", extra="openai-agents", feature="OpenAI Agents SDK agents")

from agents import (
    Agent,
    FunctionTool,
    Handoff,
    MaxTurnsExceeded,
    Model,
    ModelResponse,
    RunConfig,
    RunContextWrapper,
    Runner,
    Usage,
    handoff,
)
from agents.items import TResponseInputItem, TResponseOutputItem
from agents.run import DEFAULT_MAX_TURNS
from agents.tool_context import ToolContext
from agents.usage import _response_usage_to_usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseReasoningItem,
    ResponseReasoningSummaryTextDeltaEvent,
    ResponseTextDeltaEvent,
)
from openai.types.responses.response_reasoning_text_delta_event import (
    ResponseReasoningTextDeltaEvent,
)

from ..agent import rows as s
from ..agent.rows import RunRow
from ..entities import vocabulary as v
from ..errors import WakefulError
from . import _durable as d
from ._durable import DurableResult

if TYPE_CHECKING:
    from ..entities.context import Context

__all__ = ["WakefulRunner"]

TContext = TypeVar("TContext")

_OUTPUT = TypeAdapter[list[TResponseOutputItem]](list[TResponseOutputItem])


class WakefulRunner(d.Wrapper[Agent[TContext]], Generic[TContext]):
    """Runs an ``agents.Agent`` durably in a handler (the SDK's ``Runner.run``, wrapped)."""

    def __init__(
        self,
        agent: Agent[TContext],
        *,
        run_config: RunConfig | None = None,
        max_turns: int = DEFAULT_MAX_TURNS,
        delta_interval: float = 0.05,
    ) -> None:
        super().__init__(agent, delta_interval=delta_interval)
        #: The SDK's run configuration, as ``Runner.run`` takes it (model provider, tracing,
        #: guardrails, ...); a ``model`` set on it serves every agent, as in the SDK.
        self.run_config = run_config or RunConfig()
        self.max_turns = max_turns

    async def run(
        self,
        ctx: Context,
        prompt: str | None = None,
        *,
        context: TContext | None = None,
        force: bool = False,
    ) -> DurableResult[Any]:
        """Continue the entity's active run, or start one for its new messages (or for
        ``prompt``); ``force`` starts one without a new message. Returns at once with status
        ``idle`` when there is nothing to do. ``context`` is the SDK's run context (what
        tools get as ``ctx.context``).

        A pass that is tried again (its handler raised, or its worker died) continues the run
        its first try started, or gets its result if it ended: never a second run."""
        begun = d.begin(
            ctx,
            prompt,
            model=_model_name(self.run_config.model or self.agent.model),
            force=force,
            delta_interval=self.delta_interval,
        )
        if begun is None:
            return DurableResult(None, "idle")
        if isinstance(begun, RunRow):
            kind = self.agent.output_type  # an output schema of the SDK's: kept as recorded
            return d.served(begun, kind if isinstance(kind, type) else None)
        return await self._go(begun, context)

    async def _go(self, state: d.RunState, context: TContext | None) -> DurableResult[Any]:
        history = d.history(state, recorded=_items, prompt=_user_item)
        prompt = state.prompts()
        given = history + _user_item(prompt) if prompt is not None else history
        graph = _Graph(state, self.run_config)
        try:
            result = await d.interruptible(
                state.ctx,
                Runner.run(
                    graph.agent(self.agent),
                    given,
                    context=context,
                    max_turns=self.max_turns,
                    # The copies carry their wrapped models, which a model set here would
                    # override (the SDK prefers it to an agent's own).
                    run_config=dataclasses.replace(self.run_config, model=None),
                ),
            )
        except d.Interrupted:
            return state.finish(s.ABORTED, finish_reason="interrupted")
        except MaxTurnsExceeded as exc:
            return state.finish(s.ABORTED, finish_reason="max_turns", error=str(exc))
        except Exception as exc:
            if _pass_failed(exc):
                raise  # the pass itself failed (fenced, say): its runtime retries or closes it
            return state.finish(s.FAILED, finish_reason="error", error=f"{exc}")
        if result.interruptions:
            names = ", ".join(sorted({item.name or "?" for item in result.interruptions}))
            error = f"tools that need approval are not run durably ({names})"
            return state.finish(s.FAILED, finish_reason="error", error=error)
        new = d.jsonable(result.to_input_list()[len(history) :])
        return state.finish(
            s.COMPLETED, output=result.final_output, messages=new, agent=result.last_agent.name
        )


def _model_name(model: str | Model | None) -> str | None:
    if isinstance(model, Model):
        return str(getattr(model, "model", type(model).__name__))
    return model


def _items(recorded: Any) -> list[TResponseInputItem]:
    return list(recorded)


def _user_item(text: str) -> list[TResponseInputItem]:
    return [{"role": "user", "content": text}]


def _pass_failed(exc: BaseException) -> bool:
    """Whether a Wakeful error (the pass fenced, say) is the cause: the SDK may wrap what a
    tool raised."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, WakefulError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


# --- the agents, copied with their model, tools and handoffs wrapped ------------------------


class _Graph:
    """The copies of the run's agents: the starting one and every one a handoff reaches
    (each copied once, so handoffs that go back and forth end at the same copies)."""

    def __init__(self, state: d.RunState, run_config: RunConfig) -> None:
        self.state = state
        self.run_config = run_config
        self.copies: dict[int, Agent[Any]] = {}
        #: Handoff calls of the latest response by tool name, for the handoff that runs.
        self.handoffs: dict[str, list[str]] = {}

    def agent(self, agent: Agent[Any]) -> Agent[Any]:
        found = self.copies.get(id(agent))
        if found is not None:
            return found
        durable = agent.clone()
        self.copies[id(agent)] = durable  # before its handoffs: they may lead back to it
        durable.model = _DurableModel(self._model_of(agent), self, agent.name)
        durable.tools = [
            _durable_tool(tool, self.state) if isinstance(tool, FunctionTool) else tool
            for tool in agent.tools
        ]
        durable.handoffs = [self._handoff(item) for item in agent.handoffs]
        return durable

    def _model_of(self, agent: Agent[Any]) -> Model:
        """The model the SDK would use for ``agent`` (the run's, or the agent's own)."""
        chosen = self.run_config.model or agent.model
        if isinstance(chosen, Model):
            return chosen
        return self.run_config.model_provider.get_model(chosen)

    def _handoff(self, item: Agent[Any] | Handoff[Any, Any]) -> Handoff[Any, Any]:
        if isinstance(item, Agent):
            return self._durable_handoff(handoff(self.agent(item)), target=item)
        reference = item._agent_ref() if item._agent_ref is not None else None
        return self._durable_handoff(item, target=reference)

    def _durable_handoff(self, item: Handoff[Any, Any], target: Any) -> Handoff[Any, Any]:
        invoke = item.on_invoke_handoff
        state = self.state

        async def on_invoke_handoff(run: RunContextWrapper[Any], args: str) -> Agent[Any]:
            queue = self.handoffs.get(item.tool_name) or []
            call = state.rows.call(queue.pop(0)) if queue else None
            if call is not None and call.status == s.COMPLETED and isinstance(target, Agent):
                return self.agent(target)  # handed over before: on_handoff ran then
            to = self.agent(await invoke(run, args))
            if call is not None:
                d.call_done(state, call, s.COMPLETED, result={"agent": to.name})
            return to

        return dataclasses.replace(item, on_invoke_handoff=on_invoke_handoff)


def _durable_tool(tool: FunctionTool, state: d.RunState) -> FunctionTool:
    invoke = tool.on_invoke_tool

    async def on_invoke_tool(context: ToolContext[Any], args: str) -> Any:
        call = d.call_row(state, d.NewCall(context.tool_call_id, tool.name, _args(args)))
        return await d.run_call(state, call, lambda: invoke(context, args))

    durable = copy.copy(tool)
    durable.on_invoke_tool = on_invoke_tool
    return durable


def _args(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_raw": raw}


# --- the model ------------------------------------------------------------------------------


class _DurableModel(Model):
    """The k-th request of the run: the k-th completed step's response if there is one, or
    a streamed call of the model, its text deltas on the stream, recorded as that step."""

    def __init__(self, wrapped: Model, graph: _Graph, agent: str) -> None:
        self.wrapped = wrapped
        self.graph = graph
        self.agent = agent
        self.model = getattr(wrapped, "model", None)

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: Any,
        tools: list[Any],
        output_schema: Any,
        handoffs: list[Handoff[Any, Any]],
        tracing: Any,
        **options: Any,
    ) -> ModelResponse:
        state = self.graph.state
        recorded = d.replayed(state)
        if recorded is not None:
            response = _load_response(recorded)
        else:
            stream = self.wrapped.stream_response(
                system_instructions,
                input,
                model_settings,
                tools,
                output_schema,
                handoffs,
                tracing,
                **options,
            )

            def record(response: ModelResponse) -> tuple[ModelResponse, d.StepRecord]:
                response = _own_call_ids(state, response)
                return response, _step_record(response, tools, handoffs)

            response = await d.request(
                state,
                _model_name(self.wrapped),
                lambda deltas: _collect(stream, deltas),
                record,
                agent=self.agent,
            )
        names = {item.tool_name for item in handoffs}
        self.graph.handoffs = {}
        for item in _calls(response):
            if item.name in names:
                self.graph.handoffs.setdefault(item.name, []).append(item.call_id)
        return response

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError(
            "a WakefulRunner runs the agent with Runner.run; its text streams to the entity's"
            " stream as text_delta rows"
        )


async def _collect(stream: AsyncIterator[Any], deltas: d.Deltas) -> ModelResponse:
    """The model's stream, its text into deltas, as the response its completion carries."""
    done: Response | None = None
    async for event in stream:
        if isinstance(event, ResponseTextDeltaEvent):
            deltas.add(v.TEXT_DELTA, event.delta)
        elif isinstance(
            event, ResponseReasoningSummaryTextDeltaEvent | ResponseReasoningTextDeltaEvent
        ):
            deltas.add(v.REASONING_DELTA, event.delta)
        elif isinstance(event, ResponseCompletedEvent):
            done = event.response
        await deltas.maybe_flush()
    if done is None:
        raise RuntimeError("the model's stream ended without a response.completed event")
    usage = _response_usage_to_usage(done.usage) if done.usage else Usage(requests=1)
    return ModelResponse(output=list(done.output), usage=usage, response_id=done.id)


def _calls(response: ModelResponse) -> list[ResponseFunctionToolCall]:
    return [item for item in response.output if isinstance(item, ResponseFunctionToolCall)]


def _own_call_ids(state: d.RunState, response: ModelResponse) -> ModelResponse:
    ids = d.CallIds(state)
    output = [
        item.model_copy(update={"call_id": ids.own(item.call_id)})
        if isinstance(item, ResponseFunctionToolCall)
        else item
        for item in response.output
    ]
    return dataclasses.replace(response, output=output)


def _step_record(
    response: ModelResponse, tools: list[Any], handoffs: list[Handoff[Any, Any]]
) -> d.StepRecord:
    functions = {tool.name for tool in tools if isinstance(tool, FunctionTool)}
    handoff_names = {item.tool_name for item in handoffs}
    calls = [
        d.NewCall(item.call_id, item.name, _args(item.arguments))
        if item.name in functions
        else d.NewCall(item.call_id, item.name, _args(item.arguments), extra={"handoff": True})
        for item in _calls(response)
        if item.name in functions or item.name in handoff_names
    ]
    text = "".join(
        part.text
        for item in response.output
        if isinstance(item, ResponseOutputMessage)
        for part in item.content
        if isinstance(part, ResponseOutputText)
    )
    reasoning = "".join(
        part.text
        for item in response.output
        if isinstance(item, ResponseReasoningItem)
        for part in (*item.summary, *(item.content or ()))
    )
    usage = response.usage
    return d.StepRecord(
        text=text,
        reasoning=reasoning,
        calls=calls,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        finish_reason="tool_calls" if _calls(response) else "stop",
        response=_dump_response(response),
    )


def _dump_response(response: ModelResponse) -> dict[str, Any]:
    """A response as the stream keeps it: its output items (unset fields left out) and the
    usage counts; read back by :func:`_load_response`."""
    usage = response.usage
    return {
        "output": [item.model_dump(mode="json", exclude_none=True) for item in response.output],
        "usage": {
            "requests": usage.requests,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        },
        "response_id": response.response_id,
    }


def _load_response(recorded: dict[str, Any]) -> ModelResponse:
    return ModelResponse(
        output=_OUTPUT.validate_python(recorded["output"]),
        usage=Usage(**recorded["usage"]),
        response_id=recorded.get("response_id"),
    )
