"""What a message does that arrives while a pass runs: ``queue`` (the default, tested with
the wakes), ``interrupt`` and ``reject``, with real timing on SQLite and PostgreSQL (each
test waits for the pass to be under way, never for a duration)."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import pytest
from support.waiting import of_type

from wakeful.agent.models.base import ModelRequest
from wakeful.agent.models.test import Response, TestModel
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.errors import MessageRejected

from .conftest import ApiFactory, HarnessFactory


async def test_reject_refuses_a_message_while_a_pass_runs(
    harness_factory: HarnessFactory,
) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    registry = Registry()

    @registry.entity("desk", on_message="reject")
    async def desk(ctx: Context, wake: Wake) -> None:
        if any(message.payload == "hold" for message in wake.messages):
            entered.set()
            await release.wait()

    harness = await harness_factory(registry)
    await harness.service.spawn("desk", "d", message="hold")
    await asyncio.wait_for(entered.wait(), 15)
    with pytest.raises(MessageRejected, match="in a run"):
        await harness.service.send("/desk/d", "meanwhile")
    release.set()
    await harness.wait_passes("/desk/d", 1)
    await harness.service.send("/desk/d", "after")  # idle again: accepted
    await harness.wait_passes("/desk/d", 2)


async def test_interrupt_ends_the_run_in_progress_and_starts_one_with_the_message(
    harness_factory: HarnessFactory,
) -> None:
    started = asyncio.Event()

    def respond(request: ModelRequest) -> Response:
        said = [m.content for m in request.messages if m.role == "user"]
        if said[-1] == "slow":
            started.set()
            return Response(text=" ".join(["word"] * 400), delay=0.05)
        return Response(text=f"quick answer to {said[-1]}")

    registry = Registry()

    @registry.entity("helper", on_message="interrupt")
    async def helper(ctx: Context, wake: Wake) -> None:
        if wake.messages:
            ctx.use_agent(model=TestModel(itertools.repeat(respond)))
            await ctx.agent.run()

    harness = await harness_factory(registry)
    await harness.service.spawn("helper", "h", message="slow")
    await asyncio.wait_for(started.wait(), 15)
    await harness.service.send("/helper/h", "now")

    def runs(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for event in of_type(events, "run"):
            found[event["key"]] = event["value"]
        return found

    events = await harness.wait_events(
        "/helper/h",
        lambda found: [r.get("status") for r in runs(found).values()] == ["aborted", "completed"],
        within=20,
        what="an interrupted run, then a completed one",
    )
    first, second = runs(events).values()
    assert second["status"] == "completed"
    assert first["finish_reason"] == "interrupted"
    texts = [e["value"].get("text", "") for e in of_type(events, "text")]
    assert any("quick answer to now" in text for text in texts)


async def test_a_rejected_message_is_a_409_with_its_code(api_factory: ApiFactory) -> None:
    entered, release = asyncio.Event(), asyncio.Event()
    registry = Registry()

    @registry.entity("desk", on_message="reject")
    async def desk(ctx: Context, wake: Wake) -> None:
        entered.set()
        await release.wait()

    client = await api_factory(registry)
    (await client.post("/v1/entities/desk", json={"id": "d"})).raise_for_status()
    await asyncio.wait_for(entered.wait(), 15)
    refused = await client.post("/v1/entities/desk/d/messages", json={"payload": "x"})
    release.set()
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "MESSAGE_REJECTED"
