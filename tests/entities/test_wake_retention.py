"""The wake stream's retention: trimming it under the runtime's follower loses no wake.

The stream only announces wakes; the subscriptions table holds them. A follower trimmed
past skips ahead and re-scans the table, so every message is handled, exactly once, however
the trims and the announcements interleave.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from pydantic import BaseModel
from support.waiting import eventually

from wakeful.entities.addressing import WAKE_STREAM
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.retention import trim_wake_stream
from wakeful.entities.wake import Wake
from wakeful.errors import OffsetGone

from .conftest import HarnessFactory

ENTITIES = 8
BURSTS = 20  # at most: it stops once the follower was trimmed past
PER_BURST = 5


class Seen(BaseModel):
    id: str


async def test_a_trim_racing_a_burst_of_wakes_loses_none(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    handled: list[str] = []

    @registry.entity("counter", state={"seen": Seen})
    async def counter(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.state.seen.insert(Seen(id=str(message.payload)))
            handled.append(str(message.payload))

    harness = await harness_factory(registry)
    urls = [f"/counter/c{index}" for index in range(ENTITIES)]
    for url in urls:
        await harness.service.spawn("counter", url.rsplit("/", 1)[1])

    trimming = True

    async def trim_all_the_time() -> None:
        # Far harsher than any policy: drop every announcement as soon as it lands.
        while trimming:
            await trim_wake_stream(harness.storage, 0)
            await asyncio.sleep(0)

    trimmer = asyncio.create_task(trim_all_the_time())
    sent: list[str] = []
    try:
        for burst in range(BURSTS):
            payloads = [f"{url}#{burst}.{n}" for url in urls for n in range(PER_BURST)]
            await asyncio.gather(*(harness.service.send(p.split("#")[0], p) for p in payloads))
            sent += payloads
            if harness.runtime.trimmed_past and burst >= 2:
                break

        async def all_committed() -> bool:
            # The handler's writes land with the pass's commit, after the handler returns.
            for url in urls:
                rows = (await harness.materialize(url)).collection("state:seen")
                if len(rows) < len([p for p in sent if p.startswith(f"{url}#")]):
                    return False
            return True

        await eventually(all_committed, within=30, what="every message's pass committed")
    finally:
        trimming = False
        with contextlib.suppress(asyncio.CancelledError):
            await trimmer

    assert harness.runtime.trimmed_past > 0, "the follower was never trimmed past"
    assert sorted(handled) == sorted(sent)  # each exactly once
    for url in urls:
        rows = (await harness.materialize(url)).collection("state:seen")
        assert sorted(rows.keys()) == sorted(p for p in sent if p.startswith(f"{url}#"))
    # The stream kept nothing it was told to drop, and says where it now begins.
    stream = await harness.storage.head(WAKE_STREAM)
    assert stream.retained_from > 0
    with pytest.raises(OffsetGone):
        await harness.storage.read_from(stream, 0)
