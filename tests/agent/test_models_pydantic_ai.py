"""pydantic-ai's models under Wakeful's own loop: a name pydantic-ai knows is resolved by
it and streamed through the adapter (here ``openai-chat:…``, the real ``openai`` SDK
against the fake server): text deltas, tool calls, usage, and retried server errors."""

from __future__ import annotations

from typing import Any

import pytest
from support.fakes import FakeOpenAI, FakeToolCall, HTTPError, Reply
from support.waiting import of_type

from wakeful.agent.models import Message, ToolCall, resolve
from wakeful.agent.models.pydantic_ai import PydanticAIModel, to_messages
from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

from .support import AgentApp, agent_type

NAME = "openai-chat:gpt-test"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeOpenAI:
    server = FakeOpenAI.shared()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    return server


@tool
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"sunny in {city}"


async def test_a_pydantic_ai_model_name_runs_the_native_loop(
    fake: FakeOpenAI, agent_app: Any
) -> None:
    fake.script(
        Reply(text="Let me look.", tool_calls=[FakeToolCall("weather", {"city": "Oslo"}, "w1")]),
        Reply(text=["It is ", "sunny ", "in Oslo."], usage=(30, 5)),
    )
    registry = Registry()
    agent_type(registry, "bot", lambda: resolve(NAME), tools=[weather], delta_interval=0)
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Weather in Oslo?")
    run = await app.wait_run(url)
    assert (run["status"], run["text"]) == ("completed", "It is sunny in Oslo."), run.get("error")
    assert run["model"] == NAME
    assert run["input_tokens"] == 12 + 30 and run["output_tokens"] == 7 + 5
    events = await app.events(url)
    deltas = [e["value"]["delta"] for e in of_type(events, "text_delta")]
    assert "".join(deltas) == "Let me look.It is sunny in Oslo." and len(deltas) > 2
    (call,) = [
        e["value"] for e in of_type(events, "tool_call") if e["value"]["status"] == "completed"
    ]
    assert (call["id"], call["result"]) == ("w1", "sunny in Oslo")
    # The second request carried the conversation in the provider's own format.
    second = fake.requests[-1].body["messages"]
    assert [m["role"] for m in second] == ["user", "assistant", "tool"]
    assert second[1]["tool_calls"][0]["id"] == "w1" and second[2]["content"] == "sunny in Oslo"


async def test_server_errors_are_retried_by_the_loop(fake: FakeOpenAI, agent_app: Any) -> None:
    # The SDK tries three times; then the loop retries, visibly, and the next one answers.
    fake.script(*[HTTPError(503, "overloaded")] * 3, Reply(text="Back."))
    registry = Registry()
    agent_type(registry, "bot", lambda: resolve(NAME))
    app: AgentApp = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")
    run = await app.wait_run(url, within=30)
    assert (run["status"], run["text"]) == ("completed", "Back."), run.get("error")
    retries = [e["value"] for e in of_type(await app.events(url), "error")]
    assert [r["kind"] for r in retries] == ["model_retry"] and "overloaded" in retries[0]["message"]


def test_names_and_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="unknown model provider 'nope'"):
        resolve("nope:model")
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        resolve("openai-responses:gpt-4o")
    assert isinstance(resolve("pydantic-ai:test"), PydanticAIModel)
    assert resolve("pydantic-ai:test").name == "test"


def test_the_conversation_becomes_pydantic_ai_messages() -> None:
    turns = (
        Message("user", "Weather?"),
        Message("assistant", "Looking.", (ToolCall("c1", "weather", {"city": "Oslo"}),)),
        Message("tool", "sunny", tool_call_id="c1", name="weather"),
        Message("user", "Thanks."),
    )
    request, response, followup = to_messages("Be brief.", turns)
    assert [p.part_kind for p in request.parts] == ["system-prompt", "user-prompt"]
    assert [p.part_kind for p in response.parts] == ["text", "tool-call"]
    assert [p.part_kind for p in followup.parts] == ["tool-return", "user-prompt"]
    assert followup.parts[0].tool_call_id == "c1"
