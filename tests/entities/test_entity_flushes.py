"""Flushes: a pass committing part of its work before it ends (as the agent loop does)."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from support.waiting import of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

from .conftest import HarnessFactory


class Item(BaseModel):
    id: str


def item_keys(events: list[dict[str, object]]) -> list[object]:
    return [event["key"] for event in of_type(events, v.state_type("items"))]


async def test_flushes_not_waited_for_land_in_the_order_asked(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    landed_before_return: list[int] = []

    @registry.entity("log", state={"items": Item})
    async def log(ctx: Context, wake: Wake) -> None:
        for index in range(20):
            ctx.state.items.insert(Item(id=f"i{index:02d}"))
            await ctx.flush(wait=False)
        await ctx.flush()  # waits for every earlier flush too
        head = await harness.storage.head(ctx.address.stream)
        landed_before_return.append(head.tail)
        ctx.state.items.insert(Item(id="last"))  # with the pass's final commit

    harness = await harness_factory(registry)
    await harness.service.spawn("log", "a", message="go")
    await harness.wait_passes("/log/a", 1)
    events = await harness.events("/log/a")
    assert item_keys(events) == [f"i{index:02d}" for index in range(20)] + ["last"]
    assert (await harness.service.get("/log/a")).status == v.IDLE
    assert landed_before_return and landed_before_return[0] > 0
    # The flushed events count as handled: no second pass is woken by them.
    assert len(of_type(events, v.WAKE)) == 1


async def test_a_retry_after_flushes_keeps_writing(harness_factory: HarnessFactory) -> None:
    """The first attempt flushed, then failed; the retry's writes must land too (its
    producer sequence goes on from the flushes that landed, instead of starting over and
    being taken for duplicates)."""
    registry = Registry()
    attempts: list[int] = []

    @registry.entity("job", state={"items": Item}, max_attempts=2, retry_seconds=0.01)
    async def job(ctx: Context, wake: Wake) -> None:
        attempts.append(len(attempts) + 1)
        ctx.state.items.insert(Item(id=f"attempt{len(attempts)}-flushed"))
        await ctx.flush()
        if len(attempts) == 1:
            raise RuntimeError("after a flush")
        ctx.state.items.insert(Item(id=f"attempt{len(attempts)}-final"))

    harness = await harness_factory(registry)
    await harness.service.spawn("job", "a", message="go")
    await harness.wait_passes("/job/a", 1)
    events = await harness.events("/job/a")
    assert attempts == [1, 2]
    assert item_keys(events) == ["attempt1-flushed", "attempt2-flushed", "attempt2-final"]
    assert (await harness.service.get("/job/a")).status == v.IDLE


async def test_a_failed_flush_fails_the_attempt_and_nothing_after_it_lands(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    attempts: list[int] = []

    @registry.entity("maker", state={"items": Item}, max_attempts=2, retry_seconds=0.01)
    async def maker(ctx: Context, wake: Wake) -> None:
        if ctx.id != "a":
            return
        attempts.append(len(attempts) + 1)
        if len(attempts) == 1:
            ctx.state.items.insert(Item(id="with-the-failed-spawn"))
            ctx.spawn("maker", "taken")  # exists already: this flush cannot commit
            await ctx.flush(wait=False)
            ctx.state.items.insert(Item(id="after-the-failure"))
            await ctx.flush()  # raises the earlier flush's failure
            return
        ctx.state.items.insert(Item(id="retry"))

    harness = await harness_factory(registry)
    await harness.service.spawn("maker", "taken")
    await harness.service.spawn("maker", "a", message="go")
    await harness.wait_passes("/maker/a", 1)
    events = await harness.events("/maker/a")
    assert attempts == [1, 2]
    assert item_keys(events) == ["retry"]
    errors = of_type(events, v.ERROR)
    assert errors == []  # the retry succeeded: the pass records no failure


async def test_a_flush_not_waited_for_lands_on_its_own_soon(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    seen_on_stream: list[list[object]] = []

    @registry.entity("note", state={"items": Item})
    async def note(ctx: Context, wake: Wake) -> None:
        ctx.state.items.insert(Item(id="early"))
        await ctx.flush(wait=False)
        await asyncio.sleep(0.3)  # no other flush comes: it must not wait for one
        seen_on_stream.append(item_keys(await harness.events(ctx.url)))
        ctx.state.items.insert(Item(id="final"))

    harness = await harness_factory(registry)
    await harness.service.spawn("note", "a", message="go")
    await harness.wait_passes("/note/a", 1)
    assert seen_on_stream == [["early"]]
    assert item_keys(await harness.events("/note/a")) == ["early", "final"]


async def test_a_pass_ending_before_a_deferred_flush_commits_it_with_the_rest(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()

    @registry.entity("quick", state={"items": Item})
    async def quick(ctx: Context, wake: Wake) -> None:
        ctx.state.items.insert(Item(id="deferred"))
        await ctx.flush(wait=False)  # the pass ends before it is due

    harness = await harness_factory(registry)
    await harness.service.spawn("quick", "a", message="go")
    await harness.wait_passes("/quick/a", 1)
    await asyncio.sleep(0.1)  # past the deferral: nothing may land twice
    events = await harness.events("/quick/a")
    assert item_keys(events) == ["deferred"]
    assert (await harness.service.get("/quick/a")).status == v.IDLE
