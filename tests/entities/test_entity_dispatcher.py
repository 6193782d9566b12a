"""The dispatcher: one active handler per entity, fencing of stale claims, lease expiry."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest
from pydantic import BaseModel
from support.waiting import eventually, of_type

from wakeful.entities import vocabulary as v
from wakeful.entities._runtime.runner import PassRunner
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.loading import StateCache
from wakeful.entities.runtime import Runtime
from wakeful.entities.wake import Wake
from wakeful.errors import WakefulError
from wakeful.settings import Settings
from wakeful.streams.subscriptions.model import WakeRequest
from wakeful.streams.subscriptions.tokens import TokenClaims

from .conftest import HarnessFactory
from .support import wakes

LEASE_SECONDS = 1.0


class Seen(BaseModel):
    id: str


async def test_two_runtimes_never_run_one_entity_concurrently(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    active: Counter[str] = Counter()
    overlaps: list[str] = []
    handled: list[tuple[str, str]] = []
    runners: Counter[str] = Counter()

    @registry.entity("busy", state={"seen": Seen})
    async def busy(ctx: Context, wake: Wake) -> None:
        active[ctx.url] += 1
        if active[ctx.url] > 1:
            overlaps.append(ctx.url)
        try:
            await asyncio.sleep(random.uniform(0, 0.01))
            for message in wake.messages:
                ctx.state.seen.insert(Seen(id=str(message.payload)))
                handled.append((ctx.url, str(message.payload)))
        finally:
            active[ctx.url] -= 1

    harness = await harness_factory(registry)
    second = Runtime(
        harness.storage, registry, settings=Settings(worker_concurrency=8), name="second-runtime"
    )
    await second.start()
    try:
        urls = [f"/busy/b{index}" for index in range(6)]
        for url in urls:
            await harness.service.spawn("busy", url.rsplit("/", 1)[1])
        sends = [harness.service.send(url, f"{url}-{n}") for n in range(12) for url in urls]
        random.shuffle(sends)
        await asyncio.gather(*sends)

        async def all_handled() -> bool:
            return len(handled) >= len(urls) * 12

        await eventually(all_handled, within=10, what="every message")
        await asyncio.sleep(0.2)
    finally:
        await second.stop()
    runners["first"] = harness.runtime.passes_run
    runners["second"] = second.passes_run
    assert overlaps == []
    assert len(handled) == len(set(handled)) == len(urls) * 12
    for url in urls:
        rows = (await harness.materialize(url)).collection("state:seen")
        assert len(rows) == 12
    assert runners["first"] + runners["second"] >= len(urls)


def counting_registry(calls: list[str]) -> Registry:
    registry = Registry()

    @registry.entity("counted", state={"seen": Seen}, lease_seconds=LEASE_SECONDS)
    async def counted(ctx: Context, wake: Wake) -> None:
        calls.append(ctx.url)
        for message in wake.messages:
            ctx.state.seen.insert(Seen(id=str(message.payload)))

    return registry


async def expire_and_reclaim(harness: Any, subscription_id: str) -> tuple[Any, Any]:
    stale = await harness.storage.subscriptions.claim(subscription_id, "stale-worker")
    await asyncio.sleep(LEASE_SECONDS + 0.2)  # its lease runs out

    async def reclaim() -> Any:
        try:
            return await harness.storage.subscriptions.claim(subscription_id, "fresh-worker")
        except WakefulError:
            return None

    fresh = await eventually(reclaim, what="a claim after the lease expired")
    assert fresh.generation > stale.generation
    return stale, fresh


@pytest.mark.parametrize("stale_first", [True, False])
async def test_a_stale_claim_is_fenced_and_writes_nothing(
    harness_factory: HarnessFactory, stale_first: bool
) -> None:
    calls: list[str] = []
    registry = counting_registry(calls)
    harness = await harness_factory(registry, workers=False)
    await harness.service.spawn("counted", "c", message="m1")
    address = Address("counted", "c")
    stale, fresh = await expire_and_reclaim(harness, address.subscription_id)

    def runner(name: str) -> PassRunner:
        return PassRunner(harness.storage, registry, StateCache(harness.storage), name)

    before = (await harness.storage.head(address.stream)).tail
    if stale_first:
        with pytest.raises(WakefulError) as caught:
            await runner("stale-worker").run(address, stale)
        assert caught.value.code in ("FENCED", "STALE_EPOCH")
        assert (await harness.storage.head(address.stream)).tail == before
        await runner("fresh-worker").run(address, fresh)
    else:
        await runner("fresh-worker").run(address, fresh)
        after_fresh = (await harness.storage.head(address.stream)).tail
        assert after_fresh > before
        with pytest.raises(WakefulError) as caught:
            await runner("stale-worker").run(address, stale)
        assert caught.value.code in ("FENCED", "STALE_EPOCH")
        assert (await harness.storage.head(address.stream)).tail == after_fresh
    assert calls == ["/counted/c", "/counted/c"]  # both handlers ran; one pass landed
    events = await harness.events("/counted/c")
    assert len(of_type(events, v.state_type("seen"))) == 1
    (record,) = wakes(events)
    assert record["generation"] == fresh.generation


async def test_a_crashed_workers_wake_is_delivered_again_after_its_lease(
    harness_factory: HarnessFactory,
) -> None:
    calls: list[str] = []
    harness = await harness_factory(counting_registry(calls), workers=False)
    await harness.service.spawn("counted", "c", message="m1")
    crashed = await harness.storage.subscriptions.claim("e~counted~c", "crashed-worker")
    await harness.runtime.start()
    await asyncio.sleep(0.3)
    assert calls == []  # the crashed worker still holds it
    await harness.wait_passes("/counted/c", 1, within=LEASE_SECONDS + 4)
    assert calls == ["/counted/c"]
    (record,) = wakes(await harness.events("/counted/c"))
    assert record["generation"] > crashed.generation


async def test_idle_entities_hold_no_tasks_and_leave_the_cache(
    harness_factory: HarnessFactory,
) -> None:
    calls: list[str] = []
    registry = counting_registry(calls)
    harness = await harness_factory(registry, workers=False)
    small = Runtime(
        harness.storage,
        registry,
        settings=Settings(worker_concurrency=2, state_cache_size=3),
        name="small",
    )
    await small.start()
    try:
        tasks_before = len(asyncio.all_tasks())
        for index in range(10):
            await harness.service.spawn("counted", f"c{index}", message="hi")
        for index in range(10):
            await harness.wait_passes(f"/counted/c{index}", 1)
        assert len(small.cache) <= 3
        await asyncio.sleep(0.05)
        assert len(asyncio.all_tasks()) <= tasks_before
    finally:
        await small.stop()


async def test_a_pass_that_loses_its_lease_stops_its_handler_and_commits_nothing(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    started = asyncio.Event()
    outcome: list[str] = []

    @registry.entity("holder", state={"seen": Seen}, lease_seconds=LEASE_SECONDS)
    async def holder(ctx: Context, wake: Wake) -> None:
        ctx.state.seen.insert(Seen(id="held"))
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    harness = await harness_factory(registry, workers=False)
    await harness.service.spawn("holder", "h", message="go")
    address = Address("holder", "h")
    row = await harness.storage.subscriptions.claim(address.subscription_id, "worker")
    before = (await harness.storage.head(address.stream)).tail
    runner = PassRunner(harness.storage, registry, StateCache(harness.storage), "worker")
    running = asyncio.ensure_future(runner.run(address, row))
    await asyncio.wait_for(started.wait(), 5)
    # The wake ends under the pass (as when its lease runs out and another worker takes
    # it): the next heartbeat is refused.
    assert row.wake_id is not None
    claims = TokenClaims(row.id, row.generation, row.wake_id)
    await harness.storage.subscriptions.release(
        row.id, claims, WakeRequest(row.wake_id, row.generation)
    )
    with pytest.raises(WakefulError) as caught:
        await asyncio.wait_for(running, 5)
    assert caught.value.code == "FENCED"
    assert outcome == ["cancelled"]
    assert (await harness.storage.head(address.stream)).tail == before
