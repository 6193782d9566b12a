"""A thread served as the AI SDK's chat: what ``DefaultChatTransport`` posts to
``/v1/chat`` gets the UI message stream over SSE; ``/v1/chat/{id}/stream`` resumes.

The chunks are checked here on the wire; ``test_chat_node.py`` runs the ``ai`` package
itself against the same routes."""

from __future__ import annotations

import json
from typing import Any

import httpx

from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.test import answer, call
from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import error_of, get_weather, messages, wait_status


@tool(kind="async")
def pick_color(question: str) -> str:
    """Asks the person in the browser to pick a color."""
    raise AssertionError("answered by the browser")


@tool(kind="approval")
def delete_file(path: str) -> str:
    """Deletes a file, once a person approved it."""
    return f"deleted {path}"


def registry_for(model: TestModel) -> Registry:
    registry = Registry()
    tools = [get_weather, pick_color, delete_file]
    define_thread(registry, config=ThreadConfig(model=model, tools=tools))
    return registry


def user(text: str, id: str = "u1") -> dict[str, Any]:
    return {"id": id, "role": "user", "parts": [{"type": "text", "text": text}]}


def body(chat_id: str, *messages: dict[str, Any], trigger: str = "submit-message") -> Any:
    """What DefaultChatTransport posts."""
    return {"id": chat_id, "messages": list(messages), "trigger": trigger, "messageId": None}


async def read_chunks(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, await response.aread()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-vercel-ai-ui-message-stream"] == "v1"
    found: list[dict[str, Any]] = []
    done = False
    async for line in response.aiter_lines():
        if not line:
            continue
        assert line.startswith("data: ") and not done, line
        data = line[len("data: ") :]
        if data == "[DONE]":
            done = True
            continue
        found.append(json.loads(data))
    assert done, "the stream ended without [DONE]"
    return found


async def post(client: httpx.AsyncClient, payload: Any) -> list[dict[str, Any]]:
    async with client.stream("POST", "/v1/chat", json=payload) as response:
        return await read_chunks(response)


def kinds(chunks: list[dict[str, Any]]) -> list[str]:
    return [chunk["type"] for chunk in chunks]


def text_of(chunks: list[dict[str, Any]], kind: str = "text") -> str:
    return "".join(c["delta"] for c in chunks if c["type"] == f"{kind}-delta")


def check_well_formed(chunks: list[dict[str, Any]]) -> None:
    assert chunks[0]["type"] == "start" and chunks[-1]["type"] == "finish"
    open_parts: set[str] = set()
    in_step = False
    for chunk in chunks:
        kind = chunk["type"]
        if kind.endswith("-start") and kind.split("-")[0] in ("text", "reasoning"):
            assert in_step and chunk["id"] not in open_parts
            open_parts.add(chunk["id"])
        elif kind.endswith("-delta") and kind.split("-")[0] in ("text", "reasoning"):
            assert chunk["id"] in open_parts
        elif kind in ("text-end", "reasoning-end"):
            open_parts.remove(chunk["id"])
        elif kind == "start-step":
            assert not in_step
            in_step = True
        elif kind in ("finish-step", "reset-step"):
            assert not open_parts
            in_step = kind == "reset-step" and in_step
    assert not open_parts


async def test_a_turn_with_reasoning_a_tool_and_text(serve: ServeFactory) -> None:
    model = TestModel(
        [
            Response(
                reasoning="Weather needs a tool.", tool_calls=[("get_weather", {"city": "Oslo"})]
            ),
            Response(text="It is sunny in Oslo today.", delay=0.01),
        ]
    )
    served = await serve(registry_for(model))
    chunks = await post(served.client, body("c1", user("Weather in Oslo?")))
    check_well_formed(chunks)
    assert chunks[-1]["finishReason"] == "stop"
    assert kinds(chunks).count("start-step") == 2 == kinds(chunks).count("finish-step")
    assert text_of(chunks, "reasoning") == "Weather needs a tool."
    assert text_of(chunks) == "It is sunny in Oslo today."
    (available,) = [c for c in chunks if c["type"] == "tool-input-available"]
    assert available["toolName"] == "get_weather" and available["input"] == {"city": "Oslo"}
    (output,) = [c for c in chunks if c["type"] == "tool-output-available"]
    assert output == {
        "type": "tool-output-available",
        "toolCallId": available["toolCallId"],
        "output": "sunny in Oslo",
    }
    # The chat is a thread, created on first use, holding the message once.
    found = await messages(served.client, "c1")
    assert [m["content"] for m in found if m["content"]] == [
        "Weather in Oslo?",
        "It is sunny in Oslo today.",
    ]
    assert found[0]["id"] == "u1"


async def test_history_posted_again_adds_only_the_new_message(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("One."), answer("Two.")])))
    first = await post(served.client, body("c2", user("count", "u1")))
    assistant = {"id": first[0]["messageId"], "role": "assistant", "parts": []}
    second = await post(
        served.client, body("c2", user("count", "u1"), assistant, user("more", "u2"))
    )
    assert text_of(second) == "Two."
    contents = [m["content"] for m in await messages(served.client, "c2")]
    assert contents == ["count", "One.", "more", "Two."]
    # The same post again (a retry) sends nothing: it replays the run that answered it.
    again = await post(
        served.client, body("c2", user("count", "u1"), assistant, user("more", "u2"))
    )
    check_well_formed(again)
    assert again[0]["messageId"] == second[0]["messageId"] and text_of(again) == "Two."
    assert [m["content"] for m in await messages(served.client, "c2")] == contents


async def test_regenerate_answers_the_last_message_again(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("First try."), answer("Second try.")])))
    first = await post(served.client, body("c3", user("hello")))
    regenerated = await post(served.client, body("c3", user("hello"), trigger="regenerate-message"))
    check_well_formed(regenerated)
    assert regenerated[0]["messageId"] != first[0]["messageId"]
    assert text_of(regenerated) == "Second try."
    users = [m for m in await messages(served.client, "c3") if m["role"] == "user"]
    assert len(users) == 1


async def test_a_client_tool_waits_for_the_browser(serve: ServeFactory) -> None:
    model = TestModel([call("pick_color", {"question": "Which?"}), answer("Blue it is.")])
    served = await serve(registry_for(model))
    first = await post(served.client, body("c4", user("pick a color")))
    check_well_formed(first)
    assert first[-1]["finishReason"] == "tool-calls"
    (asked,) = [c for c in first if c["type"] == "tool-input-available"]
    assert "tool-output-available" not in kinds(first)
    await wait_status(served.client, "c4", "awaiting_tool_results")
    # Nothing runs while the call waits: a resume finds nothing.
    assert (await served.client.get("/v1/chat/c4/stream")).status_code == 204
    part = {
        "type": "tool-pick_color",
        "toolCallId": asked["toolCallId"],
        "state": "output-available",
        "input": asked["input"],
        "output": "blue",
    }
    assistant = {"id": first[0]["messageId"], "role": "assistant", "parts": [part]}
    rest = await post(served.client, body("c4", user("pick a color"), assistant))
    check_well_formed(rest)
    assert rest[0] == {"type": "start", "messageId": first[0]["messageId"]}
    assert [c for c in rest if c["type"] == "tool-output-available"] == [
        {"type": "tool-output-available", "toolCallId": asked["toolCallId"], "output": "blue"}
    ]
    assert text_of(rest) == "Blue it is." and rest[-1]["finishReason"] == "stop"


async def test_approval_through_the_ai_sdk_flow(serve: ServeFactory) -> None:
    model = TestModel([call("delete_file", {"path": "a.txt"}), answer("Deleted.")])
    served = await serve(registry_for(model))
    first = await post(served.client, body("c5", user("delete a.txt")))
    (request,) = [c for c in first if c["type"] == "tool-approval-request"]
    assert first[-1]["finishReason"] == "tool-calls"
    part = {
        "type": "tool-delete_file",
        "toolCallId": request["toolCallId"],
        "state": "approval-responded",
        "input": {"path": "a.txt"},
        "approval": {"id": request["approvalId"], "approved": True},
    }
    assistant = {"id": first[0]["messageId"], "role": "assistant", "parts": [part]}
    rest = await post(served.client, body("c5", user("delete a.txt"), assistant))
    outputs = [c for c in rest if c["type"] == "tool-output-available"]
    assert [o["output"] for o in outputs] == ["deleted a.txt"]
    assert text_of(rest) == "Deleted."


async def test_resume_replays_the_running_answer_whole(serve: ServeFactory) -> None:
    words = " ".join(f"w{i}" for i in range(40))
    served = await serve(registry_for(TestModel([Response(text=words, delay=0.05)])))
    async with served.client.stream("POST", "/v1/chat", json=body("c6", user("go"))) as response:
        async for line in response.aiter_lines():
            if "text-delta" in line:
                break  # the page went away mid-answer

    resumed = served.client.stream("GET", "/v1/chat/c6/stream")
    async with resumed as response:
        chunks = await read_chunks(response)
    check_well_formed(chunks)
    assert text_of(chunks) == words
    await wait_status(served.client, "c6", "completed")
    assert (await served.client.get("/v1/chat/c6/stream")).status_code == 204


async def test_bad_chat_requests_are_400(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("Hello.")])))
    invalid: list[Any] = [
        {"messages": [user("hi")]},
        {"id": "x", "messages": []},
        {"id": "x", "messages": [{"id": "m", "role": "robot", "parts": []}]},
        {"id": "x", "messages": [user("hi")], "trigger": "explode"},
        [1, 2],
    ]
    for payload in invalid:
        error_of(await served.client.post("/v1/chat", json=payload), 400, "INVALID_REQUEST")
    response = await served.client.post("/v1/chat", content=b"{nope")
    error_of(response, 400, "INVALID_JSON")
    error_of(await served.client.post("/v1/chat", content=b""), 400, "INVALID_REQUEST")
    empty = {"id": "x", "messages": [{"id": "m", "role": "user", "parts": []}]}
    error_of(await served.client.post("/v1/chat", json=empty), 400, "NO_USER_MESSAGE")
    stray = {"id": "x", "messages": [{"id": "nope", "role": "assistant", "parts": []}]}
    error_of(await served.client.post("/v1/chat", json=stray), 400, "NO_USER_MESSAGE")
    error_of(await served.client.get("/v1/chat/ghost/stream"), 404)
    # None of them created the thread.
    error_of(await served.client.get("/v1/threads/x"), 404)
    # On a thread that exists, an assistant message must be one of its runs.
    await post(served.client, body("y", user("hi")))
    stray = {"id": "y", "messages": [{"id": "nope", "role": "assistant", "parts": []}]}
    error_of(await served.client.post("/v1/chat", json=stray), 400, "NO_USER_MESSAGE")


async def test_a_page_on_another_origin_may_chat(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("Hi.")])))
    origin = {"origin": "http://page.example"}
    preflight = await served.client.options(
        "/v1/chat",
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code in (200, 204), preflight.text
    assert preflight.headers["access-control-allow-origin"] in ("*", origin["origin"])
    async with served.client.stream(
        "POST", "/v1/chat", json=body("cors", user("hi")), headers=origin
    ) as response:
        assert response.headers["access-control-allow-origin"] in ("*", origin["origin"])
        assert text_of(await read_chunks(response)) == "Hi."


async def test_a_message_while_a_client_tool_waits_continues_the_run(serve: ServeFactory) -> None:
    model = TestModel([call("pick_color", {"question": "Which?"})])
    served = await serve(registry_for(model))
    first = await post(served.client, body("c7", user("pick a color")))
    assert first[-1]["finishReason"] == "tool-calls"
    assistant = {"id": first[0]["messageId"], "role": "assistant", "parts": []}
    history = (user("pick a color"), assistant, user("forget it", "u2"))
    second = await post(served.client, body("c7", *history))
    check_well_formed(second)
    # The same run goes on, but as a new message: the client keeps the one that asked.
    assert second[0]["messageId"] == f"{first[0]['messageId']}:u2"
    assert second[-1]["finishReason"] == "tool-calls"  # the call still waits
