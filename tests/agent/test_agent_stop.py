"""Stopping a run: interrupt and stop signals cancel the model request or the running
tools within a second; budgets of steps and tokens end a run that goes on too long."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from support.fakes import FakeToolCall, Reply
from support.waiting import eventually, of_type

from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

from .support import Provider, agent_type, wait_flag


@tool
def lookup(query: str) -> str:
    """Look something up."""
    return f"nothing on {query}"


def streamed(events: list[dict[str, Any]]) -> str:
    return "".join(event["value"]["delta"] for event in of_type(events, "text_delta"))


def endless_tool_calls(steps: int) -> list[Reply]:
    return [
        Reply(tool_calls=[FakeToolCall("lookup", {"query": f"q{n}"}, id=f"call_{n}")])
        for n in range(steps)
    ]


async def test_interrupt_cancels_a_stalled_model_request_within_a_second(
    provider: Provider, agent_app
) -> None:
    provider.script(Reply(text="Thinking very hard", stall=True))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")
    await app.wait_events(url, lambda events: streamed(events) == "Thinking very hard")

    signalled = time.monotonic()
    await app.signal(url, "interrupt")
    await wait_flag(provider.fake.disconnected, within=1.0, what="the request to be cancelled")
    run = await app.wait_run(url, within=1.0)
    assert time.monotonic() - signalled < 1.0
    assert run["status"] == "aborted"
    assert run["finish_reason"] == "interrupted"
    events = await app.events(url)
    step = [e["value"] for e in of_type(events, "step")][-1]
    assert step["status"] == "superseded"
    (text,) = [e["value"] for e in of_type(events, "text")]
    assert (text["status"], text["text"]) == ("superseded", "Thinking very hard")
    # The entity stays usable; the next run does not see the interrupted text.
    provider.script(Reply(text="Fresh start."))
    await app.send(url, "Try again.")
    run = await app.wait_run(url, {"completed"}, count=2)
    assert run["text"] == "Fresh start."
    assert provider.turns() == [("user", "Hi."), ("user", "Try again.")]


async def test_interrupt_cancels_running_tools_within_a_second(
    provider: Provider, agent_app
) -> None:
    started, cancelled = asyncio.Event(), asyncio.Event()

    @tool
    async def long_job(seconds: float) -> str:
        """Runs for a long time."""
        started.set()
        try:
            await asyncio.sleep(seconds)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return "done"

    provider.script(Reply(tool_calls=[FakeToolCall("long_job", {"seconds": 60}, id="c1")]))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[long_job])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Go.")
    await asyncio.wait_for(started.wait(), 10)

    signalled = time.monotonic()
    await app.signal(url, "interrupt")
    run = await app.wait_run(url, within=1.0)
    assert time.monotonic() - signalled < 1.0
    assert cancelled.is_set()
    assert (run["status"], run["finish_reason"]) == ("aborted", "interrupted")
    assert len(provider.requests) == 1


async def test_stop_signal_aborts_the_run_and_stops_the_entity(
    provider: Provider, agent_app
) -> None:
    provider.script(Reply(text="Working on it", stall=True))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")
    await wait_flag(provider.fake.stalled, what="the model to stall")

    signalled = time.monotonic()
    await app.signal(url, "stop")
    run = await app.wait_run(url, within=1.0)
    assert time.monotonic() - signalled < 1.0
    assert run["status"] == "aborted"

    async def stopped() -> bool:
        response = await app.client.get(f"/v1/entities{url}")
        return bool(response.json()["status"] == "stopped")

    await eventually(stopped, within=2.0, what="the entity to stop")


async def test_max_steps_ends_a_run_that_keeps_calling_tools(provider: Provider, agent_app) -> None:
    provider.script(*endless_tool_calls(5))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[lookup], max_steps=3)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Search forever.")

    run = await app.wait_run(url)
    assert (run["status"], run["finish_reason"], run["steps"]) == ("aborted", "max_steps", 3)
    assert len(provider.requests) == 3
    calls = [e["value"] for e in of_type(await app.events(url), "tool_call")]
    # The tools the last step asked for still ran: their results are in the conversation.
    assert {row["id"] for row in calls if row["status"] == "completed"} == {
        "call_0",
        "call_1",
        "call_2",
    }


async def test_max_tokens_ends_a_run_over_its_token_budget(provider: Provider, agent_app) -> None:
    provider.script(*endless_tool_calls(5))  # each step uses 12 + 7 tokens
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[lookup], max_tokens=50)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Search forever.")

    run = await app.wait_run(url)
    assert (run["status"], run["finish_reason"]) == ("aborted", "max_tokens")
    assert run["steps"] == 3
    assert (run["input_tokens"], run["output_tokens"]) == (36, 21)
    assert len(provider.requests) == 3
