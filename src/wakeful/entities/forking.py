"""Forking an entity: a new entity of the same type whose stream is a fork of the source's.

The fork's stream shares the source's events up to the fork position (the streams
layer's fork, which copies nothing) and goes on on its own: its state, its agent's runs
and history are the source's as they stood there. The position is the end of a pass
that committed: the one that ended the given run, or the source's last completed run,
or (an entity with no runs) its last committed pass. So the fork never starts inside a
pass, with half of a commit.

What the fork does not take over: the source's pending timers and crons (schedules
belong to the entity that set them), its children (they report to the source), and its
requests' answers (they go to the source). It does keep what it observes and the shared
states it joined: its subscription links those streams again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest, ErrorCode, NotFound, UnknownRun
from ..state import StateStore
from ..streams import batch
from ..streams.model import CreateRequest, ForkSpec
from ..streams.storage.access import PassStorage
from . import events
from . import vocabulary as v
from .addressing import Address
from .context import JSON
from .loading import Positioned, read_messages
from .subscription import EntitySubscription

COMPLETED = "completed"  # the agent's run.status of a run that finished well


@dataclass(frozen=True, slots=True)
class ForkPoint:
    """Where a fork branches from its source, and the state the source had there."""

    position: int
    run: str | None  # the run it follows, if the source had one
    state: StateStore


async def fork_point(storage: PassStorage, source: Address, at: str | None) -> ForkPoint:
    """The end of the pass that ended run ``at`` (or the last completed run; or, without
    runs, the last committed pass) on ``source``'s stream."""
    stream = await storage.head(source.stream)
    messages = [m async for m in read_messages(storage, source.stream, 0, stream.tail)]
    ended = _run_end(messages, at)
    if at is not None and ended is None:
        raise UnknownRun(f"{source.url} has no completed run {at!r} to fork at")
    start = ended[0] if ended is not None else 0
    position = _pass_end(messages, start, stream.tail)
    state = StateStore()
    for message in messages:
        if message.end > position:
            break
        if isinstance(message.value, dict):
            state.apply(message.value)
    return ForkPoint(position, ended[1] if ended is not None else None, state)


def _run_end(messages: list[Positioned], at: str | None) -> tuple[int, str] | None:
    """Where the run ``at`` (or the last run) was recorded completed, and its id."""
    found: tuple[int, str] | None = None
    for message in messages:
        value = message.value if isinstance(message.value, dict) else {}
        row = value.get("value")
        if value.get("type") != v.RUN or not isinstance(row, dict):
            continue
        key = str(value.get("key"))
        if row.get("status") == COMPLETED and (at is None or key == at):
            found = (message.end, key)
    return found


def _pass_end(messages: list[Positioned], start: int, tail: int) -> int:
    """The end of the first pass commit (its ``wake`` record) at or after a run's end
    ``start``, or that end itself; without a run (``start`` 0), the end of the last pass
    commit, or the ``tail`` when no pass committed yet (a copy of a fresh entity)."""
    ends = [
        m.end
        for m in messages
        if isinstance(m.value, dict) and m.value.get("type") == v.WAKE and m.end >= start
    ]
    if ends:
        return ends[0] if start else ends[-1]
    return start or tail


def fork_operations(
    source: Address,
    target: Address,
    point: ForkPoint,
    subscription: EntitySubscription,
    *,
    owner: str | None = None,
) -> list[batch.Operation]:
    """The operations that create ``target`` as a fork of ``source`` at ``point``: its
    subscription, its stream (forked, with its own identity appended) and its links."""
    if target.type != source.type:
        raise BadRequest("an entity forks into one of its own type", code=ErrorCode.INVALID_ADDRESS)
    store = point.state
    created = store.collection(v.ENTITY_CREATED).get("entity")
    if not isinstance(created, dict):
        raise NotFound(f"{source.url} is not an entity", code=ErrorCode.UNKNOWN_ENTITY)
    tags = {
        str(row["name"]): str(row["value"])
        for row in store.collection(v.TAGS)
        if isinstance(row, dict) and "name" in row
    }
    owner = owner if owner is not None else created.get("owner")
    identity = events.entity_created(
        target.url, target.type, target.id, created.get("args"), None, tags, owner
    )
    identity["value"]["forked_from"] = {
        "url": source.url,
        "offset": point.position,
        "run": point.run,
    }
    identity["headers"]["operation"] = "update"
    body: list[dict[str, Any]] = [identity, events.manifest("status", {"status": v.IDLE})]
    cursor = _manifest(store, "cursor")
    linked: list[str] = []
    if cursor is not None:
        streams = dict(cursor.get("streams", {}))
        # What the source had handled of its own stream, the fork has handled of its own.
        streams[target.stream] = streams.pop(source.stream, point.position)
        body.append(events.manifest("cursor", {"streams": streams}))
    for key, row in store.collection(v.MANIFEST).items():
        if str(key).startswith(("observe:", "shared:")) and isinstance(row, dict):
            linked.append(str(row["stream"]))
    labels = {"kind": "entity", "type": target.type, "status": v.IDLE, "forked_from": source.url}
    if owner is not None:
        labels["owner"] = str(owner)
    labels.update({f"tag:{name}": value for name, value in tags.items()})
    request = CreateRequest(
        target.stream,
        JSON,
        None,
        None,
        False,
        b"[" + b",".join(orjson.dumps(event) for event in body) + b"]",
        fork=ForkSpec(source.stream, point.position),
    )
    operations: list[batch.Operation] = [
        batch.PutSubscription(target.subscription_id, subscription.spec, subscription.base_url),
        batch.CreateStream(request, labels, exclusive=True),
    ]
    if linked:
        operations.append(batch.LinkStreams(target.subscription_id, tuple(linked)))
    return operations


def _manifest(store: StateStore, key: str) -> dict[str, Any] | None:
    row = store.collection(v.MANIFEST).get(key)
    return row if isinstance(row, dict) else None
