"""Per-server caps on model calls and tool executions: at most N at once, the rest
queued and served first come, first served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from support.waiting import eventually

from wakeful.agent.models import Model, Response, TestModel
from wakeful.agent.models.base import Finish, ModelEvent, ModelRequest, TextDelta, Usage
from wakeful.agent.models.test import answer
from wakeful.agent.tools import tool
from wakeful.entities.definition import Registry
from wakeful.threads import ThreadConfig, define_thread

from .conftest import ServeFactory
from .support import messages, wait_status


class Gated(Model):
    """Answers each prompt only once the test opens its gate; counts calls in flight."""

    name = "gated"
    label = "gated test model"

    def __init__(self) -> None:
        self.gates: dict[str, asyncio.Event] = {}
        self.started: list[str] = []
        self.active = 0
        self.peak = 0

    def gate(self, prompt: str) -> asyncio.Event:
        return self.gates.setdefault(prompt, asyncio.Event())

    async def stream(self, request: ModelRequest) -> AsyncIterator[ModelEvent]:
        prompt = request.messages[-1].content
        self.started.append(prompt)
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            await self.gate(prompt).wait()
        finally:
            self.active -= 1
        yield TextDelta(f"answer to {prompt}")
        yield Usage(1, 1)
        yield Finish("stop")


async def start_thread(client: Any, thread_id: str) -> None:
    response = await client.post("/v1/threads", json={"id": thread_id, "prompt": thread_id})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize("limit", [1, 2])
async def test_model_calls_are_capped_and_served_in_order(serve: ServeFactory, limit: int) -> None:
    model = Gated()
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=model))
    served = await serve(registry, max_model_calls=limit)
    client = served.client
    names = ["A", "B", "C"]
    for index, name in enumerate(names):
        await start_thread(client, name)
        if index < limit:
            so_far = names[: index + 1]
            await eventually(lambda so_far=so_far: _started(model, so_far), what=f"call {name}")
        else:
            # Nothing outside shows a run queued for the model; its pass starts within
            # moments of the message, so a pause orders the queue.
            await asyncio.sleep(0.3)
    # Only ``limit`` calls run; the others wait, in the order they asked.
    assert model.started == names[:limit]
    assert model.active == limit
    for index, name in enumerate(names):
        model.gate(name).set()
        await wait_status(client, name, "completed")
        expected = names[: min(len(names), index + 1 + limit)]
        await eventually(
            lambda expected=expected: _started(model, expected), what=f"calls {expected}"
        )
    assert model.started == names
    assert model.peak == limit
    for name in names:
        found = await messages(client, name)
        assert found[-1]["content"] == f"answer to {name}"


async def _started(model: Gated, expected: list[str]) -> bool:
    return model.started == expected


class Gauge:
    def __init__(self) -> None:
        self.active = 0
        self.peak = 0
        self.finished: list[str] = []


@pytest.mark.parametrize("limit", [1, 3])
async def test_tool_executions_are_capped(serve: ServeFactory, limit: int) -> None:
    gauge = Gauge()

    @tool
    async def slow(label: str) -> str:
        """Takes a moment."""
        gauge.active += 1
        gauge.peak = max(gauge.peak, gauge.active)
        try:
            await asyncio.sleep(0.1)
        finally:
            gauge.active -= 1
        gauge.finished.append(label)
        return f"done {label}"

    calls = [("slow", {"label": label}) for label in ("x", "y", "z")]
    model = TestModel([Response(tool_calls=calls), answer("All done.")])
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=model, tools=[slow]))
    served = await serve(registry, max_tool_calls=limit)
    await start_thread(served.client, "tools")
    await wait_status(served.client, "tools", "completed")
    assert sorted(gauge.finished) == ["x", "y", "z"]
    assert gauge.peak == limit
    if limit == 1:
        assert gauge.finished == ["x", "y", "z"]  # queued first come, first served
    found = await messages(served.client, "tools")
    results = [c["result"] for m in found if m["role"] == "assistant" for c in m["tool_calls"]]
    assert results == ["done x", "done y", "done z"]
