"""AG-UI's own client (``@ag-ui/client`` from npm, pinned in ``clients/``) running a
thread: a tool the front end offers and runs, the thread's state kept by snapshots and
deltas, and a re-run with unchanged history; its event verifier checks every event the
server sent.

Skipped (or, under ``CI=true``, failed) as ``test_chat_node`` is without Node."""

from __future__ import annotations

from wakeful.agent.models import Response, TestModel
from wakeful.agent.models.test import answer, call

from .conftest import ServeFactory
from .support import messages, run_script
from .test_agui import registry_for


async def test_a_front_end_tool_and_a_rerun(serve: ServeFactory) -> None:
    asks = Response(
        tool_calls=[("remember", {"text": "likes blue"}), ("confirm_color", {"color": "blue"})]
    )
    model = TestModel([asks, answer("Blue, confirmed."), answer("Blue.")])
    served = await serve(registry_for(model))
    found = await run_script("ag-ui.mjs", "tools", served.url, "agui-node")
    first, second, _ = found["runs"]
    for run in found["runs"]:
        assert run["events"][0] == "RUN_STARTED" and run["events"][-1] == "RUN_FINISHED"
    # The model was offered the front end's tool, with the front end's schema.
    offered = {spec.name: spec for spec in model.requests[0].tools}["confirm_color"]
    assert offered.parameters["required"] == ["color"]
    # Two calls; only the thread's own tool has a result when the run stops to wait.
    assert first["events"].count("TOOL_CALL_START") == 2
    assert first["events"].count("TOOL_CALL_RESULT") == 1
    assert found["call"]["function"]["name"] == "confirm_color"
    # The tool message answered the waiting call, and the run went on to its answer.
    assert "TOOL_CALL_RESULT" not in second["events"]  # the client has it: it sent it
    (asked,) = [m for m in found["messages"] if m.get("toolCalls")]
    arguments = [c["function"]["arguments"] for c in asked["toolCalls"]]
    assert arguments == ['{"text":"likes blue"}', '{"color":"blue"}']
    results = [m["content"] for m in found["messages"] if m["role"] == "tool"]
    assert results == ["noted", "yes"]
    texts = [m.get("content") for m in found["messages"] if m["role"] == "assistant"]
    assert "Blue, confirmed." in texts and texts[-1] == "Blue."
    # Three runs, and the thread holds the user's message once.
    held = await messages(served.client, "agui-node")
    assert [m["content"] for m in held if m["role"] == "user"] == ["Pick a color."]
    assert [m["id"] for m in held if m["role"] == "user"] == ["u1"]
    # The thread's state, as the client's own patches built it.
    assert found["state"] == {"notes": {"note/1": {"id": "note/1", "text": "likes blue"}}}
    assert "STATE_DELTA" in first["events"]


async def test_an_approval_as_an_interrupt_resolved_by_resume(serve: ServeFactory) -> None:
    model = TestModel([call("delete_file", {"path": "a.txt"}), answer("Deleted.")])
    served = await serve(registry_for(model))
    found = await run_script("ag-ui.mjs", "approval", served.url, "agui-approval")
    asked, resumed = found["runs"]
    (interrupt,) = found["pending"]
    assert interrupt["reason"] == "tool_approval"
    assert asked["outcome"] == {"type": "interrupt", "interrupts": [interrupt]}
    assert interrupt["toolCallId"] == interrupt["id"]
    assert resumed["outcome"] == {"type": "success"} and found["left"] == []
    results = [m["content"] for m in found["messages"] if m["role"] == "tool"]
    assert results == ["deleted a.txt"]
    assert [m.get("content") for m in found["messages"]][-1] == "Deleted."
