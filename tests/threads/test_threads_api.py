"""The threads API over real HTTP: create, send (queued while a run goes), streaming
messages, status and its events, stop, resume, list, get, delete, asynchronous tool
answers, and clear errors for unknown threads and malformed bodies."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from support.waiting import eventually

from wakeful.agent.models import Message, Response, TestModel
from wakeful.agent.models.test import answer, call, fail
from wakeful.agent.tools import tool
from wakeful.client import AsyncClient
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import assistant, error_of, events, messages, rows, run_statuses, thread, wait_status

SLOW_TEXT = "one two three four five six seven eight nine ten"


@tool(kind="async")
def lookup(query: str) -> str:
    """Look something up; the answer comes later from outside."""
    raise AssertionError("an asynchronous tool is never called")


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def registry_for(model: TestModel, **config: Any) -> Registry:
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=model, **config))
    return registry


async def create(served_client: Any, **body: Any) -> dict[str, Any]:
    response = await served_client.post("/v1/threads", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- create ---------------------------------------------------------------------------


async def test_create_without_a_prompt_starts_no_run(serve: ServeFactory) -> None:
    model = TestModel()
    served = await serve(registry_for(model))
    response = await served.client.post(
        "/v1/threads", json={"id": "quiet", "title": "Plans", "metadata": {"owner": "ann", "n": 1}}
    )
    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/v1/threads/quiet"
    created = response.json()
    assert created["id"] == "quiet"
    assert created["url"] == "/thread/quiet"
    assert created["stream"] == "thread/quiet/main"
    assert created["title"] == "Plans"
    assert created["metadata"] == {"owner": "ann", "n": 1}
    assert created["status"] == "completed"  # nothing to do: idle
    await asyncio.sleep(0.2)
    assert await messages(served.client, "quiet") == []
    assert model.requests == []
    assert (await thread(served.client, "quiet"))["status"] == "completed"


async def test_create_with_a_prompt_streams_then_completes(serve: ServeFactory) -> None:
    model = TestModel([Response(text="Hello there, Ann.", delay=0.05)])
    served = await serve(registry_for(model, system="Be brief."))
    created = await create(served.client, prompt="Hi, I am Ann")
    assert created["status"] == "streaming"
    assert created["title"] is None and created["metadata"] == {}
    assert created["id"]  # generated
    await wait_status(served.client, created["id"], "completed")
    found = await messages(served.client, created["id"])
    assert [(m["role"], m["content"], m["status"]) for m in found] == [
        ("user", "Hi, I am Ann", "complete"),
        ("assistant", "Hello there, Ann.", "complete"),
    ]
    assert found[1]["model"] == "test" and found[1]["tool_calls"] == []
    request = model.last_request
    assert request.system == "Be brief."
    assert [(m.role, m.content) for m in request.messages] == [("user", "Hi, I am Ann")]


async def test_a_thread_takes_every_agent_option_build_messages_included(
    serve: ServeFactory,
) -> None:
    def only_the_last(ctx: Context) -> list[Message]:
        return [Message("user", f"{len(ctx.collection('inbox'))} messages so far")]

    model = TestModel([Response(text="Noted.")])
    served = await serve(
        registry_for(model, build_messages=only_the_last, temperature=0.5, max_output_tokens=7)
    )
    created = await create(served.client, prompt="Hi")
    await wait_status(served.client, created["id"], "completed")
    request = model.last_request
    assert [(m.role, m.content) for m in request.messages] == [("user", "1 messages so far")]
    assert (request.system, request.temperature, request.max_tokens) == (
        "You are a helpful assistant.",  # a thread's default system prompt
        0.5,
        7,
    )


async def test_creating_an_existing_thread_is_a_conflict(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel()))
    await create(served.client, id="once")
    error_of(await served.client.post("/v1/threads", json={"id": "once"}), 409)


# -- sending --------------------------------------------------------------------------


async def test_a_message_sent_during_a_run_is_queued_for_the_next_run(
    serve: ServeFactory,
) -> None:
    model = TestModel([Response(text=SLOW_TEXT, delay=0.05), answer("Second answer.")])
    served = await serve(registry_for(model))
    created = await create(served.client, prompt="first", id="queue")

    async def streaming() -> bool:
        return any(m["status"] == "streaming" for m in await messages(served.client, "queue"))

    await eventually(streaming, what="the first answer to stream")
    sent = await served.client.post("/v1/threads/queue/messages", json={"content": "second"})
    assert sent.status_code == 202, sent.text
    message_id = sent.json()["id"]
    assert (await thread(served.client, "queue"))["status"] == "streaming"

    async def two_answers() -> list[dict[str, Any]] | None:
        found = await messages(served.client, "queue")
        done = [m for m in assistant(found) if m["status"] == "complete"]
        return found if len(done) == 2 else None

    found = await eventually(two_answers, what="both answers")
    await wait_status(served.client, "queue", "completed")
    assert [(m["role"], m["content"]) for m in found] == [
        ("user", "first"),
        ("assistant", SLOW_TEXT),
        ("user", "second"),
        ("assistant", "Second answer."),
    ]
    assert found[2]["id"] == message_id
    # The first run was not cut short; the second run saw the whole conversation.
    stream = await events(served.client, created["stream"])
    runs = list(rows(stream, "run").values())
    assert [run["status"] for run in runs] == ["completed", "completed"]
    assert runs[1]["trigger"] == [message_id]
    assert [(m.role, m.content) for m in model.last_request.messages] == [
        ("user", "first"),
        ("assistant", SLOW_TEXT),
        ("user", "second"),
    ]
    assert len(model.requests) == 2


async def test_several_messages_sent_during_a_run_are_all_answered(
    serve: ServeFactory,
) -> None:
    model = TestModel([Response(text=SLOW_TEXT, delay=0.03), answer("Got both.")])
    served = await serve(registry_for(model))
    await create(served.client, prompt="first", id="burst")
    await wait_status(served.client, "burst", "streaming")
    for content in ("second", "third"):
        sent = await served.client.post("/v1/threads/burst/messages", json={"content": content})
        assert sent.status_code == 202, sent.text

    async def answered() -> list[dict[str, Any]] | None:
        found = await messages(served.client, "burst")
        return found if found[-1]["content"] == "Got both." else None

    found = await eventually(answered, what="the answer to the queued messages")
    await wait_status(served.client, "burst", "completed")
    users = [m["content"] for m in found if m["role"] == "user"]
    assert users == ["first", "second", "third"]
    assert [m.content for m in model.last_request.messages if m.role == "user"] == users


async def test_messages_include_the_text_still_streaming(serve: ServeFactory) -> None:
    model = TestModel([Response(text=SLOW_TEXT, delay=0.08)])
    served = await serve(registry_for(model))
    await create(served.client, prompt="count", id="live")
    seen: list[str] = []

    async def partial() -> bool:
        found = assistant(await messages(served.client, "live"))
        if found and found[0]["status"] == "streaming":
            seen.append(found[0]["content"])
            return bool(found[0]["content"]) and found[0]["content"] != SLOW_TEXT
        return False

    await eventually(partial, what="a partial streaming answer")
    partial_text = seen[-1]
    assert SLOW_TEXT.startswith(partial_text)
    assert len(partial_text) < len(SLOW_TEXT)
    assert (await thread(served.client, "live"))["status"] == "streaming"
    await wait_status(served.client, "live", "completed")
    (final,) = assistant(await messages(served.client, "live"))
    assert (final["content"], final["status"]) == (SLOW_TEXT, "complete")
    # What was seen while streaming only ever grew.
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(seen))


async def test_a_message_sent_while_waiting_for_a_tool_result(serve: ServeFactory) -> None:
    model = TestModel(
        [call("lookup", {"query": "q"}), answer("Tool answer."), answer("Queued answer.")]
    )
    served = await serve(registry_for(model, tools=[lookup]))
    await create(served.client, prompt="first", id="waits")
    waiting = await _waiting_call(served.client, "waits")
    sent = await served.client.post("/v1/threads/waits/messages", json={"content": "and this"})
    assert sent.status_code == 202, sent.text
    await asyncio.sleep(0.3)
    assert (await thread(served.client, "waits"))["status"] == "awaiting_tool_results"
    path = f"/v1/threads/waits/tool-calls/{waiting['id']}/result"
    assert (await served.client.post(path, json={"result": "r"})).status_code == 202
    await wait_status(served.client, "waits", "completed", within=3.0)
    found = await messages(served.client, "waits")
    queued = next(i for i, m in enumerate(found) if m["content"] == "and this")
    assert any(m["role"] == "assistant" and m["content"] for m in found[queued + 1 :])


# -- status and its events ------------------------------------------------------------


async def test_each_status_change_is_an_event_on_the_stream(serve: ServeFactory) -> None:
    model = TestModel(
        [
            Response(text="Let me check.", tool_calls=[("lookup", {"query": "tides"})], delay=0.02),
            Response(text="High tide is at noon.", delay=0.02),
            answer("You are welcome."),
        ]
    )
    served = await serve(registry_for(model, tools=[lookup]))
    created = await create(served.client, prompt="When is high tide?", id="tides")
    seen = {created["status"]}
    waiting = await wait_status(served.client, "tides", "awaiting_tool_results")
    seen.add(waiting["status"])
    (message,) = assistant(await messages(served.client, "tides"))
    (waiting_call,) = message["tool_calls"]
    assert (waiting_call["name"], waiting_call["status"], waiting_call["kind"]) == (
        "lookup",
        "awaiting_result",
        "async",
    )
    answered = await served.client.post(
        f"/v1/threads/tides/tool-calls/{waiting_call['id']}/result", json={"result": "noon"}
    )
    assert answered.status_code == 202, answered.text
    seen.add((await wait_status(served.client, "tides", "completed"))["status"])
    assert seen == {"streaming", "awaiting_tool_results", "completed"}

    stream = await events(served.client, created["stream"])
    (statuses,) = run_statuses(stream).values()
    assert statuses == ["running", "awaiting_tool_results", "running", "completed"]
    # Every run event carries the whole run row, so a reader needs no other state.
    for event in stream:
        if event["type"] == "run":
            assert {"id", "status", "model", "started_at"} <= set(event["value"])

    # Followed live, the next run's changes arrive as events too.
    tail = (await thread(served.client, "tides"))["offset"]
    sent = await served.client.post("/v1/threads/tides/messages", json={"content": "thanks"})
    assert sent.status_code == 202
    live: list[str] = []
    offset = tail
    for _ in range(20):
        if live and live[-1] in ("completed", "failed"):
            break
        response = await served.client.get(
            f"/v1/stream/{created['stream']}", params={"offset": offset, "live": "long-poll"}
        )
        assert response.status_code in (200, 204), response.text
        offset = response.headers["Stream-Next-Offset"]
        if response.status_code == 200:
            live += [e["value"]["status"] for e in response.json() if e["type"] == "run"]
    assert live[0] == "running" and live[-1] == "completed"


async def test_status_is_failed_when_the_model_fails(serve: ServeFactory) -> None:
    model = TestModel([fail("the provider is down", retryable=False)])
    served = await serve(registry_for(model))
    created = await create(served.client, prompt="hello", id="broken")
    await wait_status(served.client, "broken", "failed")
    stream = await events(served.client, created["stream"])
    (run,) = rows(stream, "run").values()
    assert run["status"] == "failed"
    assert "the provider is down" in run["error"]
    errors = list(rows(stream, "error").values())
    assert any("the provider is down" in error["message"] for error in errors)


# -- stop and resume ------------------------------------------------------------------


async def test_stop_ends_the_run_aborted_and_the_thread_stopped(serve: ServeFactory) -> None:
    model = TestModel([Response(text=SLOW_TEXT, delay=0.2)])
    served = await serve(registry_for(model))
    created = await create(served.client, prompt="talk slowly", id="halt")

    async def some_text() -> bool:
        found = assistant(await messages(served.client, "halt"))
        return bool(found and found[0]["content"])

    await eventually(some_text, what="some streamed text")
    stopped = await served.client.post("/v1/threads/halt/stop")
    assert stopped.status_code == 202, stopped.text
    await wait_status(served.client, "halt", "stopped")
    stream = await events(served.client, created["stream"])
    (run,) = rows(stream, "run").values()
    assert (run["status"], run["finish_reason"]) == ("aborted", "interrupted")
    (message,) = assistant(await messages(served.client, "halt"))
    assert message["status"] == "superseded"  # the partial text is kept, marked as cut off
    assert SLOW_TEXT.startswith(message["content"]) and message["content"] != SLOW_TEXT
    # Nothing runs any more: stopping again is a conflict.
    error_of(await served.client.post("/v1/threads/halt/stop"), 409, "NOT_RUNNING")


async def test_stop_while_waiting_for_a_tool_result(serve: ServeFactory) -> None:
    model = TestModel([call("lookup", {"query": "x"})])
    served = await serve(registry_for(model, tools=[lookup]))
    created = await create(served.client, prompt="look it up", id="parked")
    await wait_status(served.client, "parked", "awaiting_tool_results")
    stopped = await served.client.post("/v1/threads/parked/stop")
    assert stopped.status_code == 202, stopped.text
    await wait_status(served.client, "parked", "stopped")
    (run,) = rows(await events(served.client, created["stream"]), "run").values()
    assert run["status"] == "aborted"


async def test_stop_a_thread_that_is_not_running_is_a_conflict(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel()))
    await create(served.client, id="idle")
    message = error_of(await served.client.post("/v1/threads/idle/stop"), 409, "NOT_RUNNING")
    assert "completed" in message


async def test_resume_a_stopped_thread(serve: ServeFactory) -> None:
    model = TestModel([Response(text=SLOW_TEXT, delay=0.2), answer("Picking up again.")])
    served = await serve(registry_for(model))
    created = await create(served.client, prompt="go", id="again")
    await wait_status(served.client, "again", "streaming")
    await eventually(lambda: _has_steps(served.client, created["stream"]), what="a step")
    assert (await served.client.post("/v1/threads/again/stop")).status_code == 202
    await wait_status(served.client, "again", "stopped")
    resumed = await served.client.post("/v1/threads/again/resume")
    assert resumed.status_code == 202, resumed.text
    await wait_status(served.client, "again", "completed")
    found = await messages(served.client, "again")
    assert found[-1]["role"] == "assistant"
    assert (found[-1]["content"], found[-1]["status"]) == ("Picking up again.", "complete")
    stream = await events(served.client, created["stream"])
    runs = list(rows(stream, "run").values())
    assert [run["status"] for run in runs] == ["aborted", "completed"]
    assert runs[1]["trigger"] == []  # started by resume, not by a message
    # The resumed run saw the conversation so far (the user's message).
    assert [m.content for m in model.last_request.messages if m.role == "user"] == ["go"]
    # Only stopped or failed threads resume.
    error_of(await served.client.post("/v1/threads/again/resume"), 409, "NOT_RESUMABLE")


async def test_resume_a_thread_whose_run_failed(serve: ServeFactory) -> None:
    model = TestModel([fail("bad request", retryable=False), answer("Recovered.")])
    served = await serve(registry_for(model))
    created = await create(served.client, prompt="try", id="retry")
    await wait_status(served.client, "retry", "failed")
    assert (await served.client.post("/v1/threads/retry/resume")).status_code == 202
    await wait_status(served.client, "retry", "completed")
    found = await messages(served.client, "retry")
    assert [(m["role"], m["content"]) for m in found if m["content"]] == [
        ("user", "try"),
        ("assistant", "Recovered."),
    ]
    runs = list(rows(await events(served.client, created["stream"]), "run").values())
    assert [run["status"] for run in runs] == ["failed", "completed"]


async def test_resume_a_thread_whose_handler_failed(serve: ServeFactory) -> None:
    """A bug (not a model error) fails the entity after its retries; resume clears that
    and continues the conversation."""
    broken = {"on": True}

    def respond(request: Any) -> Response:
        if broken["on"]:
            raise RuntimeError("a bug in the handler")
        return answer("Fixed now.")

    registry = Registry()
    thread_type = define_thread(registry, config=ThreadConfig(model=TestModel(_forever(respond))))
    thread_type.retry_seconds = 0.05
    served = await serve(registry)
    await create(served.client, prompt="hello", id="crashy")
    await wait_status(served.client, "crashy", "failed")
    entity = (await served.client.get("/v1/entities/thread/crashy")).json()
    assert entity["status"] == "failed"
    broken["on"] = False
    assert (await served.client.post("/v1/threads/crashy/resume")).status_code == 202
    await wait_status(served.client, "crashy", "completed")
    found = await messages(served.client, "crashy")
    assert found[-1]["content"] == "Fixed now."
    entity = (await served.client.get("/v1/entities/thread/crashy")).json()
    assert entity["status"] == "idle"


def _forever(respond: Any) -> Any:
    while True:
        yield respond


async def _has_steps(client: Any, stream: str) -> bool:
    return bool(rows(await events(client, stream), "step"))


# -- list, get, delete ------------------------------------------------------------------


async def test_list_threads_page_by_page(serve: ServeFactory) -> None:
    registry = registry_for(TestModel())

    @registry.entity("note")
    async def note(ctx: Context, wake: Wake) -> None:
        return None

    served = await serve(registry)
    ids = [f"t{index}" for index in range(5)]
    for thread_id in reversed(ids):
        await create(served.client, id=thread_id, title=f"title {thread_id}")
    spawned = await served.client.post("/v1/entities/note", json={"id": "not-a-thread"})
    assert spawned.status_code == 201

    seen: list[str] = []
    pages: list[int] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if after is not None:
            params["after"] = after
        response = await served.client.get("/v1/threads", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        pages.append(len(page["threads"]))
        seen += [item["id"] for item in page["threads"]]
        for item in page["threads"]:
            assert item["title"] == f"title {item['id']}"
            assert item["status"] == "completed"
        after = page["next"]
        if after is None:
            break
        assert after == page["threads"][-1]["id"]
    assert sorted(seen) == ids  # every thread once, no other entity
    assert len(seen) == len(set(seen))
    assert pages == [2, 2, 1]
    everything = (await served.client.get("/v1/threads")).json()
    assert [item["id"] for item in everything["threads"]] == seen
    assert everything["next"] is None
    for limit in ("0", "501", "many"):
        error_of(await served.client.get("/v1/threads", params={"limit": limit}), 400)
    # The Python client pages through them the same way.
    async with AsyncClient(served.url) as client:
        assert [found.id async for found in client.threads(page_size=2)] == seen


async def test_get_and_delete(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("Hi.")])))
    created = await create(served.client, prompt="hello", id="gone", title="Soon gone")
    await wait_status(served.client, "gone", "completed")
    got = await thread(served.client, "gone")
    assert {key: got[key] for key in ("id", "url", "title", "stream")} == {
        "id": "gone",
        "url": "/thread/gone",
        "title": "Soon gone",
        "stream": created["stream"],
    }
    deleted = await served.client.delete("/v1/threads/gone")
    assert deleted.status_code == 204, deleted.text
    error_of(await served.client.get("/v1/threads/gone"), 404, "UNKNOWN_THREAD")
    error_of(await served.client.get("/v1/threads/gone/messages"), 404)
    error_of(await served.client.delete("/v1/threads/gone"), 404)
    listed = (await served.client.get("/v1/threads")).json()
    assert "gone" not in [item["id"] for item in listed["threads"]]
    error_of(await served.client.get(f"/v1/stream/{created['stream']}"), 404)


UNKNOWN_THREAD_REQUESTS = [
    ("GET", "/v1/threads/nope", None),
    ("GET", "/v1/threads/nope/messages", None),
    ("POST", "/v1/threads/nope/messages", {"content": "hello?"}),
    ("POST", "/v1/threads/nope/stop", None),
    ("POST", "/v1/threads/nope/resume", None),
    ("DELETE", "/v1/threads/nope", None),
    ("POST", "/v1/threads/nope/tool-calls/c1/result", {"result": 1}),
    ("POST", "/v1/threads/nope/tool-calls/c1/error", {"error": "no"}),
]


async def test_unknown_thread_is_404_everywhere(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel()))
    for method, path, body in UNKNOWN_THREAD_REQUESTS:
        response = await served.client.request(method, path, json=body)
        message = error_of(response, 404)
        assert "nope" in message, (method, path, message)
    # Nothing was created along the way.
    assert (await served.client.get("/v1/threads")).json()["threads"] == []


# -- asynchronous tools ----------------------------------------------------------------


async def _waiting_call(client: Any, thread_id: str) -> dict[str, Any]:
    await wait_status(client, thread_id, "awaiting_tool_results")
    calls = [c for m in assistant(await messages(client, thread_id)) for c in m["tool_calls"]]
    (waiting,) = [c for c in calls if c["status"] == "awaiting_result"]
    return waiting


async def test_tool_result_for_an_asynchronous_tool(serve: ServeFactory) -> None:
    model = TestModel([call("lookup", {"query": "capital of France"}), answer("It is Paris.")])
    served = await serve(registry_for(model, tools=[lookup]))
    await create(served.client, prompt="capital of France?", id="asks")
    waiting = await _waiting_call(served.client, "asks")
    assert waiting["args"] == {"query": "capital of France"}
    path = f"/v1/threads/asks/tool-calls/{waiting['id']}"
    result = {"city": "Paris", "population": 2_100_000}
    response = await served.client.post(f"{path}/result", json={"result": result})
    assert response.status_code == 202, response.text
    await wait_status(served.client, "asks", "completed")
    calls = [c for m in assistant(await messages(served.client, "asks")) for c in m["tool_calls"]]
    (done,) = calls
    assert (done["status"], done["result"], done["error"]) == ("completed", result, None)
    (tool_message,) = [m for m in model.last_request.messages if m.role == "tool"]
    assert "Paris" in tool_message.content and not tool_message.is_error
    assert (await messages(served.client, "asks"))[-1]["content"] == "It is Paris."
    # The first answer wins; any later one is refused.
    error_of(await served.client.post(f"{path}/result", json={"result": 2}), 409)
    error_of(await served.client.post(f"{path}/error", json={"error": "late"}), 409)


async def test_tool_error_for_an_asynchronous_tool(serve: ServeFactory) -> None:
    model = TestModel([call("lookup", {"query": "q"}), answer("The lookup failed, sorry.")])
    served = await serve(registry_for(model, tools=[lookup]))
    await create(served.client, prompt="look", id="fails")
    waiting = await _waiting_call(served.client, "fails")
    path = f"/v1/threads/fails/tool-calls/{waiting['id']}"
    response = await served.client.post(f"{path}/error", json={"error": "service unavailable"})
    assert response.status_code == 202, response.text
    await wait_status(served.client, "fails", "completed")
    calls = [c for m in assistant(await messages(served.client, "fails")) for c in m["tool_calls"]]
    assert (calls[0]["status"], calls[0]["error"]) == ("failed", "service unavailable")
    (tool_message,) = [m for m in model.last_request.messages if m.role == "tool"]
    assert tool_message.is_error and "service unavailable" in tool_message.content
    error_of(await served.client.post(f"{path}/error", json={"error": "again"}), 409)
    error_of(await served.client.post(f"{path}/result", json={"result": "late"}), 409)


async def test_answers_to_calls_that_take_none(serve: ServeFactory) -> None:
    model = TestModel([call("add", {"a": 1, "b": 2}), call("lookup", {"query": "q"})])
    served = await serve(registry_for(model, tools=[add, lookup]))
    await create(served.client, prompt="add", id="answers")
    waiting = await _waiting_call(served.client, "answers")
    calls = [
        c for m in assistant(await messages(served.client, "answers")) for c in m["tool_calls"]
    ]
    plain = next(c for c in calls if c["name"] == "add")
    assert (plain["status"], plain["result"]) == ("completed", 3)
    base = "/v1/threads/answers/tool-calls"
    # A tool that runs by itself takes no answer; an unknown call is not found.
    error_of(await served.client.post(f"{base}/{plain['id']}/result", json={"result": 4}), 400)
    error_of(await served.client.post(f"{base}/missing/result", json={"result": 4}), 404)
    # The waiting call is still waiting and still takes its answer.
    assert (await thread(served.client, "answers"))["status"] == "awaiting_tool_results"
    response = await served.client.post(f"{base}/{waiting['id']}/result", json={"result": None})
    assert response.status_code == 202, response.text


# -- malformed bodies ------------------------------------------------------------------

MALFORMED = [
    ("/v1/threads", b"{not json"),
    ("/v1/threads", b"[1, 2]"),
    ("/v1/threads", b'{"prompt": 5}'),
    ("/v1/threads", b'{"metadata": "not an object"}'),
    ("/v1/threads", b'{"title": "' + b"x" * 201 + b'"}'),
    ("/v1/threads", b'{"id": "' + b"x" * 129 + b'"}'),
    ("/v1/threads", b'{"id": "a/b"}'),
    ("/v1/threads/body/messages", b"{}"),
    ("/v1/threads/body/messages", b'{"content": ""}'),
    ("/v1/threads/body/messages", b'{"content": ["a"]}'),
    ("/v1/threads/body/messages", b"content=hello"),
    ("/v1/threads/body/messages", b""),
    ("/v1/threads/body/tool-calls/c1/result", b"{}"),
    ("/v1/threads/body/tool-calls/c1/error", b'{"error": ""}'),
    ("/v1/threads/body/tool-calls/c1/error", b'{"error": 5}'),
]


async def test_malformed_bodies_are_400_with_the_json_error_shape(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel()))
    await create(served.client, id="body")
    for path, body in MALFORMED:
        response = await served.client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 400, (path, body, response.status_code, response.text)
        error_of(response, 400)
    # Nothing was sent or created by the refused request.
    assert await messages(served.client, "body") == []
    listed = (await served.client.get("/v1/threads")).json()["threads"]
    assert [item["id"] for item in listed] == ["body"]
