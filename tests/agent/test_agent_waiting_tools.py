"""Tools that wait for the outside: asynchronous results and approvals, answered over
the API; the run parks without holding a worker, and the first answer wins."""

from __future__ import annotations

import asyncio
from typing import Any

from support.fakes import FakeToolCall, Reply
from support.waiting import of_type

from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

from .support import AgentApp, Provider, agent_type

ran: list[str] = []


@tool(kind="async")
def ask_human(question: str) -> str:
    """Ask a person; the answer comes later through the API."""
    raise AssertionError("an asynchronous tool's function is never called")


@tool(kind="approval")
def delete_file(path: str) -> str:
    """Delete a file, once a person approves."""
    ran.append(path)
    return f"deleted {path}"


@tool
def clock() -> str:
    """The time."""
    ran.append("clock")
    return "noon"


async def start(provider: Provider, agent_app: Any, *replies: Reply) -> tuple[AgentApp, str]:
    ran.clear()
    provider.script(*replies)
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[ask_human, delete_file, clock])
    app = await agent_app(registry)
    return app, await app.spawn("bot", "b1", message="Go.")


async def parked(app: AgentApp, url: str) -> dict[str, Any]:
    """Wait until the run waits for an answer and the pass that parked it has ended."""
    run = await app.wait_run(url, {"awaiting_tool_results"})
    await app.wait_events(url, lambda events: bool(of_type(events, "wake")), what="the pass")
    return run


async def test_an_async_result_arrives_through_the_api(provider: Provider, agent_app) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(
            tool_calls=[
                FakeToolCall("ask_human", {"question": "Which color?"}, id="c1"),
                FakeToolCall("clock", {}, id="c2"),
            ]
        ),
        Reply(text="Blue at noon."),
    )
    await parked(app, url)
    call = await app.wait_call(url, "awaiting_result")
    assert call["id"] == "c1"
    response = await app.client.get(f"/v1/entities{url}/tool-calls/c1")
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["answer"]) == ("awaiting_result", None)

    response = await app.answer(url, "c1", "result", {"result": {"color": "blue"}})
    assert response.status_code == 202, response.text
    run = await app.wait_run(url)
    assert (run["status"], run["text"]) == ("completed", "Blue at noon.")
    assert ran == ["clock"]  # the other call ran once, before the run parked
    results = {turn[1]: turn for turn in provider.turns(1) if turn[0] == "result"}
    assert results["c1"] == ("result", "c1", '{"color":"blue"}', False)
    assert results["c2"] == ("result", "c2", "noon", False)

    again = await app.answer(url, "c1", "result", {"result": "red"})
    assert again.status_code == 409
    assert "already answered" in again.text
    assert (await app.answer(url, "c1", "error", {"error": "late"})).status_code == 409


async def test_an_async_error_goes_back_to_the_model(provider: Provider, agent_app) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(tool_calls=[FakeToolCall("ask_human", {"question": "Which?"}, id="c1")]),
        Reply(text="Nobody knew."),
    )
    await parked(app, url)
    response = await app.answer(url, "c1", "error", {"error": "nobody is there"})
    assert response.status_code == 202
    assert (await app.wait_run(url))["status"] == "completed"
    (result,) = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert result[1] == "c1" and result[3] is True and "nobody is there" in result[2]


async def test_approval_runs_the_tool(provider: Provider, agent_app) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(tool_calls=[FakeToolCall("delete_file", {"path": "/tmp/x"}, id="c1")]),
        Reply(text="Deleted."),
    )
    await parked(app, url)
    call = await app.wait_call(url, "awaiting_approval")
    assert call["args"] == {"path": "/tmp/x"}
    assert ran == []

    response = await app.answer(url, "c1", "approve", {})
    assert response.status_code == 202, response.text
    assert (await app.wait_run(url))["status"] == "completed"
    assert ran == ["/tmp/x"]
    calls = {e["key"]: e["value"] for e in of_type(await app.events(url), "tool_call")}
    assert (calls["c1"]["status"], calls["c1"]["result"]) == ("completed", "deleted /tmp/x")
    assert (await app.answer(url, "c1", "deny", {})).status_code == 409


async def test_denial_never_runs_the_tool_and_tells_the_model(
    provider: Provider, agent_app
) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(tool_calls=[FakeToolCall("delete_file", {"path": "/etc"}, id="c1")]),
        Reply(text="Understood."),
    )
    await parked(app, url)
    response = await app.answer(url, "c1", "deny", {"reason": "far too risky"})
    assert response.status_code == 202
    assert (await app.wait_run(url))["status"] == "completed"
    assert ran == []
    calls = {e["key"]: e["value"] for e in of_type(await app.events(url), "tool_call")}
    assert (calls["c1"]["status"], calls["c1"]["error"]) == ("denied", "far too risky")
    (result,) = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert result[3] is True
    assert "denied" in result[2] and "far too risky" in result[2]


async def test_racing_answers_first_wins_the_other_gets_409(provider: Provider, agent_app) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(tool_calls=[FakeToolCall("delete_file", {"path": "/tmp/y"}, id="c1")]),
        Reply(text="Done."),
    )
    await parked(app, url)
    responses = await asyncio.gather(
        app.answer(url, "c1", "approve", {}), app.answer(url, "c1", "deny", {"reason": "no"})
    )
    assert sorted(response.status_code for response in responses) == [202, 409]
    approved = responses[0].status_code == 202
    assert (await app.wait_run(url))["status"] == "completed"
    assert ran == (["/tmp/y"] if approved else [])


async def test_wrong_answers_get_clear_errors(provider: Provider, agent_app) -> None:
    app, url = await start(
        provider,
        agent_app,
        Reply(
            tool_calls=[
                FakeToolCall("delete_file", {"path": "/tmp/z"}, id="c1"),
                FakeToolCall("clock", {}, id="c2"),
            ]
        ),
        Reply(text="Done."),
    )
    await parked(app, url)
    wrong_kind = await app.answer(url, "c1", "result", {"result": "x"})
    assert wrong_kind.status_code == 400 and "approve or deny" in wrong_kind.text
    not_waiting = await app.answer(url, "c2", "approve", {})
    assert not_waiting.status_code == 400 and "runs by itself" in not_waiting.text
    unknown = await app.answer(url, "nope", "approve", {})
    assert unknown.status_code == 404
    no_entity = await app.answer("/bot/missing", "c1", "approve", {})
    assert no_entity.status_code == 404
    empty_error = await app.answer(url, "c1", "error", {"error": ""})
    assert empty_error.status_code == 400
    # Nothing of that disturbed the waiting call.
    assert (await app.answer(url, "c1", "approve", {})).status_code == 202
    assert (await app.wait_run(url))["status"] == "completed"
