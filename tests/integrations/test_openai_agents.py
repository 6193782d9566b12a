"""OpenAI Agents SDK agents run durably: rows in the loop's vocabulary, text deltas, handoffs,
history from the stream, a retried pass served its run, the SDK's session kept in the
entity's stream, and a thread; the SDK speaks to the fake OpenAI server over real HTTP."""

from __future__ import annotations

import importlib
import sys
from typing import Any

import pytest
from agent.support import AgentApp
from agents import Agent, RunContextWrapper, Runner, function_tool, handoff
from support.fakes import FakeOpenAI, FakeToolCall, Reply
from support.waiting import of_type

from wakeful import MissingExtra, current_call, define_thread
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.integrations.openai_agents import WakefulRunner
from wakeful.integrations.openai_agents_session import WakefulSession

from .openai_agents_support import chat_model

LEASE = 1.0
SESSION = "state:openai_agents_session"


@pytest.fixture
def fake() -> FakeOpenAI:
    return FakeOpenAI.shared()


def define(registry: Registry, name: str, runner: WakefulRunner[Any]) -> list[Any]:
    results: list[Any] = []

    async def handler(ctx: Context, wake: Wake) -> None:
        results.append(await runner.run(ctx))

    registry.define(name, handler, lease_seconds=LEASE)
    return results


def assistant_texts(body: Any) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "assistant" and m["content"]]


async def test_a_run_with_tools_and_a_handoff_is_recorded_as_native_rows(
    agent_app: Any, fake: FakeOpenAI
) -> None:
    keys: list[str] = []
    handed: list[str] = []

    @function_tool
    def temperature(city: str) -> str:
        """The temperature in a city."""
        keys.append(current_call().idempotency_key)
        return f"21 degrees in {city}"

    model = chat_model(fake.base_url)
    forecaster = Agent(name="forecaster", instructions="Forecast.", model=model)

    def on_handoff(ctx: RunContextWrapper[Any]) -> None:
        handed.append("forecaster")

    triage = Agent(
        name="triage",
        instructions="Route.",
        model=model,
        tools=[temperature],
        handoffs=[handoff(forecaster, on_handoff=on_handoff)],
    )
    fake.script(
        Reply(text="Checking.", tool_calls=[FakeToolCall("temperature", {"city": "Paris"})]),
        Reply(tool_calls=[FakeToolCall("transfer_to_forecaster", {}, id="h1")]),
        Reply(text="Sunny and 21 degrees.", chunk_delay=0.01),
    )
    registry = Registry()
    results = define(registry, "weather", WakefulRunner(triage, delta_interval=0.0))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("weather", "w1", message="Weather in Paris?")
    run = await app.wait_run(url)
    assert run["status"] == "completed", run["error"]
    assert (run["text"], run["agent"], run["steps"]) == ("Sunny and 21 degrees.", "forecaster", 3)
    assert results[-1].output == "Sunny and 21 degrees."
    rows = await app.rows(url)
    steps = rows.steps(run["id"])
    assert [step.status for step in steps] == ["completed"] * 3
    assert [(step.model_extra or {})["agent"] for step in steps] == [
        "triage",
        "triage",
        "forecaster",
    ]
    (call,) = rows.calls(steps[0].id)
    assert (call.name, call.status, call.result, call.attempts) == (
        "temperature",
        "completed",
        "21 degrees in Paris",
        1,
    )
    assert call.idempotency_key == f"{url}:{run['id']}:{call.id}" and keys == [call.idempotency_key]
    (moved,) = rows.calls(steps[1].id)
    assert (moved.id, (moved.model_extra or {}).get("handoff"), moved.status, moved.result) == (
        "h1",
        True,
        "completed",
        {"agent": "forecaster"},
    )
    assert handed == ["forecaster"]
    events = await app.events(url)
    deltas = [e["value"]["delta"] for e in of_type(events, "text_delta")]
    assert "".join(deltas) == "Checking.Sunny and 21 degrees." and len(deltas) > 2
    # The forecaster's request carried the triage's tool result, as the SDK sends it.
    last = fake.requests[-1].body
    assert last["messages"][0] == {"role": "system", "content": "Forecast."}
    assert any(m.get("content") == "21 degrees in Paris" for m in last["messages"])


async def test_history_comes_from_the_stream(agent_app: Any, fake: FakeOpenAI) -> None:
    agent = Agent(name="chat", instructions="Chat.", model=chat_model(fake.base_url))
    fake.script(Reply(text="Hello, one."), Reply(text="Hello, two."))
    registry = Registry()
    define(registry, "chat", WakefulRunner(agent))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("chat", "c1", message="Hi!")
    await app.wait_run(url)
    await app.send(url, "Again?")
    second = await app.wait_run(url, count=2)
    assert second["text"] == "Hello, two."
    users = [m["content"] for m in fake.requests[-1].body["messages"] if m["role"] == "user"]
    assert users == ["Hi!", "Again?"]
    assert assistant_texts(fake.requests[-1].body) == ["Hello, one."]


async def test_a_retried_pass_is_served_its_run_and_no_tool_runs_twice(
    agent_app: Any, fake: FakeOpenAI
) -> None:
    ran: list[int] = []
    tries: list[str] = []

    @function_tool
    def charge(cents: int) -> str:
        """Charge the card."""
        ran.append(cents)
        return "charged"

    agent = Agent(name="shop", model=chat_model(fake.base_url), tools=[charge])
    fake.script(
        Reply(tool_calls=[FakeToolCall("charge", {"cents": 500})]),
        Reply(text="Charged you 5."),
    )
    runner = WakefulRunner(agent)

    async def handler(ctx: Context, wake: Wake) -> None:
        result = await runner.run(ctx)
        tries.append(result.status)
        if len(tries) == 1:
            raise RuntimeError("the handler fails after its run")

    registry = Registry()
    registry.define("shop", handler, lease_seconds=LEASE)
    app: AgentApp = await agent_app(registry)
    requests = len(fake.requests)
    url = await app.spawn("shop", "s1", message="Buy it.")
    run = await app.wait_run(url)
    await app.wait_events(url, lambda events: len(tries) >= 2 or None)
    assert tries == ["completed", "completed"]
    assert (run["status"], run["text"], ran) == ("completed", "Charged you 5.", [500])
    assert len(fake.requests) - requests == 2  # the second try asked the model nothing
    rows = await app.rows(url)
    assert len(rows.runs()) == 1


async def test_the_sdk_runner_keeps_its_session_in_the_stream(
    agent_app: Any, fake: FakeOpenAI
) -> None:
    agent = Agent(name="plain", instructions="Chat.", model=chat_model(fake.base_url))
    fake.script(Reply(text="First answer."), Reply(text="Second answer."))
    seen: list[int] = []

    async def handler(ctx: Context, wake: Wake) -> None:
        session = WakefulSession(ctx, "talk")
        for message in wake.messages:
            # Streamed: the fake server streams, as OpenAI does when asked to.
            streamed = Runner.run_streamed(agent, str(message.payload), session=session)
            async for _ in streamed.stream_events():
                pass
        seen.append(len(await session.get_items()))

    registry = Registry()
    registry.define("plain", handler, lease_seconds=LEASE)
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("plain", "p1", message="One?")
    await app.wait_events(url, lambda events: seen or None)
    await app.send(url, "Two?")
    # The handler's writes land with its pass's commit, after it returns: wait for them.
    await app.wait_events(url, lambda events: len(of_type(events, SESSION)) >= 4 or None)
    # The second run's request held the first exchange, read back from the stream.
    messages = fake.requests[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("system", "Chat."),
        ("user", "One?"),
        ("assistant", "First answer."),
        ("user", "Two?"),
    ]
    store = await app.store(url)
    items = store.collection(SESSION)
    assert [row["item"].get("role") for _, row in items.items()] == ["user", "assistant"] * 2
    assert seen == [2, 4]


async def test_a_session_pops_and_clears(agent_app: Any) -> None:
    done: list[Any] = []

    async def handler(ctx: Context, wake: Wake) -> None:
        session = WakefulSession(ctx)
        other = WakefulSession(ctx, "other")
        await session.add_items([{"role": "user", "content": c} for c in ("a", "b")])
        await other.add_items([{"role": "user", "content": "x"}])
        popped = await session.pop_item()
        latest = await session.get_items(limit=1)
        await session.clear_session()
        done.append((popped, latest, await session.get_items(), await other.get_items()))

    registry = Registry()
    registry.define("sessions", handler, lease_seconds=LEASE)
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("sessions", "s1", message="go")
    await app.wait_events(url, lambda events: done or None)
    assert done == [
        (
            {"role": "user", "content": "b"},
            [{"role": "user", "content": "a"}],
            [],
            [{"role": "user", "content": "x"}],
        )
    ]


async def test_a_thread_runs_an_agents_sdk_agent(agent_app: Any, fake: FakeOpenAI) -> None:
    @function_tool
    def lookup(topic: str) -> str:
        """Look a topic up."""
        return f"{topic}: high at noon"

    agent = Agent(name="tides", model=chat_model(fake.base_url), tools=[lookup])
    fake.script(
        Reply(tool_calls=[FakeToolCall("lookup", {"topic": "tides"}, id="l1")]),
        Reply(text="High tide at noon."),
        Reply(text="Support here."),
    )
    registry = Registry()
    define_thread(registry, agent=agent)  # the threads API's type
    define_thread(registry, "support", agent=agent)
    app: AgentApp = await agent_app(registry)
    messages = await app.ask_thread("When is high tide?")
    # One assistant message per step, as for a native run.
    assert [m["role"] for m in messages] == ["user", "assistant", "assistant"]
    assert [(c["name"], c["result"]) for c in messages[1]["tool_calls"]] == [
        ("lookup", "tides: high at noon")
    ]
    assert messages[2]["content"] == "High tide at noon."
    support = await app.spawn("support", "s1", message="Hello?")
    assert (await app.wait_run(support))["text"] == "Support here."


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "agents", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "wakeful.integrations.openai_agents", raising=False)
    with pytest.raises(MissingExtra) as raised:
        importlib.import_module("wakeful.integrations.openai_agents")
    assert "pip install 'wakeful[openai-agents]'" in str(raised.value)
