"""Exactly once with an agent in the pass: handler writes around ``ctx.agent.run()``, a
tool that writes through its context, and a handler that raises after its run.

A retry continues the run it flushed (the run records the wake keys it served): one run,
each tool executed once, no model step requested twice; the handler's writes land once,
with the acknowledgement. And once a pass is over for good (kill, stop, attempts
exhausted), nothing it opened stays ``running``: each row gets a terminal status and a
reason.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel
from support.fakes import FakeToolCall, Reply
from support.waiting import of_type

from wakeful.agent.loop import RunResult
from wakeful.agent.models.base import Message
from wakeful.agent.records import Rows
from wakeful.agent.rows import CALL_DONE, RUN_DONE
from wakeful.agent.tools import ToolContext, tool
from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

from .support import LEASE_SECONDS, AgentApp, Provider

# On both backends, whatever WAKEFUL_TEST_HTTP_BACKENDS selects for the other HTTP tests.
pytestmark = pytest.mark.parametrize(
    "http_database", ["sqlite", "postgres"], indirect=True, scope="session"
)


class Item(BaseModel):
    id: str


class Ledger:
    """What happened outside the entity: tool executions, handler results."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.executions: list[str] = []
        self.results: list[RunResult] = []
        self.attempts = 0
        self.hang = False
        self.started = asyncio.Event()


def bot_registry(provider: Provider, ledger: Ledger, **options: Any) -> Registry:
    registry = Registry()
    model = provider.model()

    @tool
    async def count(t: ToolContext) -> str:
        """Counts, and notes it in the entity's state."""
        ledger.executions.append(t.idempotency_key)
        ledger.started.set()
        if ledger.hang:
            await asyncio.Event().wait()
        t.ctx.state.items.insert(Item(id=f"tool:{t.call_id}"))
        return f"counted {len(ledger.executions)}"

    @tool(kind="async")
    def ask(question: str) -> str:
        """Ask a person; the answer comes later."""
        raise AssertionError("never called")

    @registry.entity("bot", state={"items": Item}, max_attempts=3, lease_seconds=LEASE_SECONDS)
    async def bot(ctx: Context, wake: Wake) -> None:
        if not (wake.messages or wake.tool_results):
            return
        ledger.attempts += 1
        if wake.messages:
            ctx.state.items.insert(Item(id="before"))
            ctx.set_tag("asked", "yes")
        agent = ctx.use_agent(model, tools=[count, ask], delta_interval=0, **options)
        result = await agent.run()
        ledger.results.append(result)
        if wake.messages:
            ctx.state.items.insert(Item(id="after"))
        if ledger.failures > 0:
            ledger.failures -= 1
            raise RuntimeError("the handler fails after its run")

    registry.get("bot").retry_seconds = 0.01
    return registry


def items(events: list[dict[str, Any]]) -> list[str]:
    return [str(event["key"]) for event in of_type(events, v.state_type("items"))]


async def test_a_handler_raising_after_its_run_continues_that_run(
    provider: Provider, agent_app: Any
) -> None:
    provider.script(
        Reply(tool_calls=[FakeToolCall("count", {}, id="c1")]),
        Reply(text="Counted."),
    )
    ledger = Ledger(failures=2)
    app: AgentApp = await agent_app(bot_registry(provider, ledger))
    url = await app.spawn("bot", "b", message="Count once.")
    await app.wait_events(url, lambda found: len(of_type(found, v.WAKE)) >= 1, what="a pass")
    events = await app.events(url)
    rows = Rows(await app.store(url))
    (run,) = rows.runs()
    assert run.status == "completed" and run.text == "Counted."
    assert len(run.wakes) == 1
    assert ledger.attempts == 3
    # The retries got the run's recorded result; the model was asked once per step.
    assert [result.run_id for result in ledger.results] == [run.id] * 3
    assert len(provider.requests) == 2
    assert ledger.executions == [f"{url}:{run.id}:c1"]
    # The tool's write landed once, in the commit of its result; the handler's once each.
    assert items(events) == ["tool:c1", "before", "after"]
    tool_item = next(i for i, e in enumerate(events) if e.get("key") == "tool:c1")
    done = [
        i
        for i, e in enumerate(events)
        if e["type"] == "tool_call" and e["value"]["status"] == "completed"
    ]
    assert done and done[0] > tool_item
    assert of_type(events, v.TAGS)[0]["value"]["value"] == "yes"
    assert len(of_type(events, v.TAGS)) == 1
    assert len(of_type(events, v.INBOX)) == 1
    assert (await app.client.get(f"/v1/entities{url}")).json()["status"] == v.IDLE


async def test_kill_during_a_tool_closes_the_run(provider: Provider, agent_app: Any) -> None:
    provider.script(Reply(tool_calls=[FakeToolCall("count", {}, id="c1")]))
    ledger = Ledger()
    ledger.hang = True
    app: AgentApp = await agent_app(bot_registry(provider, ledger))
    url = await app.spawn("bot", "b", message="Count.")
    await asyncio.wait_for(ledger.started.wait(), 10)
    await app.signal(url, "kill")
    run = await app.wait_run(url, ["aborted"])
    assert run["finish_reason"] == "killed"
    rows = Rows(await app.store(url))
    assert all(step.status in ("completed", "superseded") for step in rows.steps(run["id"]))
    (call,) = [c for step in rows.steps(run["id"]) for c in rows.calls(step.id)]
    assert call.status == "failed" and call.error == "the run ended (killed)"
    assert (await app.client.get(f"/v1/entities{url}")).json()["status"] == v.KILLED
    # The handler's writes never landed: the pass was over before its commit.
    assert items(await app.events(url)) == []


async def test_stop_while_a_run_waits_closes_it(provider: Provider, agent_app: Any) -> None:
    provider.script(Reply(tool_calls=[FakeToolCall("ask", {"question": "ok?"}, id="c1")]))
    ledger = Ledger()
    app: AgentApp = await agent_app(bot_registry(provider, ledger))
    url = await app.spawn("bot", "b", message="Ask.")
    await app.wait_run(url, ["awaiting_tool_results"])
    await app.signal(url, "stop")
    run = await app.wait_run(url, ["aborted"])
    assert run["finish_reason"] == "stopped"
    rows = Rows(await app.store(url))
    calls = [c for step in rows.steps(run["id"]) for c in rows.calls(step.id)]
    assert [(c.status, c.error) for c in calls] == [("failed", "the run ended (stopped)")]
    assert (await app.client.get(f"/v1/entities{url}")).json()["status"] == v.STOPPED


async def test_attempts_exhausted_fail_the_open_run_with_the_error(
    provider: Provider, agent_app: Any
) -> None:
    def broken(ctx: Context) -> list[Message]:
        raise RuntimeError("no history today")

    ledger = Ledger()
    app: AgentApp = await agent_app(bot_registry(provider, ledger, build_messages=broken))
    url = await app.spawn("bot", "b", message="Try.")
    run = await app.wait_run(url, ["failed"])
    assert run["finish_reason"] == "pass_failed"
    assert run["error"] == "RuntimeError: no history today"
    rows = Rows(await app.store(url))
    assert len(rows.runs()) == 1  # each attempt continued the same run
    # The request is built (and the context window checked) before a step starts, so a
    # failing history leaves no step; any step an attempt did start is closed.
    steps = rows.steps(run["id"])
    assert len(steps) <= 3 and all(step.status == "superseded" for step in steps)
    assert ledger.attempts == 3 and provider.requests == []
    assert (await app.client.get(f"/v1/entities{url}")).json()["status"] == v.FAILED
    assert all(row.status in RUN_DONE for row in rows.runs())
    assert all(call.status in CALL_DONE for step in steps for call in rows.calls(step.id))
