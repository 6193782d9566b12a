"""Idle TTL per entity type: an entity nothing was appended to for longer than its type's
``idle_ttl`` is deleted whole by the background sweep; one that was woken meanwhile, or
has a wake pending, stays."""

from __future__ import annotations

import time

import pytest

from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.retention import delete_idle
from wakeful.entities.wake import Wake
from wakeful.errors import Conflict, NotFound, UnknownEntity

from .conftest import HarnessFactory

TTL = 60.0


def _registry() -> Registry:
    registry = Registry()

    @registry.entity("session", idle_ttl=TTL)
    async def session(ctx: Context, wake: Wake) -> None:
        ctx.timer("later", 3600)

    @registry.entity("archive")
    async def archive(ctx: Context, wake: Wake) -> None:
        pass

    return registry


async def test_idle_entities_of_a_type_with_a_ttl_are_deleted(
    harness_factory: HarnessFactory,
) -> None:
    registry = _registry()
    harness = await harness_factory(registry)
    service = harness.service
    old = (await service.spawn("session", "old")).url
    kept = (await service.spawn("archive", "kept")).url
    for url in (old, kept):
        await harness.wait_passes(url, 1)

    # Not idle long enough yet: nothing goes.
    assert await delete_idle(harness.storage, registry) == 0
    later = time.time() + TTL + 1
    assert await delete_idle(harness.storage, registry, now=later) == 1
    with pytest.raises(UnknownEntity):
        await service.get(old)
    with pytest.raises(NotFound):
        await harness.storage.head(Address.parse(old).snapshots)
    assert await harness.storage.next_schedule() is None  # its timer went with it
    assert (await service.get(kept)).status == "idle"  # its type has no TTL
    # A new entity of that id is a new one, not idle yet.
    fresh = (await service.spawn("session", "old")).url
    await harness.wait_passes(fresh, 1)
    assert await delete_idle(harness.storage, registry, now=time.time() + 1) == 0


async def test_an_entity_woken_since_it_was_seen_idle_is_kept(
    harness_factory: HarnessFactory,
) -> None:
    registry = _registry()
    harness = await harness_factory(registry, workers=False)
    url = (await harness.service.spawn("session", "busy")).url
    stream = await harness.storage.head(Address.parse(url).stream)
    # A wake is pending (no worker runs here): not idle, however old.
    assert await delete_idle(harness.storage, registry, now=time.time() + TTL * 10) == 0
    # A message that lands after the sweep looked refuses the delete, all of it.
    await harness.service.send(url, "hello")
    with pytest.raises(Conflict):
        await harness.service.delete(url, if_tail=stream.tail)
    assert (await harness.service.get(url)).url == url
