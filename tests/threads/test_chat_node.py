"""The AI SDK itself (``ai`` from npm, pinned in ``clients/``) chatting with a thread: its
``AbstractChat`` (what ``useChat`` wraps) over ``DefaultChatTransport``, run by Node
against a real server on 127.0.0.1; the tests assert on the messages it assembled.

Without Node or ``clients/node_modules`` (``make test`` installs it) the tests skip and
say so, except under ``CI=true``, where that is a failure."""

from __future__ import annotations

from typing import Any

from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.test import answer, call

from .conftest import ServeFactory
from .support import messages, run_script
from .test_chat import registry_for


async def chat(served: Any, scenario: str, chat_id: str) -> Any:
    return await run_script("ai-sdk-chat.mjs", scenario, served.url, chat_id)


def parts(message: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [part for part in message["parts"] if part["type"] == kind]


def text(message: dict[str, Any]) -> str:
    return "".join(part["text"] for part in parts(message, "text"))


async def test_turns_with_a_tool_and_a_regenerated_answer(serve: ServeFactory) -> None:
    model = TestModel(
        [
            Response(reasoning="A tool knows.", tool_calls=[("get_weather", {"city": "Oslo"})]),
            answer("It is sunny in Oslo."),
            answer("Sunny again tomorrow."),
            answer("Tomorrow: sunny."),
        ]
    )
    served = await serve(registry_for(model))
    found = await chat(served, "conversation", "node-turns")
    assert found["status"] == "ready"
    roles = [message["role"] for message in found["messages"]]
    assert roles == ["user", "assistant", "user", "assistant"]
    first, second = found["messages"][1], found["messages"][3]
    # One assistant message per run: two steps, the reasoning, the tool's call and output.
    assert len(parts(first, "step-start")) == 2
    assert [p["text"] for p in parts(first, "reasoning")] == ["A tool knows."]
    (weather,) = parts(first, "tool-get_weather")
    assert weather["state"] == "output-available"
    assert (weather["input"], weather["output"]) == ({"city": "Oslo"}, "sunny in Oslo")
    assert text(first) == "It is sunny in Oslo."
    assert [p["state"] for p in parts(first, "text")] == ["done"]
    # The regenerated answer replaced the second one.
    assert text(second) == "Tomorrow: sunny." and second["id"] != found["regenerated"]
    # The thread holds each user message once, though every post sent the whole history.
    held = await messages(served.client, "node-turns")
    users = [m["content"] for m in held if m["role"] == "user"]
    assert users == ["Weather in Oslo?", "And tomorrow?"]
    assert [m["id"] for m in held if m["role"] == "user"] == [
        found["messages"][0]["id"],
        found["messages"][2]["id"],
    ]
    # The history a page loads is the chat as the SDK assembled it (the first answer,
    # then the regenerated one; the answer it replaced is still the thread's).
    loaded = found["loaded"]
    assert [m["id"] for m in loaded] == [
        found["messages"][0]["id"],
        first["id"],
        found["messages"][2]["id"],
        found["regenerated"],
        second["id"],
    ]
    assert [text(m) for m in loaded] == [
        "Weather in Oslo?",
        "It is sunny in Oslo.",
        "And tomorrow?",
        "Sunny again tomorrow.",
        "Tomorrow: sunny.",
    ]
    (loaded_weather,) = parts(loaded[1], "tool-get_weather")
    assert {k: loaded_weather[k] for k in ("state", "input", "output")} == {
        k: weather[k] for k in ("state", "input", "output")
    }


async def test_a_tool_the_browser_runs(serve: ServeFactory) -> None:
    model = TestModel([call("pick_color", {"question": "Which?"}), answer("Blue it is.")])
    served = await serve(registry_for(model))
    found = await chat(served, "client-tool", "node-client-tool")
    assistants = [m for m in found["messages"] if m["role"] == "assistant"]
    assert len(assistants) == 1  # the answer continued the message that asked
    (picked,) = parts(assistants[0], "tool-pick_color")
    assert picked["state"] == "output-available" and picked["output"] == "blue"
    assert text(assistants[0]) == "Blue it is."
    # The model got the browser's answer as the tool's result.
    assert any("blue" in str(m.content) for m in model.requests[-1].messages)


async def test_an_approval_through_the_sdk(serve: ServeFactory) -> None:
    model = TestModel([call("delete_file", {"path": "a.txt"}), answer("Deleted.")])
    served = await serve(registry_for(model))
    found = await chat(served, "approval", "node-approval")
    assert found["requested"]["type"] == "tool-delete_file"
    (assistant,) = [m for m in found["messages"] if m["role"] == "assistant"]
    (deleted,) = parts(assistant, "tool-delete_file")
    assert deleted["state"] == "output-available" and deleted["output"] == "deleted a.txt"
    assert deleted["approval"]["approved"] is True
    assert text(assistant) == "Deleted."


async def test_a_dropped_connection_resumes_with_the_whole_answer(serve: ServeFactory) -> None:
    story = " ".join(f"word{i}" for i in range(60))
    served = await serve(registry_for(TestModel([Response(text=story, delay=0.03)])))
    found = await chat(served, "resume", "node-resume")
    assert found["seen"] and found["seen"] != story  # the first page saw only a part
    # The refreshed page loaded the history with the answer so far, then resumed it.
    assert [m["role"] for m in found["loaded"]] == ["user", "assistant"]
    assert story.startswith(text(found["loaded"][1]))
    roles = [message["role"] for message in found["messages"]]
    assert roles == ["user", "assistant"]
    assert text(found["messages"][1]) == story  # nothing missing, nothing twice
    assert found["after"] == found["messages"]
    assert found["status"] == "ready"
