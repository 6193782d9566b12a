"""The entity types of the chaos test, imported by its worker processes.

``wakeful worker entities.chaos_types:registry`` (with ``tests/`` on ``PYTHONPATH``) runs them.
Their state is built so that anything handled twice shows:

* every inbox message gets a ``handled`` row whose ``times`` counts how often a pass saw
  it, next to a ``tally`` counter raised by the number of messages each pass handles; a
  pass run again on inputs already handled makes ``times`` 2 and the counter disagree
  with the number of rows;
* every pass inserts a ``marks`` row under a fresh random key; the same pass landing twice
  on the stream shows as that key inserted twice;
* a parent counts the reports of each child (``reports`` must end at 1), a child counts
  how often its timer fired (``times`` must end at 1).

Handlers sleep a little at random, so that kills land in the middle of passes too.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from pydantic import BaseModel

from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake

# A killed worker's claims block its entities for this long; short, so that 50 kills fit
# in a test run.
LEASE_SECONDS = 2.0
MAX_HANDLER_SLEEP = 0.03


class Handled(BaseModel):
    id: str  # the inbox message id
    mid: str  # the sender's own id for the message
    times: int


class Tally(BaseModel):
    id: str
    count: int  # messages handled
    passes: int


class Mark(BaseModel):
    id: str  # unique for every pass
    messages: list[str]
    children: list[str]
    timers: list[str]


class ChildRow(BaseModel):
    id: str  # the child's URL
    mid: str
    status: str  # waiting | completed | failed
    reports: int
    response: Any = None


class Forward(BaseModel):
    id: str  # the id of the message sent
    to: str
    mid: str
    delayed: bool


class Fired(BaseModel):
    id: str  # the timer's name
    times: int


class ChildArgs(BaseModel):
    delay: float
    peer: str


registry = Registry()
COMMON = {"handled": Handled, "tally": Tally, "marks": Mark, "forwards": Forward}


def record_pass(ctx: Context, wake: Wake) -> None:
    """The bookkeeping every pass does: handled rows, the tally and a unique mark."""
    for message in wake.messages:
        payload = message.payload if isinstance(message.payload, dict) else {}
        found = ctx.state.handled.get(message.id)
        times = found.times + 1 if found is not None else 1
        mid = str(payload.get("mid", ""))
        ctx.state.handled.upsert(Handled(id=message.id, mid=mid, times=times))
    tally = ctx.state.tally.get("tally") or Tally(id="tally", count=0, passes=0)
    ctx.state.tally.upsert(
        Tally(id="tally", count=tally.count + len(wake.messages), passes=tally.passes + 1)
    )
    ctx.state.marks.insert(
        Mark(
            id=uuid.uuid4().hex,
            messages=[message.id for message in wake.messages],
            children=[child.url for child in wake.children],
            timers=[timer.name for timer in wake.timers],
        )
    )


def forward(ctx: Context, peer: str, mid: str, delay: float | None = None) -> None:
    key = ctx.send(f"/peer/{peer}", {"mid": mid, "op": "note"}, delay=delay)
    ctx.state.forwards.insert(Forward(id=key, to=f"/peer/{peer}", mid=mid, delayed=bool(delay)))


async def nap() -> None:
    await asyncio.sleep(random.uniform(0, MAX_HANDLER_SLEEP))


@registry.entity("parent", state={**COMMON, "children": ChildRow}, lease_seconds=LEASE_SECONDS)
async def parent(ctx: Context, wake: Wake) -> None:
    """Notes messages, spawns children on ``spawn`` and waits for them, forwards to peers."""
    await nap()
    for message in wake.messages:
        payload = message.payload
        op, mid = payload["op"], payload["mid"]
        if op == "spawn":
            url = ctx.spawn(
                "child",
                f"{ctx.id}.{mid}",
                args={"delay": payload["delay"], "peer": payload["peer"]},
                message={"mid": f"{mid}.start", "op": "start"},
            )
            ctx.state.children.insert(ChildRow(id=url, mid=mid, status="waiting", reports=0))
        elif op == "forward":
            forward(ctx, payload["peer"], f"{mid}.fwd", payload.get("delay"))
    for child in wake.children:
        found = ctx.state.children.get(child.url)
        if found is None:
            found = ChildRow(id=child.url, mid="", status="unknown", reports=0)
        ctx.state.children.upsert(
            ChildRow(
                id=child.url,
                mid=found.mid,
                status=child.status,
                reports=found.reports + 1,
                response=child.response,
            )
        )
    record_pass(ctx, wake)
    await nap()


@registry.entity(
    "child", state={**COMMON, "fired": Fired}, args=ChildArgs, lease_seconds=LEASE_SECONDS
)
async def child(ctx: Context, wake: Wake) -> None:
    """Starts a timer on its first message; when it fires, sends a delayed message to a
    peer and completes, which wakes its parent with the response."""
    await nap()
    args: ChildArgs = ctx.args
    if any(message.payload.get("op") == "start" for message in wake.messages):
        ctx.timer("finish", args.delay)
    for timer in wake.timers:
        found = ctx.state.fired.get(timer.name)
        ctx.state.fired.upsert(Fired(id=timer.name, times=found.times + 1 if found else 1))
        if timer.name == "timer:finish":
            forward(ctx, args.peer, f"{ctx.id}.done", delay=0.1)
            ctx.complete({"child": ctx.id})
    record_pass(ctx, wake)


@registry.entity("peer", state=COMMON, lease_seconds=LEASE_SECONDS)
async def peer(ctx: Context, wake: Wake) -> None:
    """Only notes what it receives, from clients, parents and children."""
    await nap()
    record_pass(ctx, wake)
