"""Tools: calls and results, sync and async, in parallel, invalid arguments, timeouts,
retry policies, idempotency keys, and what a tool can reach through the context."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from pydantic import BaseModel
from support.fakes import FakeToolCall, Reply
from support.waiting import of_type

from wakeful.agent.tools import RetryPolicy, ToolContext, tool
from wakeful.entities.definition import Registry

from .support import Provider, agent_type


def calls_of(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The final row of each tool call, by id."""
    rows: dict[str, dict[str, Any]] = {}
    for event in of_type(events, "tool_call"):
        rows[event["key"]] = event["value"]
    return rows


async def test_a_tool_call_and_its_result_go_back_to_the_model(
    provider: Provider, agent_app
) -> None:
    seen: list[str] = []

    @tool
    def get_weather(city: str) -> dict[str, Any]:
        """The current weather in a city."""
        seen.append(city)
        return {"city": city, "sky": "sunny", "celsius": 21}

    provider.script(
        Reply(tool_calls=[FakeToolCall("get_weather", {"city": "Paris"}, id="call_w1")]),
        Reply(text="It is sunny in Paris."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[get_weather])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Weather in Paris?")

    run = await app.wait_run(url)
    assert run["status"] == "completed", run
    assert run["text"] == "It is sunny in Paris."
    assert run["steps"] == 2
    assert seen == ["Paris"]
    assert provider.tool_names(0) == ["get_weather"]
    assert provider.turns(1) == [
        ("user", "Weather in Paris?"),
        ("call", "call_w1", "get_weather", {"city": "Paris"}),
        ("result", "call_w1", '{"city":"Paris","sky":"sunny","celsius":21}', False),
    ]
    call = calls_of(await app.events(url))["call_w1"]
    assert call["status"] == "completed"
    assert call["result"] == {"city": "Paris", "sky": "sunny", "celsius": 21}


async def test_sync_tools_run_in_threads_and_async_tools_on_the_loop(
    provider: Provider, agent_app
) -> None:
    threads: dict[str, bool] = {}

    @tool
    def blocking(n: int) -> int:
        """A plain function: it may block, so it runs in a worker thread."""
        threads["blocking"] = threading.current_thread() is threading.main_thread()
        time.sleep(0.01)
        return n + 1

    @tool
    async def awaiting(n: int) -> int:
        """A coroutine function: it runs on the event loop."""
        threads["awaiting"] = threading.current_thread() is threading.main_thread()
        await asyncio.sleep(0.01)
        return n * 2

    provider.script(
        Reply(
            tool_calls=[
                FakeToolCall("blocking", {"n": 1}, id="c1"),
                FakeToolCall("awaiting", {"n": 5}, id="c2"),
            ]
        ),
        Reply(text="2 and 10"),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[blocking, awaiting])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Go.")

    assert (await app.wait_run(url))["status"] == "completed"
    assert threads == {"blocking": False, "awaiting": True}
    calls = calls_of(await app.events(url))
    assert (calls["c1"]["result"], calls["c2"]["result"]) == (2, 10)
    results = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert results == [("result", "c1", "2", False), ("result", "c2", "10", False)]


@pytest.mark.parametrize("kind", ["async", "sync"])
async def test_parallel_tool_calls_run_at_the_same_time(
    provider: Provider, agent_app, kind: str
) -> None:
    spans: dict[str, tuple[float, float]] = {}

    if kind == "async":

        @tool
        async def slow(name: str) -> str:
            """Takes a while."""
            started = time.monotonic()
            await asyncio.sleep(0.3)
            spans[name] = (started, time.monotonic())
            return name

    else:

        @tool
        def slow(name: str) -> str:
            """Takes a while."""
            started = time.monotonic()
            time.sleep(0.3)
            spans[name] = (started, time.monotonic())
            return name

    provider.script(
        Reply(
            tool_calls=[FakeToolCall("slow", {"name": f"n{i}"}, id=f"c{i}") for i in range(3)],
            interleave=provider.name == "openai",
        ),
        Reply(text="All done."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[slow])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Three at once.")

    assert (await app.wait_run(url))["status"] == "completed"
    assert sorted(spans) == ["n0", "n1", "n2"]
    latest_start = max(start for start, _ in spans.values())
    earliest_end = min(end for _, end in spans.values())
    assert latest_start < earliest_end, "the calls did not overlap"
    calls = calls_of(await app.events(url))
    assert {calls[f"c{i}"]["result"] for i in range(3)} == {"n0", "n1", "n2"}


async def test_invalid_arguments_go_back_to_the_model_as_tool_errors(
    provider: Provider, agent_app
) -> None:
    ran: list[Any] = []

    @tool
    def add(a: int, b: int) -> int:
        """Add two integers."""
        ran.append((a, b))
        return a + b

    provider.script(
        Reply(
            tool_calls=[
                FakeToolCall("add", {"a": "one", "b": 2}, id="c_type"),
                FakeToolCall("add", {"a": 1}, id="c_missing"),
                FakeToolCall("add", {"a": 1, "b": 2, "c": 3}, id="c_extra"),
                FakeToolCall("add", '{"a": 1, "b":', id="c_json"),
                FakeToolCall("subtract", {"a": 1, "b": 2}, id="c_unknown"),
                FakeToolCall("add", {"a": 1, "b": 2}, id="c_good"),
            ]
        ),
        Reply(text="Fixed it: 3."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[add])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Add.")

    run = await app.wait_run(url)
    assert run["status"] == "completed", run
    assert ran == [(1, 2)]
    calls = calls_of(await app.events(url))
    assert calls["c_good"]["status"] == "completed"
    errors = {key: row["error"] for key, row in calls.items() if row["status"] == "failed"}
    assert set(errors) == {"c_type", "c_missing", "c_extra", "c_json", "c_unknown"}
    assert "invalid arguments for add: a:" in errors["c_type"]
    assert "b: Field required" in errors["c_missing"]
    assert "c: Extra inputs are not permitted" in errors["c_extra"]
    assert errors["c_json"].startswith("arguments are not a JSON object")
    assert errors["c_unknown"] == "unknown tool 'subtract'"
    results = {turn[1]: turn for turn in provider.turns(1) if turn[0] == "result"}
    for key, error in errors.items():
        assert results[key][3] is True, results[key]
        assert error in results[key][2]
    assert results["c_good"] == ("result", "c_good", "3", False)


async def test_timeouts_retry_with_backoff_and_one_idempotency_key(
    provider: Provider, agent_app
) -> None:
    """Times out twice (0.1 s each), backing off 0.1 s then 0.2 s, then succeeds."""
    attempts: list[tuple[int, str, float]] = []

    @tool(timeout=0.1, retry=RetryPolicy(attempts=3, backoff_seconds=0.1))
    async def flaky(t: ToolContext) -> str:
        """Slow twice, then quick."""
        attempts.append((t.attempt, t.idempotency_key, time.monotonic()))
        if t.attempt < 3:
            await asyncio.sleep(5)
        return "finally"

    provider.script(
        Reply(tool_calls=[FakeToolCall("flaky", {}, id="c1")]), Reply(text="It worked.")
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[flaky])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Try.")

    run = await app.wait_run(url)
    assert run["status"] == "completed"
    assert [number for number, _, _ in attempts] == [1, 2, 3]
    call = calls_of(await app.events(url))["c1"]
    assert {key for _, key, _ in attempts} == {f"{url}:{run['id']}:c1"}
    assert call["idempotency_key"] == f"{url}:{run['id']}:c1"
    assert (call["status"], call["attempts"], call["result"]) == ("completed", 3, "finally")
    assert call["last_error"] == "timed out"
    first, second = (
        attempts[1][2] - attempts[0][2],
        attempts[2][2] - attempts[1][2],
    )
    assert 0.2 <= first < 0.2 + 0.15, first  # timeout 0.1 + backoff 0.1
    assert 0.3 <= second < 0.3 + 0.15, second  # timeout 0.1 + backoff 0.2
    updates = [e["value"] for e in of_type(await app.events(url), "tool_call")]
    assert [row["attempts"] for row in updates if row["status"] == "running"] == [1, 2, 3]


async def test_retry_policy_decides_which_errors_retry(provider: Provider, agent_app) -> None:
    tries: dict[str, int] = {"transient": 0, "permanent": 0, "exhausted": 0}

    policy = RetryPolicy(attempts=3, backoff_seconds=0.01, retry_on=(ConnectionError,))

    @tool(retry=policy)
    def transient() -> str:
        """Fails twice with a retryable error."""
        tries["transient"] += 1
        if tries["transient"] < 3:
            raise ConnectionError("connection reset")
        return "ok"

    @tool(retry=policy)
    def permanent() -> str:
        """Fails with an error the policy does not retry."""
        tries["permanent"] += 1
        raise KeyError("no such record")

    @tool(retry=policy)
    def exhausted() -> str:
        """Always fails with a retryable error."""
        tries["exhausted"] += 1
        raise ConnectionError(f"still down ({tries['exhausted']})")

    provider.script(
        Reply(
            tool_calls=[
                FakeToolCall("transient", {}, id="c1"),
                FakeToolCall("permanent", {}, id="c2"),
                FakeToolCall("exhausted", {}, id="c3"),
            ]
        ),
        Reply(text="Reported."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[transient, permanent, exhausted])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Go.")

    assert (await app.wait_run(url))["status"] == "completed"
    assert tries == {"transient": 3, "permanent": 1, "exhausted": 3}
    calls = calls_of(await app.events(url))
    assert (calls["c1"]["status"], calls["c1"]["attempts"]) == ("completed", 3)
    assert (calls["c2"]["status"], calls["c2"]["attempts"]) == ("failed", 1)
    assert calls["c2"]["error"] == "KeyError: 'no such record'"
    assert (calls["c3"]["status"], calls["c3"]["attempts"]) == ("failed", 3)
    assert calls["c3"]["error"] == "ConnectionError: still down (3)"
    results = {turn[1]: turn for turn in provider.turns(1) if turn[0] == "result"}
    assert results["c2"][3] is True and "no such record" in results["c2"][2]


class Note(BaseModel):
    id: str
    text: str


async def test_tools_reach_the_context_state_spawn_and_send(provider: Provider, agent_app) -> None:
    @tool
    def remember(text: str, t: ToolContext) -> str:
        """Keep a note in the entity's state."""
        t.ctx.state.notes.insert(Note(id=t.call_id, text=text))
        return "noted"

    @tool
    def delegate(task: str, t: ToolContext) -> str:
        """Hand a task to a helper entity."""
        return t.ctx.spawn("helper", "h1", message={"task": task}, wake_on_finish=False)

    @tool
    def notify(text: str, t: ToolContext) -> str:
        """Send a message to the log entity."""
        return t.ctx.send("/log/main", {"text": text, "from": t.ctx.url})

    received: list[Any] = []
    registry = Registry()

    @registry.entity("helper")
    async def helper(ctx: Any, wake: Any) -> None:
        received.extend(("helper", message.payload) for message in wake.messages)

    @registry.entity("log")
    async def log(ctx: Any, wake: Any) -> None:
        received.extend(("log", message.payload) for message in wake.messages)

    provider.script(
        Reply(
            tool_calls=[
                FakeToolCall("remember", {"text": "buy milk"}, id="c1"),
                FakeToolCall("delegate", {"task": "compare prices"}, id="c2"),
                FakeToolCall("notify", {"text": "started"}, id="c3"),
            ]
        ),
        Reply(text="On it."),
    )
    agent_type(
        registry, "bot", provider.model(), tools=[remember, delegate, notify], state={"notes": Note}
    )
    app = await agent_app(registry)
    await app.spawn("log", "main")
    url = await app.spawn("bot", "b1", message="Plan my shopping.")

    assert (await app.wait_run(url))["status"] == "completed"
    store = await app.store(url)
    assert store.collection("state:notes").get("c1") == {"id": "c1", "text": "buy milk"}
    calls = calls_of(await app.events(url))
    assert calls["c2"]["result"] == "/helper/h1"
    await app.wait_events("/helper/h1", lambda events: bool(of_type(events, "wake")))
    await app.wait_events("/log/main", lambda events: bool(of_type(events, "wake")))
    assert sorted(received, key=str) == [
        ("helper", {"task": "compare prices"}),
        ("log", {"text": "started", "from": url}),
    ]
