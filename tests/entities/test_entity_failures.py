"""Handler failures: retries with backoff, the failed state, and resuming."""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import orjson
from pydantic import BaseModel
from support.waiting import eventually, of_type

from wakeful.entities import events
from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.streams import batch
from wakeful.streams.model import AppendRequest

from .conftest import HarnessFactory
from .support import wakes

RETRY_SECONDS = 0.05


class Row(BaseModel):
    id: str
    attempt: int


def flaky_registry(plan: dict[str, Any], attempts: list[tuple[float, list[Any]]]) -> Registry:
    """``plan["fail"]`` attempts fail (``-1``: all of them) before the handler succeeds."""
    registry = Registry()

    @registry.entity("flaky", state={"rows": Row}, max_attempts=3)
    async def flaky(ctx: Context, wake: Wake) -> None:
        attempts.append((time.monotonic(), [m.payload for m in wake.messages]))
        for message in wake.messages:
            ctx.state.rows.upsert(Row(id=str(message.payload), attempt=len(attempts)))
        if plan["fail"] != 0:
            plan["fail"] -= 1
            raise RuntimeError(f"attempt {len(attempts)} went wrong")

    registry.get("flaky").retry_seconds = RETRY_SECONDS
    return registry


async def test_a_handler_that_always_fails_is_retried_then_marked_failed(
    harness_factory: HarnessFactory,
) -> None:
    plan = {"fail": -1}
    attempts: list[tuple[float, list[Any]]] = []
    harness = await harness_factory(flaky_registry(plan, attempts))
    await harness.service.spawn("flaky", "f", message="m1")
    await harness.wait_status("/flaky/f", v.FAILED)
    assert len(attempts) == 3
    assert all(payloads == ["m1"] for _, payloads in attempts)
    gaps = [later - earlier for (earlier, _), (later, _) in itertools.pairwise(attempts)]
    # Backoff: the base delay, then twice it.
    assert gaps[0] >= RETRY_SECONDS * 0.9
    assert gaps[1] >= RETRY_SECONDS * 2 * 0.9

    events = await harness.events("/flaky/f")
    (error,) = of_type(events, v.ERROR)
    assert error["value"]["attempts"] == 3
    assert error["value"]["kind"] == "handler"
    assert "RuntimeError: attempt 3 went wrong" in error["value"]["message"]
    assert of_type(events, v.state_type("rows")) == []
    assert wakes(events) == []  # nothing was handled
    assert [i.url for i in await harness.service.list(status=v.FAILED)] == ["/flaky/f"]

    # Messages sent while failed wait; resume re-runs the failed inputs with them.
    await harness.service.send("/flaky/f", "m2")
    await _settle()
    assert len(attempts) == 3
    plan["fail"] = 0
    await harness.service.signal("/flaky/f", "resume")
    await harness.wait_status("/flaky/f", v.IDLE)
    await harness.wait_passes("/flaky/f", 1)
    assert attempts[-1][1] == ["m1", "m2"]
    events = await harness.events("/flaky/f")
    rows = of_type(events, v.state_type("rows"))
    assert sorted(event["key"] for event in rows) == ["m1", "m2"]
    (record,) = wakes(events)
    assert record["reasons"] == ["spawn", "message"]


async def test_a_handler_that_fails_once_then_succeeds(harness_factory: HarnessFactory) -> None:
    plan = {"fail": 1}
    attempts: list[tuple[float, list[Any]]] = []
    harness = await harness_factory(flaky_registry(plan, attempts))
    await harness.service.spawn("flaky", "f", message="m1")
    await harness.wait_passes("/flaky/f", 1)
    assert len(attempts) == 2
    events = await harness.events("/flaky/f")
    assert of_type(events, v.ERROR) == []
    (row,) = of_type(events, v.state_type("rows"))
    assert row["value"] == {"id": "m1", "attempt": 2}  # the failed attempt left nothing
    assert await harness.status("/flaky/f") == v.IDLE


async def test_a_failed_entity_can_be_stopped(harness_factory: HarnessFactory) -> None:
    plan = {"fail": -1}
    attempts: list[tuple[float, list[Any]]] = []
    harness = await harness_factory(flaky_registry(plan, attempts))
    await harness.service.spawn("flaky", "f", message="m1")
    await harness.wait_status("/flaky/f", v.FAILED)
    await harness.service.signal("/flaky/f", "stop")
    await harness.wait_status("/flaky/f", v.STOPPED)
    assert len(attempts) == 3


async def test_invalid_inbox_messages_on_the_stream_are_skipped_not_fatal(
    harness_factory: HarnessFactory,
) -> None:
    """A message written to the stream directly, past the API's validation, is dropped."""

    class Strict(BaseModel):
        n: int

    registry = Registry()
    seen: list[Any] = []

    @registry.entity("strict", inbox=Strict)
    async def strict(ctx: Context, wake: Wake) -> None:
        seen.extend(message.payload.n for message in wake.messages)

    harness = await harness_factory(registry)
    await harness.service.spawn("strict", "s")
    await harness.wait_passes("/strict/s", 1)
    bad = orjson.dumps(events.inbox({"n": "not a number"}, None))
    await harness.storage.commit(
        [batch.Append(AppendRequest("strict/s/main", "application/json", [bad]))]
    )
    await harness.service.send("/strict/s", {"n": 2})

    async def handled() -> bool:
        return seen == [2]

    await eventually(handled)
    assert await harness.status("/strict/s") == v.IDLE


async def _settle() -> None:
    await asyncio.sleep(0.3)
