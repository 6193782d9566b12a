"""The agent's rows as typed models: each row the loop writes reads back into its model
and dumps to exactly what is on the stream; rows written by older versions (fewer fields),
extended by others (more fields) or malformed still read; a bad option or tool list is a
typed error."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from wakeful.agent.models import Response, TestModel
from wakeful.agent.provider import agent_resources
from wakeful.agent.records import MODEL_OF, Rows
from wakeful.agent.rows import (
    RunRow,
    StepRow,
    TextRow,
    ToolCallRow,
)
from wakeful.agent.tools import tool
from wakeful.entities import events as entity_events
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.resources import MissingResource, Resources
from wakeful.entities.wake import Wake
from wakeful.state import StateStore


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def broken() -> None:
    """Always fails."""
    raise RuntimeError("out of order")


def context(resources: Resources | None = None) -> Context:
    registry = Registry()

    async def handler(ctx: Context, wake: Wake) -> None:
        pass

    definition = registry.define("bot", handler)
    store = StateStore()
    store.apply(entity_events.inbox("Add 2 and 3, then break.", None))
    return Context(
        address=Address("bot", "b1"),
        definition=definition,
        registry=registry,
        store=store,
        args=None,
        parent=None,
        tags={},
        first_wake=True,
        shared={},
        known=set(),
        resources=resources if resources is not None else agent_resources(),
    )


async def test_every_row_the_loop_writes_round_trips_through_its_model() -> None:
    model = TestModel(
        [
            Response(
                text="Adding.",
                reasoning="Use the tool.",
                tool_calls=[("add", {"a": 2, "b": 3})],
            ),
            Response(tool_calls=[("broken", {}), ("missing", {})]),
            Response(text="It is 5; the rest failed."),
        ]
    )
    ctx = context()
    result = await ctx.use_agent(model, tools=[add, broken], delta_interval=0).run(force=True)
    assert result.status == "completed" and result.text == "It is 5; the rest failed."

    seen: dict[str, int] = {}
    for event in ctx.progress.events:
        row_model = MODEL_OF.get(event["type"])
        if row_model is None:
            continue
        value = event["value"]
        row = row_model.read(value)
        assert row is not None and row.model_extra == {}, (event["type"], value)
        assert row.wire() == value, event["type"]  # the stream's value, exactly
        seen[event["type"]] = seen.get(event["type"], 0) + 1
    assert {"run", "step", "text", "reasoning", "text_delta", "tool_call"} <= seen.keys()

    rows = Rows(ctx.store)
    (run,) = rows.runs()
    assert (run.status, run.steps, run.text) == ("completed", 3, result.text)
    steps = rows.steps(run.id)
    assert [step.status for step in steps] == ["completed"] * 3
    calls = [call for step in steps for call in rows.calls(step.id)]
    assert [(c.name, c.status, c.result) for c in calls] == [
        ("add", "completed", 5),
        ("broken", "failed", None),
        ("missing", "failed", None),
    ]
    assert calls[1].error == "RuntimeError: out of order"
    assert rows.text(steps[0].id) == TextRow(
        id=steps[0].id, run_id=run.id, step_id=steps[0].id, text="Adding.", status="completed"
    )
    assert rows.deltas("text_delta", steps[0].id) == "Adding."
    # Readers of a pass share one validated row per version of it.
    assert rows.steps(run.id)[0] is steps[0]


def test_an_older_row_reads_with_defaults_and_writes_back_unchanged() -> None:
    old = {"id": "r1", "status": "completed", "steps": 2}  # before tokens and trigger
    run = RunRow.read(old)
    assert run is not None
    assert (run.input_tokens, run.trigger, run.text, run.finish_reason) == (0, [], "", None)
    assert run.wire() == old  # no field it never had appears on the stream


def test_fields_another_writer_added_survive_a_read() -> None:
    value = {"id": "c1", "name": "add", "status": "completed", "span": {"trace": "t1"}}
    call_row = ToolCallRow.read(value)
    assert call_row is not None
    assert call_row.model_extra == {"span": {"trace": "t1"}}
    assert call_row.wire() == value


def test_a_malformed_row_is_read_as_it_is_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    value: dict[str, Any] = {"id": "s1", "status": "exploded", "index": "first"}
    with caplog.at_level(logging.WARNING, "wakeful.state"):
        step = StepRow.read(value)
    assert step is not None and step.status == "exploded" and step.index == "first"
    assert "does not match StepRow" in caplog.text
    assert StepRow.read("not an object") is None


def test_rows_are_frozen() -> None:
    run = RunRow(id="r1")
    with pytest.raises(ValueError):
        run.status = "failed"  # type: ignore[misc]


def test_a_runtime_without_the_agent_loop_says_so() -> None:
    ctx = context(Resources())
    with pytest.raises(MissingResource, match="no agent loop"):
        ctx.use_agent(TestModel())
    with pytest.raises(MissingResource, match=r"call ctx\.use_agent"):
        ctx.agent  # noqa: B018 (the access is the test)


def test_resources_are_typed_and_checked() -> None:
    class Pool:
        pass

    class Special(Pool):
        pass

    resources = Resources()
    assert resources.get(Pool) is None
    special = Special()
    resources.provide(Pool, special)
    assert resources.require(Pool) is special
    with pytest.raises(TypeError):
        resources.provide(Special, Pool())  # type: ignore[arg-type]
    with pytest.raises(MissingResource, match="no Special"):
        resources.require(Special)


def test_bad_options_fail_when_the_agent_is_made() -> None:
    ctx = context()
    with pytest.raises(TypeError):
        ctx.use_agent(TestModel(), max_stepz=3)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="unique"):
        ctx.use_agent(TestModel(), tools=[add, add])
