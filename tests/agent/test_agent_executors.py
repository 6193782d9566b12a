"""Tools run by executors: the call waits on the executor's queue, one executor claims it
(in the database), and its result answers the run; a late result is refused and kept."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from support.fakes import FakeToolCall, Reply
from support.waiting import eventually

from wakeful import AsyncClient, CallClaimed, CallFenced, ExecutorCall
from wakeful.agent.executor_queue import ExecutorQueues
from wakeful.agent.tools import RetryPolicy, tool
from wakeful.client.executor import Executor
from wakeful.entities.definition import Registry

from .support import AgentApp, Provider, agent_type

seen: list[str] = []


@tool(executor="browser", retry=RetryPolicy(attempts=2, backoff_seconds=0.01))
def read_title(selector: str, call: ExecutorCall) -> str:
    """Read a title on the page."""
    seen.append(call.idempotency_key)
    return f"title of {selector}"


async def start(provider: Provider, agent_app: Any) -> tuple[AgentApp, str]:
    seen.clear()
    provider.script(
        Reply(tool_calls=[FakeToolCall("read_title", {"selector": "h1"}, id="c1")]),
        Reply(text="The title is known."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[read_title])
    app = await agent_app(registry)
    return app, await app.spawn("bot", "b1", message="Go.")


def client_of(app: AgentApp) -> AsyncClient:
    return AsyncClient("http://wakeful.test", transport=httpx.ASGITransport(app=app.app))


async def queued(client: AsyncClient) -> ExecutorCall:
    async def probe() -> list[ExecutorCall]:
        return await client.executor_calls("browser")

    (call,) = await eventually(probe, what="the call on the queue")
    return call


async def test_an_executor_runs_the_call_and_the_run_continues(
    provider: Provider, agent_app: Any
) -> None:
    app, url = await start(provider, agent_app)
    async with client_of(app) as client:
        call = await queued(client)
        assert (call.tool, call.args, call.entity) == ("read_title", {"selector": "h1"}, url)
        stop = asyncio.Event()
        runner = asyncio.create_task(Executor([read_title], client, poll_seconds=0.05).run(stop))
        run = await app.wait_run(url)
        stop.set()
        await runner
    assert (run["status"], run["text"]) == ("completed", "The title is known.")
    assert seen == [call.idempotency_key]
    (result,) = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert result[1:] == ("c1", "title of h1", False)


async def test_two_claims_one_wins_and_a_taken_over_claim_is_fenced(
    provider: Provider, agent_app: Any
) -> None:
    app, url = await start(provider, agent_app)
    async with client_of(app) as client:
        call = await queued(client)
        first = await client.claim_call("browser", call.key, "a", lease_seconds=0.2)
        with pytest.raises(CallClaimed):
            await client.claim_call("browser", call.key, "b")
        await asyncio.sleep(0.3)  # the lease runs out: a second attempt may claim it
        second = await client.claim_call("browser", call.key, "b")
        assert (second.generation, second.attempt) == (first.generation + 1, 2)
        assert second.idempotency_key == first.idempotency_key
        with pytest.raises(CallFenced):
            await client.complete_call(first, "late")
        with pytest.raises(CallFenced):
            await client.heartbeat_call(first)
        await client.complete_call(second, "on time")
        run = await app.wait_run(url)
    assert run["status"] == "completed"
    (result,) = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert result[2] == "on time"
    refused = await ExecutorQueues(app.storage).refusals("browser")
    assert [(r.operation, r.generation, r.result) for r in refused] == [
        ("complete", first.generation, "late")
    ]


async def test_a_result_after_the_run_ended_is_refused(provider: Provider, agent_app: Any) -> None:
    app, url = await start(provider, agent_app)
    async with client_of(app) as client:
        call = await queued(client)
        held = await client.claim_call("browser", call.key, "a")
        await app.signal(url, "interrupt")
        run = await app.wait_run(url)
        assert run["status"] == "aborted"

        async def cancelled() -> bool:
            return (await ExecutorQueues(app.storage).get("browser", call.key)).status == (
                "cancelled"
            )

        await eventually(cancelled, what="the call cancelled")
        with pytest.raises(CallFenced):
            await client.complete_call(held, "too late")
    refused = await ExecutorQueues(app.storage).refusals("browser")
    assert [r.result for r in refused] == ["too late"]
    assert "ended" in refused[0].reason


async def test_bad_requests_get_clear_errors(provider: Provider, agent_app: Any) -> None:
    app, _ = await start(provider, agent_app)
    response = await app.client.get("/v1/executors/Bad Name/calls")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "INVALID_EXECUTOR"
    response = await app.client.post("/v1/executors/browser/calls/nope/claim", json={"holder": "a"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "UNKNOWN_EXECUTOR_CALL"
    response = await app.client.post(
        "/v1/executors/browser/calls/nope/complete", json={"generation": 0}
    )
    assert response.status_code in (400, 422)
