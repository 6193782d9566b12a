"""Assembling a pass's commit: one transaction that ends it.

It holds, in order: the entity's events (what the run did not flush yet, the handler's
own writes, the rows that close what a pass over for good left open, the status, the
cursor and the wake record) through the pass's fenced producer; the operations the
handler asked for (sends, spawns, timers, links); the report to a parent; cron's next
tick; a snapshot when one is due; and the acknowledgement of the wake. So the handler's
writes land exactly once, with the acknowledgement of the inputs that caused them.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import orjson

from ...errors import LOST_CLAIM, WakefulError
from ...streams import batch
from ...streams.model import AppendRequest, CreateRequest, ProducerClaim
from ...streams.subscriptions.model import Ack, SubscriptionRow, WakeRequest
from ...streams.subscriptions.tokens import TokenClaims
from .. import events
from .. import vocabulary as v
from ..addressing import Address
from ..context import JSON, next_cron
from ..loading import SNAPSHOT_LABEL
from ..resources import KILLED, PASS_FAILED, STOPPED, PassCloser
from ..wake import Timer, Wake
from .flushes import PRODUCER
from .inputs import manifest

if TYPE_CHECKING:
    from .handler_pass import Pass

log = logging.getLogger("wakeful.entities")
# Why a pass is over for good, by the status it leaves the entity in.
CLOSE_REASON = {v.FAILED: PASS_FAILED, v.STOPPED: STOPPED, v.KILLED: KILLED}


async def commit(p: Pass) -> None:
    """Commit ``p``; if what the handler asked for cannot be committed (say, a child id
    that exists), record the failure instead, without its effects."""
    storage = p.runner.storage
    p.closing = await closing(p)
    try:
        await storage.commit(await operations(p, p.snapshot))
    except WakefulError as exc:
        if p.ctx is None or isinstance(exc, LOST_CLAIM):
            raise
        log.warning("%s: pass could not commit: %s", p.address, exc.message)
        p.ctx, p.store = None, None
        p.failure, p.new_status = exc, v.FAILED
        p.closing = await closing(p)
        await storage.commit(await operations(p, None))


async def closing(p: Pass) -> list[dict[str, Any]]:
    """The events that end the runs, steps and tool calls left open when the pass is over
    for good (from the agent layer's closer, if the runtime has one)."""
    closer = p.runner.resources.get(PassCloser)
    if closer is None or p.new_status == p.status:
        return []
    reason = CLOSE_REASON.get(p.new_status)
    if reason is None:
        return []
    flushes = p.flushes
    if flushes is not None:
        # The pass flushed: close what the stream holds now, not what the claim saw.
        await p.runner.cache.catch_up(p.loaded, p.address, flushes.end)
    store = p.loaded.store
    failure = p.failure
    return closer(store, reason, f"{type(failure).__name__}: {failure}" if failure else None)


async def operations(p: Pass, snapshot: dict[str, Any] | None) -> list[batch.Operation]:
    own: list[dict[str, Any]] = []
    operations: list[batch.Operation] = []
    labels: dict[str, str | None] = {}
    address, inputs, ctx, failure = p.address, p.inputs, p.ctx, p.failure
    wake = inputs.wake
    if ctx is not None:
        # What the run did not flush yet, then the handler's own writes: these land after
        # the run's flushed rows, and only here, with the acknowledgement.
        for buffer in (ctx.progress, ctx.output):
            own.extend(buffer.events)
            operations.extend(buffer.operations)
            labels.update(buffer.labels)
    own.extend(p.closing)
    if failure is not None:
        message = f"{type(failure).__name__}: {failure}"
        own.append(events.error(message, "handler", p.attempts))
    if p.new_status != p.status:
        own.append(events.manifest("status", {"status": p.new_status}))
        labels["status"] = p.new_status
        if p.new_status in v.TERMINAL:
            own.append(events.stopped(p.new_status))
    operations.extend(_report_to_parent(p))
    if ctx is not None:
        for timer in wake.timers:
            if timer.kind == "cron":
                own.extend(_reschedule_cron(p, timer, operations))
    for path in inputs.timeouts_met:
        operations.append(batch.CancelSchedule(f"{address.url}#timeout:{path}"))
    for path, quiet_at in inputs.deferred.items():
        message_bytes = orjson.dumps(events.timer(f"debounce:{path}", "debounce"))
        key = f"{address.url}#debounce:{path}"
        operations.append(batch.ScheduleAppend(key, address.stream, message_bytes, quiet_at))
    # Handled inputs move the cursor; while paused or failed they wait for a resume.
    handled = p.new_status == v.IDLE or p.new_status in v.TERMINAL
    if handled and failure is None and (not wake.is_empty() or inputs.control or inputs.deferred):
        store = p.store or p.loaded.store
        previous = manifest(store, "cursor") or {}
        streams = {**previous.get("streams", {}), **inputs.cursor}
        own.append(events.manifest("cursor", {"streams": streams}))
        for request_id in inputs.answered:
            # Answered: no longer pending, and its timeout (if any) never fires.
            own.append(events.manifest_removed(f"request:{request_id}"))
            operations.append(batch.CancelSchedule(f"{address.url}#request:{request_id}"))
        if not wake.is_empty():
            own.append(_wake_record(wake, p.row.generation))
    if snapshot is not None:
        operations.extend(await _snapshot_operations(p, snapshot, labels))
    if labels:
        operations.append(batch.SetLabels(address.stream, labels))
    if p.new_status in v.TERMINAL:
        operations.append(batch.DeleteSubscription(p.row.id))
    # Link new streams after this pass's own writes to them (say, its first write to a
    # shared state it joins), so that those writes do not wake it again.
    operations.sort(key=lambda op: isinstance(op, batch.LinkStreams | batch.UnlinkStream))
    unlinked = {op.path for op in operations if isinstance(op, batch.UnlinkStream)}
    ops: list[batch.Operation] = []
    flushes = p.flushes
    if own:
        producer = ProducerClaim(PRODUCER, p.row.generation, flushes.seq if flushes else 0)
        body = [orjson.dumps(event) for event in own]
        ops.append(batch.Append(AppendRequest(address.stream, JSON, body, producer=producer)))
    ops.extend(operations)
    if p.new_status not in v.TERMINAL:
        # After contiguous flushes, acking where they ended lets the final append be
        # covered too (see batch.extend_acks); otherwise the flushed events count as new
        # work and a quick no-op pass follows.
        own_end = flushes.own_end if flushes is not None and flushes.contiguous else None
        positions = {address.stream: own_end} if own_end else None
        ops.append(ack(p.row, p.claims, positions, skip=unlinked))
    return ops


def _report_to_parent(p: Pass) -> list[batch.Operation]:
    parent = p.created.get("parent")
    if not parent:
        return []
    ctx = p.ctx
    if p.failure is not None:
        event = events.child_status(p.address.url, "failed", None, str(p.failure))
    elif ctx is not None and (completion := ctx.output.completion or ctx.progress.completion):
        event = events.child_status(p.address.url, "completed", completion.get("response"))
    else:
        return []
    request = AppendRequest(Address.parse(str(parent)).stream, JSON, [orjson.dumps(event)])
    return [batch.Append(request, optional=True)]


async def _snapshot_operations(
    p: Pass, snapshot: dict[str, Any], labels: dict[str, str | None]
) -> list[batch.Operation]:
    address = p.address
    try:
        start = (await p.runner.storage.head(address.snapshots)).tail
    except WakefulError:
        start = 0
    labels[SNAPSHOT_LABEL] = str(start)
    create = CreateRequest(address.snapshots, JSON, None, None, False, b"")
    return [
        batch.CreateStream(create, {"kind": "snapshots"}),
        batch.Append(AppendRequest(address.snapshots, JSON, [orjson.dumps(snapshot)])),
    ]


def _reschedule_cron(
    p: Pass, timer: Timer, operations: list[batch.Operation]
) -> list[dict[str, Any]]:
    assert p.ctx is not None
    store, address = p.ctx.store, p.address
    payload = timer.payload if isinstance(timer.payload, dict) else {}
    name = str(payload.get("name", timer.name.removeprefix("cron:")))
    registration = manifest(store, f"cron:{name}")
    touched = any(
        event.get("type") == v.MANIFEST and event.get("key") == f"cron:{name}"
        for event in p.ctx.output.events
    )
    if not registration or touched:
        return []  # gone, or the handler cancelled or replaced it in this pass
    due = next_cron(str(registration["expression"]), time.time())
    message = orjson.dumps(
        events.timer(f"cron:{name}", "cron", {"name": name, "payload": registration.get("payload")})
    )
    operations.append(
        batch.ScheduleAppend(f"{address.url}#cron:{name}", address.stream, message, due)
    )
    return [events.manifest(f"cron:{name}", {**registration, "next_at": due})]


def ack(
    row: SubscriptionRow,
    claims: TokenClaims,
    positions: dict[str, int] | None = None,
    skip: set[str] | frozenset[str] = frozenset(),
) -> batch.AckWake:
    """Ack every linked stream (but those in ``skip``, which the pass unlinks)."""
    assert row.wake_id is not None
    positions = positions or {}
    acks = tuple(
        Ack(link.path, positions.get(link.path, link.tail))
        for link in row.links
        if link.path not in skip
    )
    return batch.AckWake(row.id, claims, WakeRequest(row.wake_id, row.generation, acks, done=True))


def _wake_record(wake: Wake, generation: int) -> dict[str, Any]:
    return events.wake_record(
        {
            "reasons": wake.reasons,
            "count": wake.count,
            "generation": generation,
            "ranges": [
                {"stream": r.stream, "from": r.start, "to": r.end, "events": r.events}
                for r in wake.ranges
            ],
        }
    )
