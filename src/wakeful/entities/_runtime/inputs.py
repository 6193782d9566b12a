"""Gathering a wake's inputs: the events between the entity's cursor and the claim's tails.

The cursor (a ``manifest`` row on the entity's own stream) says how far each linked
stream was handled; the claim says how far each stream went when it was woken. What lies
between becomes the :class:`~wakeful.entities.wake.Wake` the handler sees (and the
runtime signals it acts on itself), and the tails become the next cursor, committed with
the pass.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ...errors import InvalidMessage
from ...state import StateStore
from ...state.events import Change as StateChange
from ...state.events import InvalidEvent, parse
from ...streams.storage.access import PassStorage
from ...streams.subscriptions.model import Link
from .. import vocabulary as v
from ..addressing import SHARED_PREFIX, Address
from ..definition import EntityType
from ..loading import read_messages
from ..wake import (
    Change,
    ChildStatus,
    Message,
    Range,
    Reply,
    Signal,
    Timer,
    ToolResult,
    Wake,
)

log = logging.getLogger("wakeful.entities")
# Event types the runtime writes for itself; an unfiltered observer is not woken by them.
RUNTIME_BOOKKEEPING = frozenset({v.MANIFEST, v.WAKE})


@dataclass(slots=True)
class Inputs:
    wake: Wake = field(default_factory=Wake)
    control: list[str] = field(default_factory=list)  # runtime signals, in order
    cursor: dict[str, int] = field(default_factory=dict)  # new cursor per stream
    deferred: dict[str, float] = field(default_factory=dict)  # debounced streams → quiet at
    timeouts_met: list[str] = field(default_factory=list)  # observed streams that changed
    answered: list[str] = field(default_factory=list)  # requests answered (or timed out)


def manifest(store: StateStore, key: str) -> dict[str, Any] | None:
    row = store.collection(v.MANIFEST).get(key)
    return row if isinstance(row, dict) else None


def status_of(store: StateStore) -> str:
    row = manifest(store, "status")
    return str(row.get("status", v.IDLE)) if row else v.IDLE


def fold_status(status: str, control: list[str]) -> str:
    """The status after applying runtime signals in order; terminal statuses stay."""
    for name in control:
        if status in v.TERMINAL:
            break
        if name == v.PAUSE and status == v.IDLE:
            status = v.PAUSED
        elif name == v.RESUME and status in (v.PAUSED, v.FAILED):
            status = v.IDLE
        elif name == v.STOP:
            status = v.STOPPED
        elif name == v.KILL:
            status = v.KILLED
    return status


@dataclass(slots=True)
class Gathering:
    """Reads one wake's inputs from the entity's own stream and the streams it observes
    (updating the runtime's copies of shared states on the way)."""

    storage: PassStorage
    shared: dict[str, StateStore]
    address: Address
    definition: EntityType
    store: StateStore
    inputs: Inputs = field(default_factory=Inputs)

    async def gather(self, links: list[Link]) -> Inputs:
        address, inputs = self.address, self.inputs
        wake = inputs.wake
        cursor_row = manifest(self.store, "cursor") or {}
        cursor: dict[str, int] = dict(cursor_row.get("streams", {}))
        wake.first = address.stream not in cursor
        # Where the inputs begin on the entity's own stream: every committed pass moves it
        # (its commit appends there), a failed or crashed one does not.
        wake.key = str(cursor.get(address.stream, 0))
        for link in links:
            path = link.path
            start = cursor.get(path, 0 if path == address.stream else link.acked)
            if start >= link.tail:
                continue
            if path == address.stream:
                count = await self._own(start, link.tail)
            else:
                count = await self._observed(path, start, link.tail)
            if path in inputs.deferred:
                # Debounced changes are not handled yet; the cursor stays where they begin
                # (the ack moves past them, so without it the next pass would skip them).
                inputs.cursor[path] = start
            else:
                inputs.cursor[path] = link.tail
                if count:
                    wake.ranges.append(Range(path, start, link.tail, count))
        return inputs

    async def _own(self, start: int, end: int) -> int:
        wake, inputs = self.inputs.wake, self.inputs
        count = 0
        async for message in read_messages(self.storage, self.address.stream, start, end):
            try:
                event = parse(message.value)
            except InvalidEvent:
                continue
            if not isinstance(event, StateChange) or event.type not in v.INPUTS:
                continue
            value = event.value if isinstance(event.value, dict) else {}
            count += 1
            if event.type == v.INBOX and "in_reply_to" in value:
                self._answer(str(value["in_reply_to"]), value.get("payload"), value.get("from"))
            elif event.type == v.TIMER and value.get("kind") == v.REQUEST_TIMEOUT:
                pending = value.get("payload")
                request_id = pending.get("request_id") if isinstance(pending, dict) else None
                self._answer(str(request_id), None, None, timed_out=True)
            elif event.type == v.INBOX:
                try:
                    payload = self.definition.validate_message(value.get("payload"))
                except InvalidMessage as exc:
                    log.warning(
                        "%s: dropping invalid inbox message %s: %s", self.address, event.key, exc
                    )
                    continue
                request_id = value.get("request_id")
                wake.messages.append(
                    Message(
                        event.key,
                        payload,
                        value.get("from"),
                        event.timestamp,
                        str(request_id) if request_id is not None else None,
                        principal if isinstance(principal := value.get("principal"), str) else None,
                    )
                )
            elif event.type == v.SIGNAL:
                name = str(value.get("name", ""))
                if name in v.CONTROL_SIGNALS:
                    inputs.control.append(name)
                    if name == v.INTERRUPT:
                        wake.interrupted = True
                else:
                    wake.signals.append(Signal(event.key, name, value.get("payload")))
            elif event.type == v.CHILD_STATUS:
                wake.children.append(
                    ChildStatus(
                        str(value.get("url", event.key)),
                        str(value.get("status", "")),
                        value.get("response"),
                        value.get("error"),
                    )
                )
            elif event.type == v.TOOL_RESULT:
                wake.tool_results.append(
                    ToolResult(
                        str(value.get("call_id", event.key)),
                        str(value.get("status", "")),
                        value.get("result"),
                        value.get("error"),
                    )
                )
            elif event.type == v.TIMER:
                if value.get("kind") == "debounce":
                    continue  # internal: it only makes the deferred changes due
                wake.timers.append(
                    Timer(
                        str(value.get("name", "")),
                        str(value.get("kind", "timer")),
                        value.get("payload"),
                    )
                )
        return count

    def _answer(
        self, request_id: str, payload: Any, sender: Any, *, timed_out: bool = False
    ) -> None:
        """The first answer to a pending request (its reply, or its timeout) wakes the
        requester; anything after it, or for a request it never sent, is dropped."""
        pending = manifest(self.store, f"request:{request_id}")
        if pending is None or request_id in self.inputs.answered:
            log.info("%s: dropping an answer to request %r: not pending", self.address, request_id)
            return
        self.inputs.answered.append(request_id)
        target = str(pending.get("target", ""))
        reply = Reply(request_id, target, payload, sender if isinstance(sender, str) else None)
        if timed_out:
            reply = Reply(request_id, target, timed_out=True)
        self.inputs.wake.replies.append(reply)

    async def _observed(self, path: str, start: int, end: int) -> int:
        shared = path.startswith(SHARED_PREFIX)
        registration = manifest(self.store, f"observe:{path}") or {}
        collections = registration.get("collections")
        operations = registration.get("operations")
        shared_store = self.shared.get(path) if shared else None
        count = 0
        latest = 0.0
        found: list[Change] = []
        async for message in read_messages(self.storage, path, start, end):
            try:
                event = parse(message.value)
            except InvalidEvent:
                continue
            if not isinstance(event, StateChange):
                continue
            if shared_store is not None and message.start >= shared_store.position:
                shared_store.apply(message.value)
                shared_store.position = message.end
            if collections is None and event.type in RUNTIME_BOOKKEEPING:
                continue  # the observed entity's own cursor and wake records are not news
            if collections is not None and event.type not in collections:
                continue
            if operations is not None and event.operation not in operations:
                continue
            count += 1
            latest = max(latest, _seconds(event.timestamp))
            found.append(Change(path, event.type, event.key, event.operation, event.value, shared))
        debounce = registration.get("debounce")
        if found and debounce:
            quiet_at = latest + float(debounce)
            if quiet_at > time.time():
                self.inputs.deferred[path] = quiet_at
                return count
        self.inputs.wake.changes.extend(found)
        if found:
            self.inputs.timeouts_met.append(path)
        return count


def _seconds(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return 0.0
