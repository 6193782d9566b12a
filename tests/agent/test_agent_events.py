"""The fields of the agent's events, as readers of the stream (and Electric's built-in
collections) expect them: status, finish reason, model, duration, tokens, tool name,
args, result, error."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from support.fakes import FakeToolCall, HTTPError, Reply
from support.waiting import of_type

from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry

from .support import Provider, agent_type


@tool
def divide(a: float, b: float) -> float:
    """Divide a by b."""
    return a / b


def final(events: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for event in of_type(events, kind):
        rows[event["key"]] = event["value"]
    return rows


def timestamp(value: Any) -> datetime:
    assert isinstance(value, str)
    return datetime.fromisoformat(value)


async def test_run_step_text_and_tool_call_fields(provider: Provider, agent_app) -> None:
    provider.script(
        Reply(
            text="Dividing.",
            tool_calls=[
                FakeToolCall("divide", {"a": 1, "b": 4}, id="c_ok"),
                FakeToolCall("divide", {"a": 1, "b": 0}, id="c_err"),
            ],
            usage=(30, 9),
        ),
        Reply(text="A quarter; the other is undefined.", usage=(50, 11)),
    )
    registry = Registry()
    agent_type(registry, "bot", provider.model(), tools=[divide])
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="1/4 and 1/0?")
    await app.wait_run(url)
    events = await app.events(url)

    (run,) = final(events, "run").values()
    model = "openai:gpt-test" if provider.name == "openai" else "anthropic:claude-test"
    assert run["status"] == "completed"
    assert run["finish_reason"] == "completed"
    assert run["model"] == model
    assert run["steps"] == 2
    assert (run["input_tokens"], run["output_tokens"]) == (80, 20)
    assert run["text"] == "A quarter; the other is undefined."
    assert run["error"] is None
    assert timestamp(run["started_at"]) <= timestamp(run["finished_at"])
    assert isinstance(run["duration_ms"], int) and run["duration_ms"] >= 0
    assert run["trigger"] == [of_type(events, "inbox")[0]["key"]]
    # The run is inserted once and updated after that.
    operations = [e["headers"]["operation"] for e in of_type(events, "run")]
    assert operations[0] == "insert" and set(operations[1:]) == {"update"}

    steps = final(events, "step")
    assert list(steps) == [f"{run['id']}:0", f"{run['id']}:1"]
    first, second = steps.values()
    assert first["status"] == second["status"] == "completed"
    assert (first["index"], second["index"]) == (0, 1)
    assert first["run_id"] == run["id"] and first["model"] == model
    assert (first["finish_reason"], second["finish_reason"]) == ("tool_calls", "stop")
    assert (first["input_tokens"], first["output_tokens"]) == (30, 9)
    assert (second["input_tokens"], second["output_tokens"]) == (50, 11)
    assert (first["tool_calls"], second["tool_calls"]) == (2, 0)
    assert isinstance(first["duration_ms"], int)
    timestamp(first["started_at"])

    texts = final(events, "text")
    assert texts[first["id"]] == {
        "id": first["id"],
        "run_id": run["id"],
        "step_id": first["id"],
        "text": "Dividing.",
        "status": "completed",
    }
    assert texts[second["id"]]["text"] == "A quarter; the other is undefined."

    calls = final(events, "tool_call")
    ok, err = calls["c_ok"], calls["c_err"]
    for call in (ok, err):
        assert call["name"] == "divide"
        assert call["kind"] == "call"
        assert call["run_id"] == run["id"] and call["step_id"] == first["id"]
        assert call["attempts"] == 1
        assert call["idempotency_key"] == f"{url}:{run['id']}:{call['id']}"
        assert isinstance(call["duration_ms"], int)
        timestamp(call["finished_at"])
    assert (ok["args"], ok["status"], ok["result"], ok["error"]) == (
        {"a": 1, "b": 4},
        "completed",
        0.25,
        None,
    )
    assert (err["args"], err["status"], err["result"]) == ({"a": 1, "b": 0}, "failed", None)
    assert err["error"] == "ZeroDivisionError: float division by zero"
    statuses = [e["value"]["status"] for e in of_type(events, "tool_call") if e["key"] == "c_ok"]
    assert statuses == ["pending", "running", "completed"]
    assert not of_type(events, "error")


async def test_a_truncated_answer_finishes_with_length(provider: Provider, agent_app) -> None:
    wire = "length" if provider.name == "openai" else "max_tokens"
    provider.script(Reply(text="This answer was cut", finish=wire))
    registry = Registry()
    agent_type(registry, "bot", provider.model(), max_output_tokens=5)
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Say a lot.")
    run = await app.wait_run(url)

    (step,) = final(await app.events(url), "step").values()
    assert step["finish_reason"] == "length"
    assert run["status"] == "completed" and run["text"] == "This answer was cut"
    body = provider.body(0)
    sent = body.get("max_tokens", body.get("max_completion_tokens"))
    assert sent == 5


async def test_a_failed_run_has_its_error_everywhere(provider: Provider, agent_app) -> None:
    provider.script(HTTPError(400, "context too long"))
    registry = Registry()
    agent_type(registry, "bot", provider.model())
    app = await agent_app(registry)
    url = await app.spawn("bot", "b1", message="Hi.")
    run = await app.wait_run(url)
    events = await app.events(url)

    assert (run["status"], run["finish_reason"]) == ("failed", "error")
    assert "context too long" in run["error"]
    (error,) = of_type(events, "error")
    assert error["value"]["kind"] == "model"
    assert error["value"]["message"] == run["error"]
    assert error["value"]["run_id"] == run["id"]
    timestamp(error["value"]["at"])
    (step,) = final(events, "step").values()
    assert (step["status"], step["error"]) == ("failed", run["error"])
