"""Resuming a run after its worker stopped mid-run (in-process: the server is stopped
and another started on the same database once the lease runs out).

Completed steps are not requested again (the fake counts requests), completed tool calls
do not run again, a call that started but did not finish runs again only if its policy
allows, with the same idempotency key, and the partial text of an interrupted step is
marked superseded.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.fakes import FakeToolCall, Reply
from support.waiting import of_type

from wakeful.agent.tools import RetryPolicy, ToolContext, tool
from wakeful.entities.definition import Registry

from .support import Provider, agent_type


class Tools:
    """Tools that record every execution; ``slow`` hangs while ``hang`` is set."""

    def __init__(self, attempts: int) -> None:
        self.executions: list[tuple[str, str, int]] = []
        self.hang = True
        self.started = asyncio.Event()
        runs = self.executions

        @tool
        async def quick(t: ToolContext) -> str:
            """Returns at once."""
            runs.append(("quick", t.idempotency_key, t.attempt))
            return "quick result"

        @tool(retry=RetryPolicy(attempts=attempts, backoff_seconds=0.01))
        async def slow(t: ToolContext) -> str:
            """Takes as long as the test wants."""
            runs.append(("slow", t.idempotency_key, t.attempt))
            self.started.set()
            if self.hang:
                await asyncio.Event().wait()
            return "slow result"

        self.tools = [quick, slow]


def calls_of(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in of_type(events, "tool_call"):
        rows[event["key"]] = event["value"]
    return rows


@pytest.mark.parametrize("attempts", [2, 1])
async def test_a_resumed_run_continues_where_it_stopped(
    provider: Provider, agent_app, attempts: int
) -> None:
    tools = Tools(attempts)
    provider.script(
        Reply(tool_calls=[FakeToolCall("quick", {}, id="c1"), FakeToolCall("slow", {}, id="c2")]),
        Reply(text="All done."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=tools.tools)
    first = await agent_app(registry)
    url = await first.spawn("bot", "b1", message="Run both.")
    await asyncio.wait_for(tools.started.wait(), 10)
    await first.wait_events(url, lambda events: calls_of(events)["c1"]["status"] == "completed")
    await first.stop()  # the worker goes away in the middle of the slow call
    tools.hang = False

    # What the stream says meanwhile (read by a server that runs no agents).
    inspector = await agent_app(Registry(), database=first.database)
    events = await inspector.events(url)
    await inspector.stop()
    assert [e["value"] for e in of_type(events, "run")][-1]["status"] == "running"
    assert [(row["status"], row["attempts"]) for row in calls_of(events).values()] == [
        ("completed", 1),
        ("running", 1),
    ]
    assert len(provider.requests) == 1

    second = await agent_app(registry, database=first.database)
    run = await second.wait_run(url)
    assert run["status"] == "completed"
    assert run["text"] == "All done."
    # The model was asked once for the first step and once more after the tools.
    assert len(provider.requests) == 2
    key = f"{url}:{run['id']}"
    calls = calls_of(await second.events(url))
    assert calls["c1"]["status"] == "completed" and calls["c1"]["attempts"] == 1
    if attempts == 2:
        assert tools.executions == [
            ("quick", f"{key}:c1", 1),
            ("slow", f"{key}:c2", 1),
            ("slow", f"{key}:c2", 2),
        ] or tools.executions == [
            ("slow", f"{key}:c2", 1),
            ("quick", f"{key}:c1", 1),
            ("slow", f"{key}:c2", 2),
        ]
        assert (calls["c2"]["status"], calls["c2"]["attempts"]) == ("completed", 2)
        assert calls["c2"]["result"] == "slow result"
    else:
        assert sorted(tools.executions) == [("quick", f"{key}:c1", 1), ("slow", f"{key}:c2", 1)]
        assert (calls["c2"]["status"], calls["c2"]["attempts"]) == ("failed", 1)
        assert calls["c2"]["error"] == "interrupted, and out of attempts"
    results = {turn[1]: turn for turn in provider.turns(1) if turn[0] == "result"}
    assert results["c1"] == ("result", "c1", "quick result", False)
    assert results["c2"][3] is (attempts == 1)
    wakes = [e["value"] for e in of_type(await second.events(url), "wake")]
    assert [wake["generation"] for wake in wakes] == [2]


async def test_partial_text_of_a_stopped_step_is_superseded(provider: Provider, agent_app) -> None:
    partial = ["The ", "answer ", "begins "]
    provider.script(Reply(text=partial, stall=True))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    first = await agent_app(registry)
    url = await first.spawn("bot", "b1", message="Hi.")

    def streamed(events: list[dict[str, Any]]) -> str:
        return "".join(e["value"]["delta"] for e in of_type(events, "text_delta"))

    await first.wait_events(url, lambda events: streamed(events) == "".join(partial))
    await first.stop()
    provider.script(Reply(text="The whole answer."))

    second = await agent_app(registry, database=first.database)
    run = await second.wait_run(url)
    assert (run["status"], run["text"], run["steps"]) == ("completed", "The whole answer.", 1)
    events = await second.events(url)
    steps: dict[str, dict[str, Any]] = {}
    for event in of_type(events, "step"):
        steps[event["key"]] = event["value"]
    assert [(key, step["status"]) for key, step in steps.items()] == [
        (f"{run['id']}:0", "superseded"),
        (f"{run['id']}:1", "completed"),
    ]
    texts: dict[str, dict[str, Any]] = {}
    for event in of_type(events, "text"):
        texts[event["key"]] = event["value"]
    assert (texts[f"{run['id']}:0"]["status"], texts[f"{run['id']}:0"]["text"]) == (
        "superseded",
        "The answer begins ",
    )
    assert texts[f"{run['id']}:1"]["status"] == "completed"
    # The resumed step asked the same question; the partial text is not in it.
    assert len(provider.requests) == 2
    assert provider.turns(1) == provider.turns(0) == [("user", "Hi.")]
