"""pydantic-ai agents run durably: rows in the loop's vocabulary, structured output on
the run, history from the stream, usage limits, and approvals answered over the API."""

from __future__ import annotations

import asyncio
import importlib
import sys
from typing import Any

import pytest
from agent.support import AgentApp
from pydantic import BaseModel
from pydantic_ai import Agent, RunContext
from pydantic_ai.messages import ModelMessage, ModelResponse, TextPart, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel
from pydantic_ai.models.test import TestModel
from pydantic_ai.tools import ToolDefinition
from pydantic_ai.toolsets import ExternalToolset
from pydantic_ai.usage import UsageLimits
from support.waiting import of_type

from wakeful import MissingExtra, ThreadConfig, define_thread
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.integrations.pydantic_ai import WakefulAgent, current_call

LEASE = 1.0


class Forecast(BaseModel):
    city: str
    degrees: int


def define(registry: Registry, name: str, durable: WakefulAgent[Any, Any], **run: Any) -> list[Any]:
    results: list[Any] = []

    async def handler(ctx: Context, wake: Wake) -> None:
        results.append(await durable.run(ctx, **run))

    registry.define(name, handler, lease_seconds=LEASE)
    return results


async def test_a_run_with_tools_is_recorded_as_native_rows(agent_app: Any) -> None:
    keys: list[str] = []
    agent = Agent(TestModel(), output_type=Forecast, deps_type=str)

    @agent.tool
    def temperature(ctx: RunContext[str], city: str) -> int:
        keys.append(current_call().idempotency_key)
        return 21 if ctx.deps == "metric" else 70

    registry = Registry()
    results = define(registry, "weather", WakefulAgent(agent), deps="metric")
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("weather", "w1", message="Weather in Paris?")
    run = await app.wait_run(url)
    assert run["status"] == "completed", run["error"]
    assert run["output"] == {"city": "a", "degrees": 0}  # TestModel's own arguments
    assert results[-1].output == Forecast(city="a", degrees=0)
    rows = await app.rows(url)
    steps = rows.steps(run["id"])
    assert [step.status for step in steps] == ["completed", "completed"]
    assert run["steps"] == 2 and run["input_tokens"] > 0 and run["output_tokens"] > 0
    (call,) = rows.calls(steps[0].id)
    assert (call.name, call.status, call.result, call.attempts) == (
        "temperature",
        "completed",
        21,
        1,
    )
    assert call.idempotency_key == f"{url}:{run['id']}:{call.id}"
    assert keys == [call.idempotency_key]


async def test_text_streams_as_deltas_and_history_comes_from_the_stream(agent_app: Any) -> None:
    seen: list[list[ModelMessage]] = []

    async def stream(messages: list[ModelMessage], info: AgentInfo) -> Any:
        seen.append(messages)
        for word in ("Hello ", "there, ", f"message {len(seen)}."):
            yield word

    agent = Agent(FunctionModel(stream_function=stream))
    registry = Registry()
    define(registry, "chat", WakefulAgent(agent, delta_interval=0.0))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("chat", "c1", message="Hi!")
    first = await app.wait_run(url)
    assert first["text"] == "Hello there, message 1."
    await app.send(url, "Again?")
    second = await app.wait_run(url, count=2)
    assert second["status"] == "completed" and second["text"] == "Hello there, message 2."
    events = await app.events(url)
    deltas = [e["value"]["delta"] for e in of_type(events, "text_delta")]
    assert "".join(deltas) == "Hello there, message 1.Hello there, message 2."
    assert len(deltas) > 2
    # The second run saw the first run's prompt and answer, then its own prompt.
    prompts = [part.content for m in seen[1] for part in m.parts if part.part_kind == "user-prompt"]
    answers = [part.content for m in seen[1] if isinstance(m, ModelResponse) for part in m.parts]
    assert prompts == ["Hi!", "Again?"]
    assert answers == ["Hello there, message 1."]


async def test_usage_limits_abort_the_run(agent_app: Any) -> None:
    def loop(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        return ModelResponse(parts=[ToolCallPart("again", {})])

    agent = Agent(FunctionModel(loop))

    @agent.tool_plain
    def again() -> str:
        return "more"

    registry = Registry()
    define(registry, "looper", WakefulAgent(agent), usage_limits=UsageLimits(request_limit=3))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("looper", "l1", message="Go.")
    run = await app.wait_run(url)
    assert (run["status"], run["finish_reason"]) == ("aborted", "usage_limit"), run["error"]
    assert run["steps"] == 3


def admin(model: FunctionModel, ran: list[str]) -> Registry:
    """The type ``admin``: an agent whose ``delete`` tool needs approval (runs go to ``ran``)."""
    agent = Agent(model)

    @agent.tool_plain(requires_approval=True)
    def delete(path: str) -> str:
        ran.append(path)
        return f"deleted {path}"

    registry = Registry()
    define(registry, "admin", WakefulAgent(agent))
    return registry


async def test_an_approval_tool_waits_for_the_api(agent_app: Any) -> None:
    ran: list[str] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("delete", {"path": "/tmp/x"}, "c1")])
        return ModelResponse(parts=[TextPart("Done.")])

    app: AgentApp = await agent_app(admin(FunctionModel(model), ran))
    url = await app.spawn("admin", "a1", message="Delete it.")
    run = await app.wait_run(url, {"awaiting_tool_results"})
    call = await app.wait_call(url, "awaiting_approval")
    assert (call["id"], call["kind"], ran) == ("c1", "approval", [])
    response = await app.answer(url, "c1", "approve", {})
    assert response.status_code == 202, response.text
    run = await app.wait_run(url)
    assert (run["status"], run["text"]) == ("completed", "Done.")
    assert ran == ["/tmp/x"]
    rows = await app.rows(url)
    assert rows.call("c1") is not None and rows.call("c1").result == "deleted /tmp/x"


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pydantic_ai", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "wakeful.integrations.pydantic_ai")
    with pytest.raises(MissingExtra) as raised:
        importlib.import_module("wakeful.integrations.pydantic_ai")
    assert "pip install 'wakeful[pydantic-ai]'" in str(raised.value)


def scripted(*responses: ModelResponse) -> FunctionModel:
    """Answers with ``responses`` in turn, one per model request of the run."""

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        done = sum(isinstance(message, ModelResponse) for message in messages)
        return responses[done]

    return FunctionModel(answer)


async def test_an_approval_survives_a_restart_and_a_denial_is_told(agent_app: Any) -> None:
    ran: list[str] = []
    model = scripted(
        ModelResponse(
            parts=[
                ToolCallPart("delete", {"path": "/a"}, "d1"),
                ToolCallPart("delete", {"path": "/b"}, "d2"),
            ]
        ),
        ModelResponse(parts=[TextPart("Deleted one.")]),
    )
    registry = admin(model, ran)
    first: AgentApp = await agent_app(registry)
    url = await first.spawn("admin", "a1", message="Delete both.")
    await first.wait_run(url, {"awaiting_tool_results"})
    await first.stop()

    second: AgentApp = await agent_app(registry, database=first.database)
    assert (await second.answer(url, "d1", "approve", {})).status_code == 202
    assert (await second.answer(url, "d2", "deny", {"reason": "keep it"})).status_code == 202
    run = await second.wait_run(url)
    assert (run["status"], run["text"]) == ("completed", "Deleted one."), run["error"]
    assert ran == ["/a"]
    rows = await second.rows(url)
    assert [(c.status, c.result) for c in (rows.call("d1"), rows.call("d2")) if c] == [
        ("completed", "deleted /a"),
        ("denied", None),
    ]
    assert run["steps"] == 2  # the first step was not asked again after the restart


async def test_an_external_tool_takes_its_result_from_the_api(agent_app: Any) -> None:
    seen: list[str] = []

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("ask_human", {"question": "Color?"}, "h1")])
        returns = [p for p in messages[-1].parts if p.part_kind == "tool-return"]
        seen.extend(str(part.content) for part in returns)
        return ModelResponse(parts=[TextPart("Blue it is.")])

    human = ExternalToolset(
        [ToolDefinition(name="ask_human", parameters_json_schema={"type": "object"})]
    )
    registry = Registry()
    define(registry, "asker", WakefulAgent(Agent(FunctionModel(model), toolsets=[human])))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("asker", "q1", message="Ask them.")
    call = await app.wait_call(url, "awaiting_result")
    assert (call["id"], call["kind"]) == ("h1", "async")
    assert (await app.answer(url, "h1", "result", {"result": "blue"})).status_code == 202
    run = await app.wait_run(url)
    assert (run["status"], run["text"]) == ("completed", "Blue it is."), run["error"]
    assert seen == ["blue"]


class Item(BaseModel):
    id: str


async def test_a_retried_pass_continues_its_run_and_tool_writes_land_with_results(
    agent_app: Any,
) -> None:
    executions: list[str] = []
    requests: list[int] = []
    results: list[Any] = []
    failures = [2]

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        requests.append(len(messages))
        if len(messages) == 1:
            return ModelResponse(parts=[ToolCallPart("count", {}, "c1")])
        return ModelResponse(parts=[TextPart("Counted.")])

    agent = Agent(FunctionModel(model))

    @agent.tool_plain
    def count() -> str:
        call = current_call()
        executions.append(call.idempotency_key)
        call.ctx.state.items.insert(Item(id=f"tool:{call.call_id}"))
        return "counted"

    durable = WakefulAgent(agent)
    registry = Registry()

    @registry.entity("counter", state={"items": Item}, max_attempts=3, lease_seconds=LEASE)
    async def counter(ctx: Context, wake: Wake) -> None:
        if not wake.messages:
            return
        results.append(await durable.run(ctx))
        ctx.state.items.insert(Item(id="after"))
        if failures[0] > 0:
            failures[0] -= 1
            raise RuntimeError("the handler fails after its run")

    registry.get("counter").retry_seconds = 0.01
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("counter", "c", message="Count once.")
    await app.wait_events(url, lambda found: bool(of_type(found, "wake")), what="a pass")
    events = await app.events(url)
    (run,) = (await app.rows(url)).runs()
    assert (run.status, run.text, len(run.wakes)) == ("completed", "Counted.", 1)
    # Three tries, one run: the retries got its result; each step was asked for once.
    assert [(result.run_id, result.output) for result in results] == [(run.id, "Counted.")] * 3
    assert requests == [1, 3]
    assert executions == [f"{url}:{run.id}:c1"]
    # The tool's write landed once, before its result; the handler's once, at the end.
    written = [e["key"] for e in of_type(events, "state:items")]
    assert written == ["tool:c1", "after"]
    position = {id(e): i for i, e in enumerate(events)}
    done = [e for e in of_type(events, "tool_call") if e["value"]["status"] == "completed"]
    assert position[id(of_type(events, "state:items")[0])] < position[id(done[0])]


async def test_a_thread_runs_a_pydantic_ai_agent(agent_app: Any) -> None:
    agent = Agent(
        scripted(
            ModelResponse(parts=[ToolCallPart("lookup", {"topic": "tides"}, "l1")]),
            ModelResponse(parts=[TextPart("High tide at noon.")]),
        )
    )

    @agent.tool_plain
    def lookup(topic: str) -> str:
        return f"{topic}: high at noon"

    registry = Registry()
    define_thread(registry, agent=agent)
    app: AgentApp = await agent_app(registry)
    messages = await app.ask_thread("When is high tide?")
    # One assistant message per step, as for a native run.
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    (call,) = messages[1]["tool_calls"]
    assert (call["name"], call["status"], call["result"]) == (
        "lookup",
        "completed",
        "tides: high at noon",
    )
    assert messages[2]["content"] == "High tide at noon."


def test_a_thread_takes_a_config_or_an_agent() -> None:
    with pytest.raises(ValueError, match="not both"):
        define_thread(Registry(), config=ThreadConfig(), agent=Agent(TestModel()))
    with pytest.raises(TypeError, match="not an agent"):
        define_thread(Registry(), agent=object())


async def test_an_interrupt_ends_the_run_and_the_next_message_starts_another(
    agent_app: Any,
) -> None:
    started, release = asyncio.Event(), asyncio.Event()

    def model(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        last = messages[-1].parts[-1]
        if last.part_kind == "user-prompt" and last.content == "Wait.":
            return ModelResponse(parts=[ToolCallPart("wait", {}, f"w{len(messages)}")])
        prompts = [p.content for m in messages for p in m.parts if p.part_kind == "user-prompt"]
        return ModelResponse(parts=[TextPart(f"Done: {' '.join(map(str, prompts))}")])

    agent = Agent(FunctionModel(model))

    @agent.tool_plain
    async def wait() -> str:
        started.set()
        await release.wait()
        return "waited"

    registry = Registry()
    define(registry, "waiter", WakefulAgent(agent))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("waiter", "w1", message="Wait.")
    await asyncio.wait_for(started.wait(), 10)
    await app.signal(url, "interrupt")
    run = await app.wait_run(url)
    assert (run["status"], run["finish_reason"]) == ("aborted", "interrupted")
    rows = await app.rows(url)
    (call,) = [c for step in rows.steps(run["id"]) for c in rows.calls(step.id)]
    assert (call.status, call.error) == ("failed", "the run ended (aborted)")
    release.set()
    await app.send(url, "Go on.")
    second = await app.wait_run(url, count=2)
    assert second["status"] == "completed", second.get("error")
    # The interrupted run's prompt is still in the conversation the next run sees.
    assert second["text"] == "Done: Wait. Go on."


async def test_an_interrupt_ends_a_run_waiting_for_approval(agent_app: Any) -> None:
    ran: list[str] = []
    model = scripted(ModelResponse(parts=[ToolCallPart("delete", {"path": "/a"}, "d1")]))
    app: AgentApp = await agent_app(admin(model, ran))
    url = await app.spawn("admin", "a1", message="Delete it.")
    await app.wait_call(url, "awaiting_approval")
    await app.signal(url, "interrupt")
    run = await app.wait_run(url)
    assert (run["status"], run["finish_reason"]) == ("aborted", "interrupted")
    call = (await app.rows(url)).call("d1")
    assert call is not None and (call.status, ran) == ("failed", [])
    assert (await app.answer(url, "d1", "approve", {})).status_code == 409
