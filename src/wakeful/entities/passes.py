"""One handler pass: gather the inputs of a claimed wake, run the handler, commit.

The inputs are the events between the entity's cursor (recorded on its own stream) and
the tails the claim saw. The commit is one transaction holding the entity's events
(through a producer fenced by the claim's generation), everything the handler asked for,
the new cursor, and the acknowledgement of the wake. Crash anywhere before it and the
next claim starts from the same inputs; after it, the inputs are never handled again.

Exactly once, with an agent in the pass (docs/entities.md, "Exactly once"):

- The handler's writes (``ctx.output``) are held until that final commit, so they land
  exactly once, with the acknowledgement. Flushes commit only ``ctx.progress``: the agent
  loop's rows, and a tool's writes, moved there with its result. The other way (ack the
  inputs with the first flush and continue runs through a run-level wake) would need a
  second kind of wake and would split one pass's writes across commits; holding costs
  only the ordering: on the stream, handler rows come after the run's flushed rows.
- A run's progress is a record of facts (a tool that completed did run), so a failed
  attempt's progress is flushed before the retry, and each attempt loads the state to the
  end of this pass's flushes: the retry finds the run and continues it. A run records
  the wake keys it served (``Wake.key``, stable across retries and re-claims of the same
  inputs), so a retry whose run had already ended gets its result, not a second run.
- A pass over for good (kill, stop, attempts exhausted, a commit that failed) closes the
  runs, steps and tool calls it left open, through the ``PassCloser`` the agent layer
  provides as a resource (this layer does not import the agent).
- The lease is heartbeated from the claim until the commit returns; losing it cancels the
  handler and the pass commits nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from ..errors import LOST_CLAIM, Fenced, InvalidMessage, WakefulError
from ..state import StateStore
from ..state.events import Change as StateChange
from ..state.events import InvalidEvent, parse
from ..streams import batch
from ..streams.model import AppendRequest, AppendResult, CreateRequest, ProducerClaim
from ..streams.storage import Storage
from ..streams.subscriptions.model import Ack, Link, SubscriptionRow, WakeRequest
from ..streams.subscriptions.tokens import TokenClaims
from . import events, loading
from . import vocabulary as v
from .addressing import SHARED_PREFIX, Address
from .context import JSON, Context, next_cron
from .definition import EntityType, Registry
from .loading import SNAPSHOT_LABEL, StateCache, read_messages
from .resources import KILLED, PASS_FAILED, STOPPED, PassCloser, Resources
from .wake import Change, ChildStatus, Message, Range, Signal, Timer, ToolResult, Wake

log = logging.getLogger("wakeful.entities")
PRODUCER = "wakeful-runtime"
# Event types the runtime writes for itself; an unfiltered observer is not woken by them.
RUNTIME_BOOKKEEPING = frozenset({v.MANIFEST, v.WAKE})
# How often, at most, a running pass looks for interrupt, stop and kill signals.
SIGNAL_CHECK_SECONDS = 0.05
# How long a flush not waited for may wait for company before it commits on its own.
DEFERRED_FLUSH_SECONDS = 0.002
# Why a pass is over for good, by the status it leaves the entity in.
_CLOSE_REASON = {v.FAILED: PASS_FAILED, v.STOPPED: STOPPED, v.KILLED: KILLED}


@dataclass(slots=True)
class Flushes:
    """The commits a pass made before its final one: producer sequence, where they ended
    (and whether only they were appended meanwhile), the latest one, and a failure.

    Flushes commit in the order they were asked for, one after another, but the caller
    need not wait: the agent loop records a tool's result and goes on to the next model
    call while that commits. The first failure sticks: later flushes and the final commit
    raise it, and the pass is retried from the stream."""

    row: SubscriptionRow
    seq: int  # the producer sequence of the next flush
    own_end: int
    contiguous: bool = True
    latest: asyncio.Future[None] | None = None
    failure: BaseException | None = None
    deferred: asyncio.TimerHandle | None = None  # a flush not waited for, due soon
    landed: int = -1  # the producer sequence after the last append that landed
    end: int = -1  # the stream's tail after the last append that landed

    def __post_init__(self) -> None:
        self.landed = self.seq
        self.end = max(self.end, self.own_end)

    def next_attempt(self) -> Flushes:
        """The flushes of the next attempt: they go on from where these landed (starting
        the producer sequence over would have them taken for duplicates and dropped)."""
        return Flushes(self.row, self.landed, self.own_end, self.contiguous, end=self.end)

    async def settled(self) -> None:
        """Wait for every flush asked for so far; raise the first failure."""
        if self.latest is not None and not self.latest.done():
            await asyncio.wait({self.latest})
        if self.failure is not None:
            raise self.failure


@dataclass(slots=True)
class Outcome:
    status: str
    new_status: str
    ctx: Context | None = None
    store: StateStore | None = None
    failure: BaseException | None = None
    attempts: int = 0
    flushes: Flushes | None = None
    killed: bool = False  # a kill signal cancelled the handler
    claimed: StateStore | None = None  # the state as the claim found it
    closing: list[dict[str, Any]] = field(default_factory=list)  # ends what it left open


@dataclass(slots=True)
class Lease:
    """The claim's lease, heartbeated from the start of the pass until its commit returns.

    Losing it cancels the handler; the pass then commits nothing (another worker may hold
    the wake by now)."""

    lost: bool = False
    handler: asyncio.Task[None] | None = None


@dataclass(slots=True)
class Inputs:
    wake: Wake = field(default_factory=Wake)
    control: list[str] = field(default_factory=list)  # runtime signals, in order
    cursor: dict[str, int] = field(default_factory=dict)  # new cursor per stream
    deferred: dict[str, float] = field(default_factory=dict)  # debounced streams → quiet at
    timeouts_met: list[str] = field(default_factory=list)  # observed streams that changed


def _manifest(store: StateStore, key: str) -> dict[str, Any] | None:
    row = store.collection(v.MANIFEST).get(key)
    return row if isinstance(row, dict) else None


def status_of(store: StateStore) -> str:
    row = _manifest(store, "status")
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


class PassRunner:
    def __init__(
        self,
        storage: Storage,
        registry: Registry,
        cache: StateCache,
        worker: str,
        resources: Resources | None = None,
    ) -> None:
        self.storage = storage
        self.registry = registry
        self.cache = cache
        self.worker = worker
        #: What every pass's context is given (the agent loop, in a server).
        self.resources = resources or Resources()
        self.shared: dict[str, StateStore] = {}
        self._flushes: dict[int, Flushes] = {}

    async def run(self, address: Address, row: SubscriptionRow) -> None:
        assert row.wake_id is not None
        claims = TokenClaims(row.id, row.generation, row.wake_id)
        lease = Lease()
        keeper = asyncio.create_task(self._keep_lease(row, claims, lease))
        try:
            await self._run(address, row, claims, lease)
        finally:
            keeper.cancel()
            await asyncio.wait({keeper})

    async def _run(
        self, address: Address, row: SubscriptionRow, claims: TokenClaims, lease: Lease
    ) -> None:
        definition = self.registry.get(address.type)
        main = next((link for link in row.links if link.path == address.stream), None)
        if main is None:
            await self._ack_only(row, claims)
            return
        loaded = await self.cache.load(address, definition, main.tail)
        created = loaded.store.collection(v.ENTITY_CREATED).get("entity")
        if not isinstance(created, dict):
            await self._ack_only(row, claims)  # not (yet) an entity's stream
            return
        inputs = await self._gather(address, definition, loaded.store, row.links)
        status = status_of(loaded.store)
        new_status = fold_status(status, inputs.control)
        snapshot = None
        if loaded.store.events - loaded.snapshot_events >= loading.SNAPSHOT_EVERY_EVENTS:
            snapshot = loaded.store.snapshot()
        outcome = Outcome(status=status, new_status=new_status, claimed=loaded.store)
        if new_status == v.IDLE and not inputs.wake.is_empty():
            outcome = await self._attempts(
                address, definition, row, lease, created, inputs, outcome, main.tail
            )
        self.cache.drop(address.url)
        outcome.closing = await self._closing(address, definition, outcome)
        if lease.lost:
            raise Fenced(f"{row.id}: lost the lease; the pass commits nothing")
        await self._commit(address, definition, row, claims, inputs, outcome, snapshot, created)
        if outcome.ctx is not None and outcome.store is not None:
            # Cache the state as read from the stream, not the handler's copy: that one holds
            # the pass's own writes without their stream positions (the next load replays
            # them from the stream, in order).
            if snapshot is not None:
                loaded.snapshot_events = int(snapshot["events"])
            self.cache.put(address.url, loaded)

    async def _ack_only(self, row: SubscriptionRow, claims: TokenClaims) -> None:
        await self.storage.commit([_ack(row, claims)])

    # --- inputs ----------------------------------------------------------------------

    async def _gather(
        self,
        address: Address,
        definition: EntityType,
        store: StateStore,
        links: list[Link],
    ) -> Inputs:
        inputs = Inputs()
        wake = inputs.wake
        cursor_row = _manifest(store, "cursor") or {}
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
                count = await self._own_inputs(address, definition, store, start, link.tail, inputs)
            else:
                count = await self._observed(store, path, start, link.tail, inputs)
            if path in inputs.deferred:
                # Debounced changes are not handled yet; the cursor stays where they begin
                # (the ack moves past them, so without it the next pass would skip them).
                inputs.cursor[path] = start
            else:
                inputs.cursor[path] = link.tail
                if count:
                    wake.ranges.append(Range(path, start, link.tail, count))
        return inputs

    async def _own_inputs(
        self,
        address: Address,
        definition: EntityType,
        store: StateStore,
        start: int,
        end: int,
        inputs: Inputs,
    ) -> int:
        wake = inputs.wake
        count = 0
        async for message in read_messages(self.storage, address.stream, start, end):
            try:
                event = parse(message.value)
            except InvalidEvent:
                continue
            if not isinstance(event, StateChange) or event.type not in v.INPUTS:
                continue
            value = event.value if isinstance(event.value, dict) else {}
            count += 1
            if event.type == v.INBOX:
                try:
                    payload = definition.validate_message(value.get("payload"))
                except InvalidMessage as exc:
                    log.warning(
                        "%s: dropping invalid inbox message %s: %s", address, event.key, exc
                    )
                    continue
                wake.messages.append(
                    Message(event.key, payload, value.get("from"), event.timestamp)
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

    async def _observed(
        self, store: StateStore, path: str, start: int, end: int, inputs: Inputs
    ) -> int:
        shared = path.startswith(SHARED_PREFIX)
        registration = _manifest(store, f"observe:{path}") or {}
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
                inputs.deferred[path] = quiet_at
                return count
        inputs.wake.changes.extend(found)
        if found:
            inputs.timeouts_met.append(path)
        return count

    # --- the handler -----------------------------------------------------------------

    async def _attempts(
        self,
        address: Address,
        definition: EntityType,
        row: SubscriptionRow,
        lease: Lease,
        created: dict[str, Any],
        inputs: Inputs,
        outcome: Outcome,
        tail: int,
    ) -> Outcome:
        """Run the handler, retrying with backoff; a pass that keeps failing marks the entity
        failed (its inputs stay unhandled until a resume)."""
        for attempt in range(1, definition.max_attempts + 1):
            outcome.attempts = attempt
            # Each attempt starts from the stream, not from what a failed attempt changed,
            # but with what this pass flushed (the run it continues).
            flushes = outcome.flushes.next_attempt() if outcome.flushes else Flushes(row, 0, tail)
            self.cache.drop(address.url)
            store = (await self.cache.load(address, definition, max(tail, flushes.end))).store
            ctx = await self._context(address, definition, created, store, inputs.wake.first)
            outcome.flushes = self._flushes[id(ctx)] = flushes
            task: asyncio.Task[None] = asyncio.ensure_future(
                self._call(definition, ctx, inputs.wake)
            )
            lease.handler = task
            helpers: list[asyncio.Future[None]] = [
                asyncio.create_task(self._watch_signals(address, tail, ctx, task, outcome)),
            ]
            try:
                await task
                await outcome.flushes.settled()  # the handler's flushes count as its work
                outcome.ctx, outcome.store, outcome.failure = ctx, store, None
                return outcome
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if not task.cancelled() or (current is not None and current.cancelling()):
                    # This worker is stopping (the pass itself was cancelled, not just the
                    # handler): commit nothing, so the next claim resumes from the stream.
                    raise
                if lease.lost:
                    # Another worker may hold the wake by now: commit nothing either.
                    raise Fenced(f"{row.id}: lost the lease; nothing commits") from None
                # A kill: over for good. What the run recorded lands, and its open rows
                # are closed with the commit.
                self._start_flush(ctx, flushes)
                outcome.killed, outcome.new_status, outcome.failure = True, v.KILLED, None
                return outcome
            except Exception as exc:
                outcome.failure = exc
                log.warning("%s: handler attempt %d failed: %r", address, attempt, exc)
                # The run's records are facts (a tool that completed did run): they land
                # now, so that the retry continues the run from them. The handler's own
                # writes do not: the retry makes them again.
                self._start_flush(ctx, flushes)
            finally:
                lease.handler = None
                self._flushes.pop(id(ctx), None)
                if outcome.flushes.deferred is not None:
                    outcome.flushes.deferred.cancel()  # the final commit takes what is left
                    outcome.flushes.deferred = None
                for helper in helpers:
                    helper.cancel()
                if outcome.flushes.latest is not None:
                    helpers.append(outcome.flushes.latest)  # a flush still landing, if any
                # Not ``await helper`` under suppress(CancelledError): that would swallow a
                # cancellation of this pass (the worker stopping) arriving meanwhile.
                await asyncio.wait(helpers)
                for helper in helpers:
                    if not helper.cancelled():
                        helper.exception()
            if attempt < definition.max_attempts:
                await asyncio.sleep(definition.retry_seconds * 2 ** (attempt - 1))
        outcome.new_status = v.FAILED
        return outcome

    @staticmethod
    async def _call(definition: EntityType, ctx: Context, wake: Wake) -> None:
        """Custom signals go to the type's signal handler, when it has one; the handler runs
        for everything else (and for signals too, when there is no signal handler)."""
        ctx.wake = wake
        if definition.on_signal is not None and wake.signals:
            for signal in wake.signals:
                await definition.on_signal(ctx, signal)
            rest = Wake(
                key=wake.key,
                first=wake.first,
                messages=wake.messages,
                children=wake.children,
                changes=wake.changes,
                timers=wake.timers,
                tool_results=wake.tool_results,
                ranges=wake.ranges,
                interrupted=wake.interrupted,
            )
            if rest.is_empty():
                return
            wake = rest
        await definition.handler(ctx, wake)

    async def _context(
        self,
        address: Address,
        definition: EntityType,
        created: dict[str, Any],
        store: StateStore,
        first_wake: bool,
    ) -> Context:
        tags = {
            str(row.get("name")): str(row.get("value"))
            for row in store.collection(v.TAGS)
            if isinstance(row, dict)
        }
        shared: dict[str, StateStore] = {}
        for row in store.collection(v.MANIFEST):
            if isinstance(row, dict) and "stream" in row and "name" in row and "target" not in row:
                shared[str(row["name"])] = await self._shared_store(str(row["stream"]))
        try:
            args = definition.validate_args(created.get("args"))
        except WakefulError:
            args = created.get("args")
        return Context(
            address=address,
            definition=definition,
            registry=self.registry,
            store=store,
            args=args,
            parent=created.get("parent"),
            tags=tags,
            first_wake=first_wake,
            shared=shared,
            known=set(),
            resources=self.resources,
            flusher=self._flush,
            shared_loader=self._shared_store,
        )

    async def _flush(self, ctx: Context, wait: bool = True) -> None:
        flushes = self._flushes.get(id(ctx))
        if flushes is None:
            return
        if flushes.failure is not None:
            raise flushes.failure
        if not wait:
            # Committed within DEFERRED_FLUSH_SECONDS, or sooner with the next flush that
            # waits: the agent loop's tool result and the next step's start then share one
            # commit, and nothing that waits on a flush runs before this one has landed.
            if flushes.deferred is None:
                flushes.deferred = asyncio.get_running_loop().call_later(
                    DEFERRED_FLUSH_SECONDS, self._start_flush, ctx, flushes
                )
            return
        self._start_flush(ctx, flushes)
        latest = flushes.latest
        if latest is not None:
            if not latest.done():
                # Shielded: a flush whose caller is cancelled still lands (or fails) in
                # order; the end of the pass waits for it.
                await asyncio.shield(latest)
            if flushes.failure is not None:
                raise flushes.failure

    def _start_flush(self, ctx: Context, flushes: Flushes) -> None:
        """Put what is buffered on its way to the database, after the flushes before it."""
        if flushes.deferred is not None:
            flushes.deferred.cancel()
            flushes.deferred = None
        if flushes.failure is not None or self._flushes.get(id(ctx)) is not flushes:
            return  # failed, or the pass is over: its final commit takes the rest
        seq = flushes.seq
        operations, size = self._take_output(ctx, flushes)
        if operations:
            flushes.latest = asyncio.ensure_future(
                self._commit_flush(flushes, operations, size, seq, flushes.latest)
            )

    @staticmethod
    def _take_output(ctx: Context, flushes: Flushes) -> tuple[list[batch.Operation], int]:
        """The progress buffered so far (never the handler's own writes: they wait for the
        final commit), as the operations of one flush (and the bytes it appends); the
        buffer starts over for the next flush."""
        output = ctx.progress
        events, extra, labels = list(output.events), list(output.operations), dict(output.labels)
        output.events.clear()
        output.operations.clear()
        output.labels.clear()
        operations: list[batch.Operation] = []
        size = 0
        if events:
            body = [orjson.dumps(event) for event in events]
            size = sum(len(message) for message in body)
            producer = ProducerClaim(PRODUCER, flushes.row.generation, flushes.seq)
            flushes.seq += 1  # taken now: the next flush may be on its way before this lands
            request = AppendRequest(ctx.address.stream, JSON, body, producer=producer)
            operations.append(batch.Append(request))
        operations.extend(extra)
        if labels:
            operations.append(batch.SetLabels(ctx.address.stream, labels))
        return operations, size

    async def _commit_flush(
        self,
        flushes: Flushes,
        operations: list[batch.Operation],
        size: int,
        seq: int,
        previous: asyncio.Future[None] | None,
    ) -> None:
        in_order = self.storage.commits_in_order
        try:
            if previous is not None and not in_order and not previous.done():
                await asyncio.wait({previous})
            if flushes.failure is not None:
                raise flushes.failure  # nothing commits after a failed flush
            results = await self.storage.commit(operations)
            if previous is not None and in_order and not previous.done():
                await asyncio.wait({previous})  # landed first; let it record where it ended
        except Exception as exc:
            # Kept, not raised: the next flush or the end of the pass raises it.
            if flushes.failure is None:
                flushes.failure = exc
            return
        if size:
            flushes.landed = seq + 1
            appended = results[0]
            assert isinstance(appended, AppendResult)
            flushes.end = max(flushes.end, appended.tail)
            if appended.tail - size == flushes.own_end:
                flushes.own_end = appended.tail
            else:
                flushes.contiguous = False

    async def _shared_store(self, stream: str) -> StateStore:
        store = self.shared.get(stream)
        if store is None:
            store = self.shared[stream] = StateStore()
        try:
            tail = (await self.storage.head(stream)).tail
        except WakefulError:
            return store
        async for message in read_messages(self.storage, stream, store.position, tail):
            store.apply(message.value)
            store.position = message.end
        return store

    async def _keep_lease(self, row: SubscriptionRow, claims: TokenClaims, lease: Lease) -> None:
        """Heartbeat the lease until cancelled (when the pass has committed); if it is lost,
        cancel the handler and let the pass know it must commit nothing."""
        assert row.wake_id is not None
        interval = max(row.lease_seconds / 3, 0.2)
        request = WakeRequest(row.wake_id, row.generation)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.storage.subscriptions.ack(row.id, claims, request)
            except WakefulError as exc:
                log.warning("%s: lost the lease (%s); stopping the pass", row.id, exc.code)
                lease.lost = True
                if lease.handler is not None:
                    lease.handler.cancel()
                return

    async def _watch_signals(
        self,
        address: Address,
        position: int,
        ctx: Context,
        task: asyncio.Task[None],
        outcome: Outcome,
    ) -> None:
        """While the handler runs, act on interrupt and kill signals as they arrive."""
        hub = self.storage.hub
        stream_id: int | None = None
        while not task.done():
            # Watch before reading the tail, so a signal committed in between is not missed.
            event = hub.watch(stream_id) if stream_id is not None else None
            try:
                stream = await self.storage.head(address.stream)
            except WakefulError:
                return
            if event is None or stream.id != stream_id:
                stream_id = stream.id
                continue
            flushes = self._flushes.get(id(ctx))
            if flushes is not None:
                # Let a flush that just committed (and woke us) record where it ended first.
                await asyncio.sleep(0)
                if flushes.contiguous:
                    # Up to there the stream holds only this pass's own flushes: no signals.
                    position = max(position, flushes.own_end)
            if position < stream.tail:  # else nothing new: no read
                async for message in read_messages(
                    self.storage, address.stream, position, stream.tail
                ):
                    position = message.end
                    value = message.value if isinstance(message.value, dict) else {}
                    if value.get("type") != v.SIGNAL:
                        continue
                    name = (value.get("value") or {}).get("name")
                    if name in (v.INTERRUPT, v.STOP, v.KILL):
                        ctx.interrupted.set()
                    if name == v.KILL:
                        outcome.killed = True
                        task.cancel()
                        return
            await hub.wait(event, 5.0)
            # A busy handler changes its own stream at every flush; looking at most every
            # SIGNAL_CHECK_SECONDS keeps that from costing a read per flush, and still sees
            # an interrupt well within the second it is promised in.
            await asyncio.sleep(SIGNAL_CHECK_SECONDS)

    # --- commit ----------------------------------------------------------------------

    async def _closing(
        self, address: Address, definition: EntityType, outcome: Outcome
    ) -> list[dict[str, Any]]:
        """The events that end the runs, steps and tool calls left open when the pass is
        over for good (from the agent layer's closer, if the runtime has one)."""
        closer = self.resources.get(PassCloser)
        if closer is None or outcome.new_status == outcome.status:
            return []
        reason = _CLOSE_REASON.get(outcome.new_status)
        if reason is None:
            return []
        store = outcome.claimed
        flushes = outcome.flushes
        if store is None or (flushes is not None and flushes.end > store.position):
            # The pass flushed: close what the stream holds now, not what the claim saw
            # (a fresh load: the cached state is the one as claimed).
            upto = flushes.end if flushes is not None else 0
            store = (await self.cache.load(address, definition, upto)).store
        failure = outcome.failure
        return closer(store, reason, f"{type(failure).__name__}: {failure}" if failure else None)

    async def _commit(
        self,
        address: Address,
        definition: EntityType,
        row: SubscriptionRow,
        claims: TokenClaims,
        inputs: Inputs,
        outcome: Outcome,
        snapshot: dict[str, Any] | None,
        created: dict[str, Any],
    ) -> None:
        try:
            await self.storage.commit(
                await self._operations(address, row, claims, inputs, outcome, snapshot, created)
            )
        except WakefulError as exc:
            if outcome.ctx is None or isinstance(exc, LOST_CLAIM):
                raise
            # What the handler asked for cannot be committed (say, a child id that exists):
            # record the failure instead, without its effects.
            log.warning("%s: pass could not commit: %s", address, exc.message)
            outcome.ctx, outcome.store = None, None
            outcome.failure, outcome.new_status = exc, v.FAILED
            outcome.closing = await self._closing(address, definition, outcome)
            await self.storage.commit(
                await self._operations(address, row, claims, inputs, outcome, None, created)
            )

    async def _operations(
        self,
        address: Address,
        row: SubscriptionRow,
        claims: TokenClaims,
        inputs: Inputs,
        outcome: Outcome,
        snapshot: dict[str, Any] | None,
        created: dict[str, Any],
    ) -> list[batch.Operation]:
        own: list[dict[str, Any]] = []
        operations: list[batch.Operation] = []
        labels: dict[str, str | None] = {}
        wake, ctx, failure = inputs.wake, outcome.ctx, outcome.failure
        if ctx is not None:
            # What the run did not flush yet, then the handler's own writes: these land
            # after the run's flushed rows, and only here, with the acknowledgement.
            for buffer in (ctx.progress, ctx.output):
                own.extend(buffer.events)
                operations.extend(buffer.operations)
                labels.update(buffer.labels)
        own.extend(outcome.closing)
        if failure is not None:
            message = f"{type(failure).__name__}: {failure}"
            own.append(events.error(message, "handler", outcome.attempts))
        if outcome.new_status != outcome.status:
            own.append(events.manifest("status", {"status": outcome.new_status}))
            labels["status"] = outcome.new_status
            if outcome.new_status in v.TERMINAL:
                own.append(events.stopped(outcome.new_status))
        operations.extend(self._report_to_parent(address, created, outcome))
        if ctx is not None:
            for timer in wake.timers:
                if timer.kind == "cron":
                    own.extend(self._reschedule_cron(address, ctx, timer, operations))
        for path in inputs.timeouts_met:
            operations.append(batch.CancelSchedule(f"{address.url}#timeout:{path}"))
        for path, quiet_at in inputs.deferred.items():
            message_bytes = orjson.dumps(events.timer(f"debounce:{path}", "debounce"))
            key = f"{address.url}#debounce:{path}"
            operations.append(batch.ScheduleAppend(key, address.stream, message_bytes, quiet_at))
        # Handled inputs move the cursor; while paused or failed they wait for a resume.
        handled = outcome.new_status == v.IDLE or outcome.new_status in v.TERMINAL
        if (
            handled
            and failure is None
            and (not wake.is_empty() or inputs.control or inputs.deferred)
        ):
            store = outcome.store or outcome.claimed
            previous = (_manifest(store, "cursor") if store is not None else None) or {}
            streams = {**previous.get("streams", {}), **inputs.cursor}
            own.append(events.manifest("cursor", {"streams": streams}))
            if not wake.is_empty():
                own.append(_wake_record(wake, row.generation))
        if snapshot is not None:
            operations.extend(await self._snapshot_operations(address, snapshot, labels))
        if labels:
            operations.append(batch.SetLabels(address.stream, labels))
        if outcome.new_status in v.TERMINAL:
            operations.append(batch.DeleteSubscription(row.id))
        # Link new streams after this pass's own writes to them (say, its first write to a
        # shared state it joins), so that those writes do not wake it again.
        operations.sort(key=lambda op: isinstance(op, batch.LinkStreams | batch.UnlinkStream))
        unlinked = {op.path for op in operations if isinstance(op, batch.UnlinkStream)}
        ops: list[batch.Operation] = []
        flushes = outcome.flushes
        if own:
            producer = ProducerClaim(PRODUCER, row.generation, flushes.seq if flushes else 0)
            body = [orjson.dumps(event) for event in own]
            ops.append(batch.Append(AppendRequest(address.stream, JSON, body, producer=producer)))
        ops.extend(operations)
        if outcome.new_status not in v.TERMINAL:
            # After contiguous flushes, acking where they ended lets the final append be
            # covered too (see batch.extend_acks); otherwise the flushed events count as
            # new work and a quick no-op pass follows.
            own_end = flushes.own_end if flushes is not None and flushes.contiguous else None
            positions = {address.stream: own_end} if own_end else None
            ops.append(_ack(row, claims, positions, skip=unlinked))
        return ops

    def _report_to_parent(
        self, address: Address, created: dict[str, Any], outcome: Outcome
    ) -> list[batch.Operation]:
        parent = created.get("parent")
        if not parent:
            return []
        if outcome.failure is not None:
            event = events.child_status(address.url, "failed", None, str(outcome.failure))
        elif outcome.ctx is not None and (
            completion := outcome.ctx.output.completion or outcome.ctx.progress.completion
        ):
            event = events.child_status(address.url, "completed", completion.get("response"))
        else:
            return []
        request = AppendRequest(Address.parse(str(parent)).stream, JSON, [orjson.dumps(event)])
        return [batch.Append(request, optional=True)]

    async def _snapshot_operations(
        self, address: Address, snapshot: dict[str, Any], labels: dict[str, str | None]
    ) -> list[batch.Operation]:
        try:
            start = (await self.storage.head(address.snapshots)).tail
        except WakefulError:
            start = 0
        labels[SNAPSHOT_LABEL] = str(start)
        create = CreateRequest(address.snapshots, JSON, None, None, False, b"")
        return [
            batch.CreateStream(create, {"kind": "snapshots"}),
            batch.Append(AppendRequest(address.snapshots, JSON, [orjson.dumps(snapshot)])),
        ]

    def _reschedule_cron(
        self, address: Address, ctx: Context, timer: Timer, operations: list[batch.Operation]
    ) -> list[dict[str, Any]]:
        store = ctx.store
        payload = timer.payload if isinstance(timer.payload, dict) else {}
        name = str(payload.get("name", timer.name.removeprefix("cron:")))
        registration = _manifest(store, f"cron:{name}")
        touched = any(
            event.get("type") == v.MANIFEST and event.get("key") == f"cron:{name}"
            for event in ctx.output.events
        )
        if not registration or touched:
            return []  # gone, or the handler cancelled or replaced it in this pass
        due = next_cron(str(registration["expression"]), time.time())
        message = orjson.dumps(
            events.timer(
                f"cron:{name}", "cron", {"name": name, "payload": registration.get("payload")}
            )
        )
        operations.append(
            batch.ScheduleAppend(f"{address.url}#cron:{name}", address.stream, message, due)
        )
        return [events.manifest(f"cron:{name}", {**registration, "next_at": due})]


def _ack(
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


def _seconds(timestamp: str | None) -> float:
    if not timestamp:
        return 0.0
    try:
        return datetime.fromisoformat(timestamp).timestamp()
    except ValueError:
        return 0.0
