"""Flushes: a pass committing its progress before it ends (as the agent loop does).

What a flush commits is ``ctx.progress``, where the agent loop keeps its rows (and moves
a tool's writes with its result); the handler's own writes (``ctx.output``) wait for the
final commit, the one that acknowledges the inputs. These tests write progress rows the
way the loop does, and check that handler writes never go with a flush."""

from __future__ import annotations

import asyncio
import gc

from pydantic import BaseModel
from support.waiting import of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.state.events import insert

from .conftest import HarnessFactory


class Item(BaseModel):
    id: str


def item_keys(events: list[dict[str, object]]) -> list[object]:
    return [event["key"] for event in of_type(events, v.state_type("items"))]


def record(ctx: Context, key: str) -> None:
    """Buffer a progress row, as the agent loop does with its own."""
    event = insert(v.state_type("items"), key, {"id": key})
    ctx.progress.events.append(event)
    ctx.store.apply(event)


async def test_a_flush_commits_progress_and_holds_the_handlers_writes(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    seen: list[list[object]] = []

    @registry.entity("log", state={"items": Item})
    async def log(ctx: Context, wake: Wake) -> None:
        ctx.state.items.insert(Item(id="handler"))
        record(ctx, "progress")
        await ctx.flush()
        seen.append(item_keys(await harness.events(ctx.url)))

    harness = await harness_factory(registry)
    await harness.service.spawn("log", "a", message="go")
    await harness.wait_passes("/log/a", 1)
    assert seen == [["progress"]]
    # The handler's write lands with the final commit, after the flushed progress.
    events = await harness.events("/log/a")
    assert item_keys(events) == ["progress", "handler"]
    (wake,) = of_type(events, v.WAKE)
    handler_at = next(i for i, e in enumerate(events) if e.get("key") == "handler")
    assert events.index(wake) > handler_at  # in the commit that records the wake


async def test_flushes_not_waited_for_land_in_the_order_asked(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    landed_before_return: list[int] = []

    @registry.entity("log", state={"items": Item})
    async def log(ctx: Context, wake: Wake) -> None:
        for index in range(20):
            record(ctx, f"i{index:02d}")
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
    being taken for duplicates). The failed attempt's progress lands (the loop's records
    are facts), its handler writes do not."""
    registry = Registry()
    attempts: list[int] = []
    seen: list[list[str]] = []

    @registry.entity("job", state={"items": Item}, max_attempts=2, retry_seconds=0.01)
    async def job(ctx: Context, wake: Wake) -> None:
        attempts.append(len(attempts) + 1)
        # The retry sees what the failed attempt flushed.
        seen.append(sorted(row.id for row in ctx.state.items))
        record(ctx, f"attempt{len(attempts)}-flushed")
        await ctx.flush()
        ctx.state.items.insert(Item(id=f"attempt{len(attempts)}-held"))
        record(ctx, f"attempt{len(attempts)}-unflushed")
        if len(attempts) == 1:
            raise RuntimeError("after a flush")
        ctx.state.items.insert(Item(id=f"attempt{len(attempts)}-final"))

    harness = await harness_factory(registry)
    await harness.service.spawn("job", "a", message="go")
    await harness.wait_passes("/job/a", 1)
    events = await harness.events("/job/a")
    assert attempts == [1, 2]
    assert seen == [[], ["attempt1-flushed", "attempt1-unflushed"]]
    assert item_keys(events) == [
        "attempt1-flushed",
        "attempt1-unflushed",
        "attempt2-flushed",
        "attempt2-unflushed",
        "attempt2-held",
        "attempt2-final",
    ]
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
            # A tool's writes go with its result, in the progress.
            tool = ctx.for_tool()
            tool.state.items.insert(Item(id="with-the-failed-spawn"))
            tool.spawn("maker", "taken")  # exists already: this flush cannot commit
            tool.output.move_to(ctx.progress)
            await ctx.flush(wait=False)
            record(ctx, "after-the-failure")
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
        record(ctx, "early")
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
        record(ctx, "deferred")
        await ctx.flush(wait=False)  # the pass ends before it is due

    harness = await harness_factory(registry)
    await harness.service.spawn("quick", "a", message="go")
    await harness.wait_passes("/quick/a", 1)
    await asyncio.sleep(0.1)  # past the deferral: nothing may land twice
    events = await harness.events("/quick/a")
    assert item_keys(events) == ["deferred"]
    assert (await harness.service.get("/quick/a")).status == v.IDLE


async def test_a_pass_leaves_nothing_for_the_garbage_collector(
    harness_factory: HarnessFactory,
) -> None:
    # A reference cycle through a pass's context would leave every pass's context, state
    # and buffers to the cycle collector: memory grows between collections and each
    # collection costs more (it once took a fifth of the pass rate).
    registry = Registry()

    @registry.entity("log", state={"items": Item})
    async def log(ctx: Context, wake: Wake) -> None:
        ctx.state.items.insert(Item(id=f"n{len(ctx.state.items)}"))
        record(ctx, f"p{len(ctx.state.items)}")
        await ctx.flush()

    harness = await harness_factory(registry)
    await harness.service.spawn("log", "a", message="go")
    await harness.wait_passes("/log/a", 1)
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        for index in range(5):
            await harness.service.send("/log/a", {"n": index})
            await harness.wait_passes("/log/a", 2 + index)
        gc.collect()
        left = {type(thing).__name__ for thing in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    assert not left & {"Context", "Flushes", "PassOutput", "StateStore", "Pass"}


async def test_a_retry_does_not_see_rows_an_attempt_changed_in_place(
    harness_factory: HarnessFactory,
) -> None:
    # Each attempt gets its own copy of the state: a row changed in place by an attempt
    # that raised is not the row the next attempt (or the next pass) reads.
    registry = Registry()
    seen: list[object] = []

    @registry.entity("note", max_attempts=2, retry_seconds=0.01)
    async def note(ctx: Context, wake: Wake) -> None:
        rows = ctx.store.collection("state:notes")
        if wake.first:
            ctx.store.apply(insert("state:notes", "n", {"tags": ["kept"]}))
            ctx.progress.events.append(insert("state:notes", "n", {"tags": ["kept"]}))
            await ctx.flush()
            return
        row = rows.get("n")
        seen.append(list(row["tags"]))
        row["tags"].append("changed in place")
        if len(seen) == 1:
            raise RuntimeError("first attempt fails")

    harness = await harness_factory(registry)
    await harness.service.spawn("note", "a", message="go")
    await harness.wait_passes("/note/a", 1)
    await harness.service.send("/note/a", {"again": True})
    await harness.wait_passes("/note/a", 2)
    await harness.service.send("/note/a", {"once more": True})
    await harness.wait_passes("/note/a", 3)
    assert seen == [["kept"], ["kept"], ["kept"]]
