"""AG-UI's own client (``@ag-ui/client`` from npm, pinned in ``clients/``) running a
thread: a tool the front end offers and runs, and a re-run with unchanged history; its
event verifier checks every event the server sent.

Skipped (or, under ``CI=true``, failed) as ``test_chat_node`` is without Node."""

from __future__ import annotations

from wakeful.agent.models import TestModel
from wakeful.agent.models.test import answer, call

from .conftest import ServeFactory
from .support import messages, run_script
from .test_agui import registry_for


async def test_a_front_end_tool_and_a_rerun(serve: ServeFactory) -> None:
    model = TestModel(
        [call("confirm_color", {"color": "blue"}), answer("Blue, confirmed."), answer("Blue.")]
    )
    served = await serve(registry_for(model))
    found = await run_script("ag-ui.mjs", served.url, "agui-node")
    first, second, _ = found["runs"]
    for run in found["runs"]:
        assert run["events"][0] == "RUN_STARTED" and run["events"][-1] == "RUN_FINISHED"
    # The model was offered the front end's tool, with the front end's schema.
    offered = {spec.name: spec for spec in model.requests[0].tools}["confirm_color"]
    assert offered.parameters["required"] == ["color"]
    assert "TOOL_CALL_START" in first["events"] and "TOOL_CALL_RESULT" not in first["events"]
    assert found["call"]["function"]["name"] == "confirm_color"
    # The tool message answered the waiting call, and the run went on to its answer.
    assert "TOOL_CALL_RESULT" not in second["events"]  # the client has it: it sent it
    (asked,) = [m for m in found["messages"] if m.get("toolCalls")]
    assert [c["function"]["arguments"] for c in asked["toolCalls"]] == ['{"color":"blue"}']
    results = [m for m in found["messages"] if m["role"] == "tool"]
    assert [(m["id"], m["content"]) for m in results] == [("t1", "yes")]
    texts = [m.get("content") for m in found["messages"] if m["role"] == "assistant"]
    assert "Blue, confirmed." in texts and texts[-1] == "Blue."
    # Three runs, and the thread holds the user's message once.
    held = await messages(served.client, "agui-node")
    assert [m["content"] for m in held if m["role"] == "user"] == ["Pick a color."]
    assert [m["id"] for m in held if m["role"] == "user"] == ["u1"]
