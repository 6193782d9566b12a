"""Exactly once: what a handler writes outside a tool (state, sends, spawns, timers, tags)
lands once, with the acknowledgement of the inputs that caused it, however often the
pass is tried (its handler raises) or cut short (its worker goes away mid-pass).

The handler flushes progress before it raises or stops, as the agent loop does after its
steps: those flushes must not take the handler's writes with them (they used to, so a
retry made every write again, and a fixed-id spawn then failed the entity).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel
from support.waiting import of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.state.events import insert

from .conftest import HarnessFactory
from .support import Harness, wakes

LEASE_SECONDS = 1.0


class Item(BaseModel):
    id: str


class World:
    """What the handlers saw, and how the test wants the next attempts to go."""

    def __init__(self, failures: int) -> None:
        self.failures = failures  # attempts that raise after their flush
        self.attempts = 0
        self.timers: list[str] = []
        self.received: list[Any] = []
        self.hang = False  # the attempt waits after its flush (the worker goes away)
        self.flushed = asyncio.Event()


def registry_for(world: World) -> Registry:
    registry = Registry()

    @registry.entity("maker", state={"items": Item}, max_attempts=5, lease_seconds=LEASE_SECONDS)
    async def maker(ctx: Context, wake: Wake) -> None:
        if wake.timers:
            world.timers.extend(timer.name for timer in wake.timers)
            return
        if not wake.messages:
            return
        world.attempts += 1
        ctx.state.items.insert(Item(id="made"))
        ctx.send("/sink/s", {"from": "maker"})
        ctx.spawn("child", "fixed")
        ctx.timer("later", 0.05)
        ctx.set_tag("stage", "done")
        # Progress flushed, as the agent loop flushes a step.
        event = insert("progress", f"attempt{world.attempts}", {"n": world.attempts})
        ctx.progress.events.append(event)
        ctx.store.apply(event)
        await ctx.flush()
        world.flushed.set()
        if world.hang:
            await asyncio.Event().wait()
        if world.failures > 0:
            world.failures -= 1
            raise RuntimeError(f"attempt {world.attempts} fails after its flush")

    registry.get("maker").retry_seconds = 0.01

    # Short leases for all: a pass the first worker was cut short in resumes soon.
    @registry.entity("sink", lease_seconds=LEASE_SECONDS)
    async def sink(ctx: Context, wake: Wake) -> None:
        world.received.extend(message.payload for message in wake.messages)

    @registry.entity("child", lease_seconds=LEASE_SECONDS)
    async def child(ctx: Context, wake: Wake) -> None:
        return

    return registry


async def assert_each_write_once(harness: Harness, world: World) -> None:
    await harness.wait_events("/maker/m", lambda found: len(wakes(found)) >= 2, what="timer")
    await harness.wait_passes("/sink/s", 1)
    events = await harness.events("/maker/m")
    assert await harness.status("/maker/m") == v.IDLE
    assert of_type(events, v.ERROR) == []
    assert [e["key"] for e in of_type(events, v.state_type("items"))] == ["made"]
    assert [e["value"]["value"] for e in of_type(events, v.TAGS)] == ["done"]
    keys = Counter(e["key"] for e in of_type(events, v.MANIFEST))
    assert keys["child:/child/fixed"] == 1
    assert keys["timer:later"] == 1
    assert world.timers == ["timer:later"]
    # The message was acknowledged by exactly one commit, the one holding the writes.
    (handled, fired) = wakes(events)
    assert handled["reasons"] == ["spawn", "message"]
    assert "timer" in fired["reasons"]
    sink = await harness.events("/sink/s")
    assert [e["value"]["payload"] for e in of_type(sink, v.INBOX)] == [{"from": "maker"}]
    assert world.received == [{"from": "maker"}]
    created = of_type(await harness.events("/child/fixed"), v.ENTITY_CREATED)
    assert len(created) == 1 and created[0]["value"]["parent"] == "/maker/m"


@pytest.mark.parametrize("failures", [0, 1, 3])
async def test_a_handler_that_raises_after_a_flush_writes_once(
    harness_factory: HarnessFactory, failures: int
) -> None:
    world = World(failures)
    harness = await harness_factory(registry_for(world))
    await harness.service.spawn("sink", "s")
    await harness.service.spawn("maker", "m", message="go")
    await assert_each_write_once(harness, world)
    assert world.attempts == failures + 1
    # Each attempt's progress landed (the retries flushed theirs too), in order.
    events = await harness.events("/maker/m")
    assert [e["key"] for e in of_type(events, "progress")] == [
        f"attempt{n}" for n in range(1, failures + 2)
    ]


async def test_a_pass_cut_short_after_a_flush_writes_once(
    harness_factory: HarnessFactory, database: str
) -> None:
    world = World(0)
    world.hang = True
    registry = registry_for(world)
    first = await harness_factory(registry, database=database)
    await first.service.spawn("sink", "s")
    await first.service.spawn("maker", "m", message="go")
    await asyncio.wait_for(world.flushed.wait(), 10)
    await first.stop()  # the worker goes away after the flush, before the commit
    events = await first_events(harness_factory, database)
    assert [e["key"] for e in of_type(events, "progress")] == ["attempt1"]
    assert of_type(events, v.state_type("items")) == []  # held for the commit
    assert len(wakes(events)) == 0

    world.hang = False
    second = await harness_factory(registry, database=database)
    await assert_each_write_once(second, world)
    assert world.attempts == 2


async def first_events(harness_factory: HarnessFactory, database: str) -> list[dict[str, Any]]:
    """The maker's stream as a runtime that runs no handlers reads it."""
    reader = await harness_factory(Registry(), database=database, workers=False)
    try:
        return await reader.events("/maker/m")
    finally:
        await reader.stop()
