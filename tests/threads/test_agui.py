"""A thread served as an AG-UI agent: a ``RunAgentInput`` posted as an AG-UI front end
sends it (camelCase JSON) gets the run's events over SSE, parsed here with the protocol's
own event models."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from ag_ui.core import Event, EventType
from pydantic import BaseModel, TypeAdapter
from support.waiting import eventually

from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.test import answer, call, fail
from wakeful.agent.tools import ToolContext, tool
from wakeful.entities.definition import Registry
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import error_of, get_weather, messages, thread, wait_status

EVENTS: TypeAdapter[Any] = TypeAdapter(Event)


@tool(kind="async")
def lookup(query: str) -> str:
    """Answered later, from outside."""
    raise AssertionError("never called")


class Note(BaseModel):
    id: str
    text: str


@tool
def remember(text: str, context: ToolContext) -> str:
    """Keep a note in the thread's state."""
    context.ctx.state.notes.upsert({"id": f"note/{len(context.ctx.state.notes) + 1}", "text": text})
    return "noted"


@tool(kind="approval")
def delete_file(path: str) -> str:
    """Deletes a file, once a person approved it."""
    return f"deleted {path}"


def registry_for(model: TestModel) -> Registry:
    registry = Registry()
    config = ThreadConfig(model=model, tools=[get_weather, lookup, remember, delete_file])
    define_thread(registry, config=config, state={"notes": Note})
    return registry


def run_input(*messages: dict[str, Any], thread_id: str = "t", run_id: str = "run-1") -> Any:
    """A RunAgentInput as a front end sends it."""
    return {
        "threadId": thread_id,
        "runId": run_id,
        "state": {},
        "messages": list(messages),
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }


def user(content: Any, id: str = "m1") -> dict[str, Any]:
    return {"id": id, "role": "user", "content": content}


async def post_run(
    client: httpx.AsyncClient, thread_id: str, body: Any, *, on_event: Any = None
) -> list[Any]:
    """POST the input and read the SSE answer to its end, as parsed AG-UI events."""
    found: list[Any] = []
    async with client.stream(
        "POST",
        f"/v1/threads/{thread_id}/agui",
        json=body,
        headers={"accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if not line.startswith("data:"):
                assert line == "" or line.startswith(":"), line
                continue
            event = EVENTS.validate_python(json.loads(line[len("data:") :]))
            found.append(event)
            if on_event is not None:
                await on_event(event)
    return found


def types(found: list[Any]) -> list[EventType]:
    return [event.type for event in found]


def check_well_formed(
    found: list[Any], known_calls: set[str] | frozenset[str] = frozenset()
) -> None:
    """Starts and ends pair up, in order: what an AG-UI client's verifier insists on
    (a result may also name a call of an earlier run: ``known_calls``)."""
    kinds = types(found)
    assert kinds[0] == EventType.RUN_STARTED
    assert kinds[-1] in (EventType.RUN_FINISHED, EventType.RUN_ERROR)
    assert kinds.count(EventType.RUN_STARTED) == 1
    assert kinds.count(EventType.RUN_FINISHED) + kinds.count(EventType.RUN_ERROR) == 1
    open_texts: set[str] = set()
    open_calls: set[str] = set()
    ended_calls: set[str] = set(known_calls)
    open_steps: set[str] = set()
    for event in found:
        if event.type == EventType.TEXT_MESSAGE_START:
            assert event.message_id not in open_texts
            open_texts.add(event.message_id)
        elif event.type == EventType.TEXT_MESSAGE_CONTENT:
            assert event.message_id in open_texts
        elif event.type == EventType.TEXT_MESSAGE_END:
            open_texts.remove(event.message_id)
        elif event.type == EventType.TOOL_CALL_START:
            open_calls.add(event.tool_call_id)
        elif event.type == EventType.TOOL_CALL_ARGS:
            assert event.tool_call_id in open_calls
        elif event.type == EventType.TOOL_CALL_END:
            open_calls.remove(event.tool_call_id)
            ended_calls.add(event.tool_call_id)
        elif event.type == EventType.TOOL_CALL_RESULT:
            assert event.tool_call_id in ended_calls
        elif event.type == EventType.STEP_STARTED:
            open_steps.add(event.step_name)
        elif event.type == EventType.STEP_FINISHED:
            open_steps.remove(event.step_name)
    assert not open_texts and not open_calls
    if kinds[-1] == EventType.RUN_FINISHED:
        assert not open_steps


async def test_a_run_with_a_tool_call_and_streamed_text(serve: ServeFactory) -> None:
    model = TestModel(
        [
            Response(text="Let me look.", tool_calls=[("get_weather", {"city": "Paris"})]),
            Response(text="It is sunny in Paris today.", delay=0.05),
        ]
    )
    served = await serve(registry_for(model))
    statuses_while_streaming: list[str] = []

    async def on_event(event: Any) -> None:
        if event.type == EventType.TEXT_MESSAGE_CONTENT and not statuses_while_streaming:
            statuses_while_streaming.append((await thread(served.client, "agui"))["status"])

    await served.client.post("/v1/threads", json={"id": "agui"})
    body = run_input(user("What is the weather in Paris?"), thread_id="agui", run_id="r-7")
    found = await post_run(served.client, "agui", body, on_event=on_event)
    check_well_formed(found)
    kinds = types(found)
    assert kinds[-1] == EventType.RUN_FINISHED
    started, finished = found[0], found[-1]
    assert (started.thread_id, started.run_id) == ("agui", "r-7")
    assert (finished.thread_id, finished.run_id) == ("agui", "r-7")
    # The events arrive while the run goes, not after it.
    assert statuses_while_streaming == ["streaming"]

    # The tool call: start, arguments, end, then its result.
    (call_start,) = [e for e in found if e.type == EventType.TOOL_CALL_START]
    assert call_start.tool_call_name == "get_weather"
    call_id = call_start.tool_call_id
    args = "".join(e.delta for e in found if e.type == EventType.TOOL_CALL_ARGS)
    assert json.loads(args) == {"city": "Paris"}
    (result,) = [e for e in found if e.type == EventType.TOOL_CALL_RESULT]
    assert result.tool_call_id == call_id and result.content == "sunny in Paris"
    order = [
        kinds.index(EventType.TOOL_CALL_START),
        kinds.index(EventType.TOOL_CALL_ARGS),
        kinds.index(EventType.TOOL_CALL_END),
        kinds.index(EventType.TOOL_CALL_RESULT),
    ]
    assert order == sorted(order)

    # Two assistant messages (one per step), each streamed between its start and end.
    starts = [e for e in found if e.type == EventType.TEXT_MESSAGE_START]
    assert len(starts) == 2 and all(e.role == "assistant" for e in starts)
    texts = {
        start.message_id: "".join(
            e.delta
            for e in found
            if e.type == EventType.TEXT_MESSAGE_CONTENT and e.message_id == start.message_id
        )
        for start in starts
    }
    assert list(texts.values()) == ["Let me look.", "It is sunny in Paris today."]
    second = starts[1].message_id
    contents = [
        i
        for i, e in enumerate(found)
        if e.type == EventType.TEXT_MESSAGE_CONTENT and e.message_id == second
    ]
    assert len(contents) >= 2  # streamed in pieces
    assert kinds.index(EventType.TOOL_CALL_RESULT) < found.index(starts[1])
    # Steps bracket their content.
    step_starts = [e.step_name for e in found if e.type == EventType.STEP_STARTED]
    step_ends = [e.step_name for e in found if e.type == EventType.STEP_FINISHED]
    assert step_starts == step_ends and len(step_starts) == 2

    # The thread has the same conversation, as the threads API shows it.
    found_messages = await messages(served.client, "agui")
    assert [m["content"] for m in found_messages] == [
        "What is the weather in Paris?",
        "Let me look.",
        "It is sunny in Paris today.",
    ]


async def test_a_failing_run_ends_with_run_error(serve: ServeFactory) -> None:
    model = TestModel(
        [
            Response(
                text="Starting to",
                error=fail("the provider refused", retryable=False).error,
            )
        ]
    )
    served = await serve(registry_for(model))
    found = await post_run(served.client, "oops", run_input(user("hello"), thread_id="oops"))
    check_well_formed(found)
    kinds = types(found)
    assert kinds[-1] == EventType.RUN_ERROR
    assert EventType.RUN_FINISHED not in kinds
    assert "the provider refused" in found[-1].message
    assert found[-1].code == "RUN_FAILED"
    await wait_status(served.client, "oops", "failed")


async def test_missing_thread_is_created(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("Welcome!")])))
    error_of(await served.client.get("/v1/threads/newcomer"), 404)
    found = await post_run(
        served.client, "newcomer", run_input(user("first contact"), thread_id="newcomer")
    )
    check_well_formed(found)
    assert types(found)[-1] == EventType.RUN_FINISHED
    created = await thread(served.client, "newcomer")
    assert created["status"] == "completed"
    assert [m["content"] for m in await messages(served.client, "newcomer")] == [
        "first contact",
        "Welcome!",
    ]


async def test_a_later_turn_sends_only_the_newest_user_message(serve: ServeFactory) -> None:
    model = TestModel([answer("One."), answer("Two.")])
    served = await serve(registry_for(model))
    first = await post_run(served.client, "turns", run_input(user("count", "u1"), run_id="r1"))
    assert types(first)[-1] == EventType.RUN_FINISHED
    history = [
        user("count", "u1"),
        {"id": "a1", "role": "assistant", "content": "One."},
        user([{"type": "text", "text": "and "}, {"type": "text", "text": "again"}], "u2"),
    ]
    second = await post_run(served.client, "turns", run_input(*history, run_id="r2"))
    check_well_formed(second)
    assert second[0].run_id == "r2"
    text = "".join(e.delta for e in second if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text == "Two."  # only this run's events
    assert [m["content"] for m in await messages(served.client, "turns")] == [
        "count",
        "One.",
        "and again",
        "Two.",
    ]


@pytest.mark.parametrize("earlier", ["queued", "running"])
async def test_events_follow_the_run_of_this_message(serve: ServeFactory, earlier: str) -> None:
    """An earlier message's run (still queued, or running) is not this input's run."""
    model = TestModel([Response(text="a slow first answer", delay=0.1), answer("Second.")])
    served = await serve(registry_for(model))
    await served.client.post("/v1/threads", json={"id": "busy", "prompt": "first"})
    if earlier == "running":

        async def streaming() -> bool:
            found = await messages(served.client, "busy")
            return any(m["status"] == "streaming" for m in found)

        await eventually(streaming, what="the first answer to stream")
    found = await post_run(served.client, "busy", run_input(user("second"), thread_id="busy"))
    check_well_formed(found)
    text = "".join(e.delta for e in found if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text == "Second."
    await wait_status(served.client, "busy", "completed")
    # The first answer is listed where its step first appeared: before or after "second".
    contents = [m["content"] for m in await messages(served.client, "busy")]
    assert contents[0] == "first"
    assert sorted(contents[1:3]) == ["a slow first answer", "second"]
    assert contents[3:] == ["Second."]


async def test_a_run_waiting_for_a_tool_result_finishes_the_stream(serve: ServeFactory) -> None:
    model = TestModel([call("lookup", {"query": "q"})])
    served = await serve(registry_for(model))
    found = await post_run(served.client, "waits", run_input(user("look it up")))
    check_well_formed(found)
    assert types(found)[-1] == EventType.RUN_FINISHED
    assert EventType.TOOL_CALL_RESULT not in types(found)
    assert (await thread(served.client, "waits"))["status"] == "awaiting_tool_results"


async def test_a_message_while_a_run_waits_for_a_tool_result(serve: ServeFactory) -> None:
    model = TestModel([call("lookup", {"query": "q"}), answer("Looked up."), answer("Hi.")])
    served = await serve(registry_for(model))
    first = await post_run(served.client, "parked", run_input(user("look it up")))
    assert types(first)[-1] == EventType.RUN_FINISHED
    (started,) = [e for e in first if e.type == EventType.TOOL_CALL_START]
    second = asyncio.create_task(
        post_run(served.client, "parked", run_input(user("and hello", "m2"), run_id="r2"))
    )
    await asyncio.sleep(0.3)
    path = f"/v1/threads/parked/tool-calls/{started.tool_call_id}/result"
    assert (await served.client.post(path, json={"result": "found"})).status_code == 202
    found = await asyncio.wait_for(second, 3.0)
    check_well_formed(found)
    assert types(found)[-1] == EventType.RUN_FINISHED


async def test_bad_inputs_are_400(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel()))
    path = "/v1/threads/bad/agui"
    no_user = run_input(
        {"id": "s", "role": "system", "content": "be nice"},
        {"id": "a", "role": "assistant", "content": "hello"},
    )
    error_of(await served.client.post(path, json=no_user), 400, "NO_USER_MESSAGE")
    error_of(await served.client.post(path, json=run_input()), 400, "NO_USER_MESSAGE")
    invalid: list[Any] = [
        {"runId": "r", "messages": [user("hi")]},  # no threadId
        {"threadId": "t", "runId": "r", "messages": "hi"},
        {"threadId": "t", "runId": "r", "messages": [{"role": "user"}]},
        {"threadId": "t", "runId": "r", "messages": [{"id": "m", "role": "robot"}]},
        [1, 2],
    ]
    for body in invalid:
        error_of(await served.client.post(path, json=body), 400, "INVALID_REQUEST")
    for raw, code in ((b"{not json", "INVALID_JSON"), (b"", "INVALID_REQUEST")):
        response = await served.client.post(
            path, content=raw, headers={"content-type": "application/json"}
        )
        error_of(response, 400, code)
    # None of them created the thread.
    error_of(await served.client.get("/v1/threads/bad"), 404)


async def test_history_posted_again_adds_nothing(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([answer("One."), answer("One, again.")])))
    first = await post_run(
        served.client, "again", run_input(user("count", "u1"), thread_id="again")
    )
    assert types(first)[-1] == EventType.RUN_FINISHED
    history = [user("count", "u1"), {"id": "a1", "role": "assistant", "content": "One."}]
    # The same history again (a retry, a regenerate): no message is added; a new run
    # answers the same question.
    second = await post_run(served.client, "again", run_input(*history[:1], run_id="r2"))
    check_well_formed(second)
    text = "".join(e.delta for e in second if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text == "One, again."
    found = await messages(served.client, "again")
    assert [m["content"] for m in found if m["role"] == "user"] == ["count"]
    assert found[0]["id"] == "u1"  # the client's id is the thread's


async def test_front_end_tools_are_offered_and_answered(serve: ServeFactory) -> None:
    model = TestModel([call("confirm_color", {"color": "blue"}), answer("Blue, confirmed.")])
    served = await serve(registry_for(model))
    schema = {"type": "object", "properties": {"color": {"type": "string"}}}
    offered = {"name": "confirm_color", "description": "Ask the user.", "parameters": schema}
    body = {**run_input(user("pick", "u1"), thread_id="fe"), "tools": [offered]}
    first = await post_run(served.client, "fe", body)
    check_well_formed(first)
    specs = {spec.name: spec for spec in model.requests[0].tools}
    assert specs["confirm_color"].parameters == schema and "get_weather" in specs
    (started,) = [e for e in first if e.type == EventType.TOOL_CALL_START]
    assert started.tool_call_name == "confirm_color"
    assert EventType.TOOL_CALL_RESULT not in types(first)
    await wait_status(served.client, "fe", "awaiting_tool_results")
    # The front end ran it: its result comes back as a tool message in the next input.
    history = [
        user("pick", "u1"),
        {
            "id": "a1",
            "role": "assistant",
            "toolCalls": [
                {
                    "id": started.tool_call_id,
                    "type": "function",
                    "function": {"name": "confirm_color", "arguments": '{"color": "blue"}'},
                }
            ],
        },
        {"id": "t1", "role": "tool", "toolCallId": started.tool_call_id, "content": "yes"},
    ]
    second = await post_run(
        served.client, "fe", {**run_input(*history, run_id="r2"), "tools": [offered]}
    )
    check_well_formed(second)
    # The client has the call and its result already: neither is sent again.
    assert EventType.TOOL_CALL_START not in types(second)
    assert EventType.TOOL_CALL_RESULT not in types(second)
    text = "".join(e.delta for e in second if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text == "Blue, confirmed."
    assert [m["content"] for m in await messages(served.client, "fe") if m["role"] == "user"] == [
        "pick"
    ]


async def test_the_threads_state_as_a_snapshot_then_deltas(serve: ServeFactory) -> None:
    model = TestModel(
        [call("remember", {"text": "milk"}), call("remember", {"text": "eggs"}), answer("Noted.")]
    )
    served = await serve(registry_for(model))
    found = await post_run(served.client, "notes", run_input(user("remember milk, eggs")))
    check_well_formed(found)
    assert types(found)[:2] == [EventType.RUN_STARTED, EventType.STATE_SNAPSHOT]
    assert found[1].snapshot == {"notes": {}}
    deltas = [op.model_dump() for e in found if e.type == EventType.STATE_DELTA for op in e.delta]
    assert deltas == [
        {"op": "add", "path": "/notes/note~11", "value": {"id": "note/1", "text": "milk"}},
        {"op": "add", "path": "/notes/note~12", "value": {"id": "note/2", "text": "eggs"}},
    ]
    # The next run starts from the state as it is.
    model_next = await post_run(served.client, "notes", run_input(user("hi", "m2"), run_id="r2"))
    assert model_next[1].snapshot == {
        "notes": {
            "note/1": {"id": "note/1", "text": "milk"},
            "note/2": {"id": "note/2", "text": "eggs"},
        }
    }


async def test_an_approval_is_an_interrupt_and_resume_answers_it(serve: ServeFactory) -> None:
    model = TestModel([call("delete_file", {"path": "a.txt"}), answer("Deleted.")])
    served = await serve(registry_for(model))
    first = await post_run(served.client, "ask", run_input(user("delete a.txt"), thread_id="ask"))
    check_well_formed(first)
    outcome = first[-1].outcome
    assert outcome.type == "interrupt"
    (interrupt,) = outcome.interrupts
    assert interrupt.reason == "tool_approval" and interrupt.tool_call_id == interrupt.id
    # A denial: the run goes on without running the tool.
    resume = [{"interruptId": interrupt.id, "status": "resolved", "payload": {"approved": False}}]
    second = await post_run(
        served.client, "ask", {**run_input(user("delete a.txt"), run_id="r2"), "resume": resume}
    )
    check_well_formed(second, {interrupt.id})
    assert second[-1].outcome.type == "success"
    (result,) = [e for e in second if e.type == EventType.TOOL_CALL_RESULT]
    assert "denied" in result.content
    text = "".join(e.delta for e in second if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text == "Deleted."  # what the scripted model says, whatever happened


async def test_a_front_end_call_left_waiting_is_named_in_the_outcome(serve: ServeFactory) -> None:
    served = await serve(registry_for(TestModel([call("lookup", {"query": "q"})])))
    found = await post_run(served.client, "pend", run_input(user("look"), thread_id="pend"))
    (started,) = [e for e in found if e.type == EventType.TOOL_CALL_START]
    assert found[-1].outcome.type == "success"
    assert found[-1].outcome.pending_tool_call_ids == [started.tool_call_id]
