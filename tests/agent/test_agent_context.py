"""What the model is sent: the conversation rebuilt from the stream (inbox messages as
user turns, steps as assistant turns with their tool calls, results as tool turns), the
system prompt and tool schemas, a hook to build it differently, truncated big results."""

from __future__ import annotations

from typing import Any, Literal

from support.fakes import FakeToolCall, Reply
from support.waiting import of_type

from wakeful.agent.models import Message
from wakeful.agent.tools import tool
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry

from .support import Provider, agent_type


@tool
def lookup(query: str, limit: int = 3, mode: Literal["fast", "deep"] = "fast") -> str:
    """Search the knowledge base.

    Longer explanations after the first paragraph are not sent to the model."""
    return f"{limit} {mode} results for {query}"


async def test_the_conversation_is_rebuilt_from_the_stream(provider: Provider, agent_app) -> None:
    provider.script(
        Reply(text="Let me look.", tool_calls=[FakeToolCall("lookup", {"query": "tea"}, id="c1")]),
        Reply(text="Tea is a drink."),
        Reply(text="Coffee too."),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), system="You are terse.", tools=[lookup])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="What is tea?")
    await app.wait_run(url, {"completed"})
    await app.send(url, {"text": "And coffee?"})
    await app.wait_run(url, {"completed"}, count=2)

    assert len(provider.requests) == 3
    assert provider.turns(0) == [("user", "What is tea?")]
    assert provider.turns(2) == [
        ("user", "What is tea?"),
        ("assistant", "Let me look."),
        ("call", "c1", "lookup", {"query": "tea"}),
        ("result", "c1", "3 fast results for tea", False),
        ("assistant", "Tea is a drink."),
        ("user", "And coffee?"),
    ]
    for index in range(3):
        assert provider.system(index) == "You are terse."
        assert provider.tool_names(index) == ["lookup"]
    tools = provider.body(0)["tools"]
    spec = tools[0]["function"] if provider.name == "openai" else tools[0]
    assert spec["description"] == "Search the knowledge base."
    schema = spec["parameters"] if provider.name == "openai" else spec["input_schema"]
    assert schema["required"] == ["query"]
    assert schema["properties"]["query"]["type"] == "string"
    assert schema["properties"]["limit"] == {"default": 3, "title": "Limit", "type": "integer"}
    assert schema["properties"]["mode"]["enum"] == ["fast", "deep"]


async def test_a_hook_builds_the_messages_instead(provider: Provider, agent_app) -> None:
    seen: list[int] = []

    def only_the_latest(ctx: Context) -> list[Message]:
        inbox = [row["payload"] for _, row in ctx.collection("inbox").items()]
        seen.append(len(inbox))
        return [Message("user", f"Answer only this: {inbox[-1]}")]

    provider.script(Reply(text="One."), Reply(text="Two."))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), build_messages=only_the_latest)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="first")
    await app.wait_run(url, {"completed"})
    await app.send(url, "second")
    await app.wait_run(url, {"completed"}, count=2)

    assert seen == [1, 2]
    assert provider.turns(0) == [("user", "Answer only this: first")]
    assert provider.turns(1) == [("user", "Answer only this: second")]


async def test_an_oversized_tool_result_is_truncated_for_the_model(
    provider: Provider, agent_app
) -> None:
    @tool
    def dump() -> str:
        """Returns a lot."""
        return "x" * 5000

    provider.script(Reply(tool_calls=[FakeToolCall("dump", {}, id="c1")]), Reply(text="Big."))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[dump], tool_result_budget=10)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Dump it.")
    await app.wait_run(url, {"completed"})

    (result,) = [turn for turn in provider.turns(1) if turn[0] == "result"]
    assert result[2] == "x" * 40 + "\n[truncated: 4960 more characters]"
    # The stream keeps the whole result.
    calls = [e["value"] for e in of_type(await app.events(url), "tool_call")]
    assert calls[-1]["result"] == "x" * 5000


async def test_tool_call_ids_a_provider_repeats_stay_distinct(
    provider: Provider, agent_app
) -> None:
    """Some servers number tool calls per response (the fakes do: ``call_fake_0`` each
    time); both steps' calls and results must still reach the model."""

    def search(query: str) -> Reply:
        return Reply(tool_calls=[FakeToolCall("lookup", {"query": query})])

    provider.script(search("tea"), search("coffee"), Reply(text="Both found."))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[lookup])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Tea and coffee?")
    assert (await app.wait_run(url))["status"] == "completed"

    turns = provider.turns(2)
    calls = [turn for turn in turns if turn[0] == "call"]
    results = [turn for turn in turns if turn[0] == "result"]
    assert [call[3]["query"] for call in calls] == ["tea", "coffee"]
    assert [result[2] for result in results] == [
        "3 fast results for tea",
        "3 fast results for coffee",
    ]
    assert len({call[1] for call in calls}) == 2
    assert [call[1] for call in calls] == [result[1] for result in results]
    rows: dict[str, Any] = {}
    for event in of_type(await app.events(url), "tool_call"):
        rows[event["key"]] = event["value"]
    assert len(rows) == 2
