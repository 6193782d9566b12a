"""Wakes (coalescing, inputs that arrive mid-pass) and signals (pause, resume, stop, kill,
interrupt, custom)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from support.waiting import eventually, of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Signal, Wake
from wakeful.errors import EntityTerminated, NotFound
from wakeful.streams.http.statuses import status_of

from .conftest import HarnessFactory
from .support import Harness, wakes


class Gate:
    """Holds handler passes until released, and records what each pass saw."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()
        self.passes: list[dict[str, Any]] = []

    async def until_passes(self, count: int, within: float = 5.0) -> list[dict[str, Any]]:
        async def probe() -> bool:
            return len(self.passes) >= count

        await eventually(probe, within=within, what=f"{count} passes")
        return self.passes


def gated_registry(gate: Gate) -> Registry:
    registry = Registry()

    @registry.entity("worker")
    async def worker(ctx: Context, wake: Wake) -> None:
        payloads = [message.payload for message in wake.messages]
        if "hold" in payloads:
            gate.entered.set()
            await gate.release.wait()
        gate.passes.append(
            {
                "messages": payloads,
                "reasons": wake.reasons,
                "count": wake.count,
                "signals": [(s.name, s.payload) for s in wake.signals],
            }
        )

    return registry


async def test_pending_messages_are_coalesced_into_one_pass(
    harness_factory: HarnessFactory,
) -> None:
    gate = Gate()
    harness = await harness_factory(gated_registry(gate), workers=False)
    await harness.service.spawn("worker", "w", message="m0")
    for index in range(1, 6):
        await harness.service.send("/worker/w", f"m{index}")
    await harness.runtime.start()
    passes = await gate.until_passes(1)
    await harness.wait_passes("/worker/w", 1)
    assert passes == [
        {
            "messages": ["m0", "m1", "m2", "m3", "m4", "m5"],
            "reasons": ["spawn", "message"],
            "count": 6,
            "signals": [],
        }
    ]
    assert harness.runtime.passes_run == 1


async def test_messages_arriving_during_a_pass_are_handled_by_the_next(
    harness_factory: HarnessFactory,
) -> None:
    gate = Gate()
    harness = await harness_factory(gated_registry(gate))
    await harness.service.spawn("worker", "w", message="hold")
    await asyncio.wait_for(gate.entered.wait(), 5)
    sent = [f"late-{index}" for index in range(5)]
    for payload in sent:
        await harness.service.send("/worker/w", payload)
    await asyncio.sleep(0.05)
    assert gate.passes == []  # still held
    gate.release.set()
    passes = await gate.until_passes(2)
    assert passes[0]["messages"] == ["hold"]
    assert passes[1]["messages"] == sent
    await harness.wait_passes("/worker/w", 2)
    await asyncio.sleep(0.2)
    assert len(gate.passes) == 2
    records = wakes(await harness.events("/worker/w"))
    assert [record["count"] for record in records] == [1, 5]


async def test_a_burst_of_messages_is_never_dropped(harness_factory: HarnessFactory) -> None:
    gate = Gate()
    gate.release.set()
    harness = await harness_factory(gated_registry(gate))
    await harness.service.spawn("worker", "w")
    sent = [f"m{index}" for index in range(60)]
    await asyncio.gather(*(harness.service.send("/worker/w", payload) for payload in sent))

    async def all_handled() -> bool:
        return sum(len(p["messages"]) for p in gate.passes) >= len(sent)

    await eventually(all_handled, what="every message")
    handled = [payload for p in gate.passes for payload in p["messages"]]
    assert sorted(handled) == sorted(sent)
    assert len(handled) == len(sent)  # none twice
    assert len(gate.passes) < len(sent)  # and they were coalesced


# --- signals ---------------------------------------------------------------------------


async def spawn_idle(harness: Harness, url: str = "/worker/w") -> None:
    kind, entity_id = url.strip("/").split("/")
    await harness.service.spawn(kind, entity_id, message="hello")
    await harness.wait_passes(url, 1)


async def test_pause_holds_messages_until_resume(harness_factory: HarnessFactory) -> None:
    gate = Gate()
    gate.release.set()
    harness = await harness_factory(gated_registry(gate))
    await spawn_idle(harness)
    await harness.service.signal("/worker/w", "pause")
    await harness.wait_status("/worker/w", v.PAUSED)
    await harness.service.send("/worker/w", "a")
    await harness.service.send("/worker/w", "b")
    await asyncio.sleep(0.3)
    assert len(gate.passes) == 1
    assert (await harness.service.list(status=v.PAUSED))[0].url == "/worker/w"
    # Pausing twice changes nothing.
    await harness.service.signal("/worker/w", "pause")
    await asyncio.sleep(0.1)
    assert await harness.status("/worker/w") == v.PAUSED

    await harness.service.signal("/worker/w", "resume")
    passes = await gate.until_passes(2)
    assert passes[1]["messages"] == ["a", "b"]
    assert passes[1]["signals"] == []  # control signals are not the handler's business
    await harness.wait_status("/worker/w", v.IDLE)
    statuses = [
        event["value"]["status"]
        for event in of_type(await harness.events("/worker/w"), v.MANIFEST)
        if event["key"] == "status"
    ]
    assert statuses == [v.PAUSED, v.IDLE]


@pytest.mark.parametrize("name", [v.STOP, v.KILL])
async def test_stop_and_kill_are_terminal(harness_factory: HarnessFactory, name: str) -> None:
    gate = Gate()
    gate.release.set()
    harness = await harness_factory(gated_registry(gate))
    await spawn_idle(harness)
    await harness.service.signal("/worker/w", name)
    final = v.STOPPED if name == v.STOP else v.KILLED
    await harness.wait_status("/worker/w", final)
    events = await harness.events("/worker/w")
    (stopped,) = of_type(events, v.ENTITY_STOPPED)
    assert stopped["value"]["status"] == final
    with pytest.raises(EntityTerminated) as caught:
        await harness.service.send("/worker/w", "more")
    assert status_of(caught.value) == 409
    with pytest.raises(EntityTerminated):
        await harness.service.signal("/worker/w", "resume")
    # Its wake subscription is gone: nothing can run it again.
    with pytest.raises(NotFound):
        await harness.storage.subscriptions.get("e~worker~w")
    await asyncio.sleep(0.2)
    assert len(gate.passes) == 1
    # It stays readable and listable.
    assert (await harness.service.get("/worker/w")).status == final
    assert [i.url for i in await harness.service.list(status=final)] == ["/worker/w"]


async def test_kill_cancels_a_running_handler(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    started = asyncio.Event()
    outcome: list[str] = []

    @registry.entity("sleeper")
    async def sleeper(ctx: Context, wake: Wake) -> None:
        if any(m.payload == "sleep" for m in wake.messages):
            started.set()
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                outcome.append(f"cancelled, interrupted={ctx.interrupted.is_set()}")
                raise
            outcome.append("finished")

    harness = await harness_factory(registry)
    await harness.service.spawn("sleeper", "s", message="sleep")
    await asyncio.wait_for(started.wait(), 5)
    await harness.service.signal("/sleeper/s", "kill")
    await harness.wait_status("/sleeper/s", v.KILLED)
    assert outcome == ["cancelled, interrupted=True"]
    events = await harness.events("/sleeper/s")
    assert of_type(events, v.ENTITY_STOPPED)[0]["value"]["status"] == v.KILLED


async def test_stop_lets_a_running_handler_finish_then_stops(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    started = asyncio.Event()
    outcome: list[str] = []

    @registry.entity("sleeper")
    async def sleeper(ctx: Context, wake: Wake) -> None:
        if any(m.payload == "work" for m in wake.messages):
            started.set()
            await asyncio.wait_for(ctx.interrupted.wait(), 5)
            outcome.append("interrupted, finishing")
        else:
            outcome.append(f"ran again: {wake.reasons}")

    harness = await harness_factory(registry)
    await harness.service.spawn("sleeper", "s", message="work")
    await asyncio.wait_for(started.wait(), 5)
    await harness.service.signal("/sleeper/s", "stop")
    await harness.wait_status("/sleeper/s", v.STOPPED)
    assert outcome == ["interrupted, finishing"]


async def test_interrupt_sets_the_event_of_a_running_handler(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    started = asyncio.Event()
    seen: list[Any] = []

    @registry.entity("chat")
    async def chat(ctx: Context, wake: Wake) -> None:
        seen.append(("pass", [m.payload for m in wake.messages], ctx.interrupted.is_set()))
        if any(m.payload == "long" for m in wake.messages):
            started.set()
            await asyncio.wait_for(ctx.interrupted.wait(), 5)
            seen.append("interrupted")

    harness = await harness_factory(registry)
    await harness.service.spawn("chat", "c", message="long")
    await asyncio.wait_for(started.wait(), 5)
    await harness.service.signal("/chat/c", "interrupt")

    async def interrupted() -> bool:
        return "interrupted" in seen

    await eventually(interrupted)
    await harness.service.send("/chat/c", "next")

    async def next_pass() -> bool:
        return any(entry[1] == ["next"] for entry in seen if entry != "interrupted")

    await eventually(next_pass)
    # The interrupt belonged to the pass it interrupted; later passes start clean.
    assert ("pass", ["next"], False) in seen
    assert await harness.status("/chat/c") == v.IDLE


async def test_custom_signals_go_to_the_signal_handler(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen: list[Any] = []

    @registry.entity("dial")
    async def dial(ctx: Context, wake: Wake) -> None:
        seen.append(("handler", [m.payload for m in wake.messages], list(wake.signals)))

    @dial.signal_handler
    async def on_signal(ctx: Context, signal: Signal) -> None:
        seen.append(("signal", signal.name, signal.payload, ctx.url))

    @registry.entity("plain")
    async def plain(ctx: Context, wake: Wake) -> None:
        seen.append(("plain", tuple(wake.reasons), [(s.name, s.payload) for s in wake.signals]))

    harness = await harness_factory(registry)
    await harness.service.spawn("dial", "d")
    await harness.service.spawn("plain", "p")
    await harness.wait_passes("/dial/d", 1)
    await harness.wait_passes("/plain/p", 1)
    seen.clear()
    await harness.service.signal("/dial/d", "turn", {"by": 5})
    await harness.service.signal("/plain/p", "turn", {"by": 6})

    async def both() -> bool:
        return len(seen) >= 2

    await eventually(both)
    await asyncio.sleep(0.1)
    assert ("signal", "turn", {"by": 5}, "/dial/d") in seen
    assert ("plain", ("signal",), [("turn", {"by": 6})]) in seen
    # The main handler did not run for the signal its signal handler took.
    assert not any(entry[0] == "handler" for entry in seen)
    events = await harness.events("/dial/d")
    assert of_type(events, v.SIGNAL)[0]["value"]["name"] == "turn"
    assert wakes(events)[-1]["reasons"] == ["signal"]


async def test_signal_names_are_checked(harness_factory: HarnessFactory) -> None:
    gate = Gate()
    harness = await harness_factory(gated_registry(gate), workers=False)
    await harness.service.spawn("worker", "w")
    with pytest.raises(Exception, match="1-100"):
        await harness.service.signal("/worker/w", "")
    with pytest.raises(Exception, match="1-100"):
        await harness.service.signal("/worker/w", "x" * 101)
