"""The PostgreSQL backend: many Wakeful processes, on many machines, share one database.

Every write is one transaction that first locks the stream's row (``SELECT ... FOR
UPDATE``), so appends to one stream from any number of processes are serialized by the
database while different streams proceed in parallel; the producer state and the stream's
tail move in that same transaction. Protocol decisions come from the shared
:mod:`~wakeful.streams.rules` and :mod:`.common`, exactly as in the SQLite backend.

There is no group commit here: concurrent transactions on a pool of connections already
share WAL flushes inside PostgreSQL, and batching unrelated requests into one transaction
would make each wait for the others' row locks.

Subscriptions live in the same transactions (:mod:`.postgres_subscriptions`): an append
wakes the subscriptions that follow its stream before it commits, and a batch acks a wake
atomically with its writes. A transaction that writes several rows locks them up front in
one order (:class:`LockPlan`).

Live readers anywhere are woken through LISTEN/NOTIFY (:mod:`.postgres_notify`). The
schema name comes from the ``schema`` argument or a ``?schema=`` URL parameter (default
``wakeful``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, TypeAlias, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from ...errors import StreamExists
from .. import batch, framing, rules, usage
from ..forks import levels
from ..model import (
    AppendRequest,
    AppendResult,
    CreateRequest,
    CreateResult,
    ProducerState,
    ReadResult,
    StreamRecord,
)
from .base import DEFAULT_CHUNK_BYTES, Storage
from .common import (
    ChunkBuilder,
    advance,
    check_boundary,
    check_unchanged,
    existing_result,
    fork_key,
    offset_gone,
    plan_fork,
    plan_trim,
    prefix_upper,
    trim_target,
    visible,
)
from .postgres_notify import ChangeRelay, channel_for
from .postgres_reads import CountingHub, SharedReads
from .postgres_schema import check_schema_name, migrate
from .postgres_sql import Statements, record
from .postgres_subscriptions import PostgresSubscriptionStore

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    Connection: TypeAlias = asyncpg.Connection[asyncpg.Record] | PoolConnectionProxy[asyncpg.Record]

T = TypeVar("T")

DEFAULT_SCHEMA = "wakeful"
# A transaction that lost a race (a deadlock between a fork and a delete, two creates of
# one path) is run again from the start; this bounds how often.
MAX_ATTEMPTS = 5


class _Retry(Exception):
    """Raised inside a transaction to roll it back and run it again."""


SCHEDULE_SIGNAL = "schedule"


@dataclass(slots=True)
class Effects:
    """What a transaction changed, acted on after it commits."""

    changed: set[int] = field(default_factory=set)
    after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Wake events per wake stream, appended just before the transaction commits.
    wake_events: dict[str, list[bytes]] = field(default_factory=dict)
    # Names relayed to the other processes after commit (see ChangeRelay.on_signal).
    signals: set[str] = field(default_factory=set)


Operation: TypeAlias = "Callable[[Connection, Effects], Awaitable[T]]"


async def _keep_session(connection: object) -> None:
    """Return a connection to the pool as it is.

    asyncpg's default reset costs a round trip per use (``RESET ALL``, ``UNLISTEN *``,
    ...) to undo session changes this backend never makes; an open transaction is still
    rolled back by the pool itself.
    """


def split_url(url: str) -> tuple[str, str | None]:
    """The connection URL without Wakeful's own ``schema`` parameter, and that parameter."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((value for key, value in query if key == "schema"), None)
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    return urlunsplit(parts._replace(query=rest)), schema


@dataclass(slots=True)
class LockPlan:
    """What a transaction of several writes will lock, to lock it up front in one order.

    Every writer locks stream rows before subscription rows, and the wake stream last;
    within each kind, a transaction that writes several takes them sorted (by path, by
    id), so two transactions that share rows queue behind each other instead of
    deadlocking (which PostgreSQL only notices after ``deadlock_timeout``, a second by
    default)."""

    streams: set[str] = field(default_factory=set)  # locked
    written: set[str] = field(default_factory=set)  # their followers' subscriptions locked
    subscriptions: set[str] = field(default_factory=set)  # locked

    @property
    def worth_it(self) -> bool:
        return len(self.streams) > 1 or len(self.written) + len(self.subscriptions) > 1

    @classmethod
    def of(cls, operations: Sequence[batch.Operation]) -> LockPlan:
        plan = cls()
        for operation in operations:
            match operation:
                case batch.CreateStream(request=request):
                    plan.streams.add(request.path)
                    plan.written.add(request.path)
                    if request.fork is not None:
                        plan.streams.add(request.fork.source_path)
                case batch.Append(request=request):
                    plan.streams.add(request.path)
                    plan.written.add(request.path)
                case batch.DeleteStream(path=path):
                    plan.streams.add(path)
                case batch.LinkStreams(subscription_id=sid, paths=linked):
                    plan.streams.update(linked)
                    plan.subscriptions.add(sid)
                case batch.PutSubscription(subscription_id=sid, spec=spec):
                    plan.streams.update(spec.streams)
                    plan.subscriptions.add(sid)
                case (
                    batch.UnlinkStream(subscription_id=sid)
                    | batch.DeleteSubscription(subscription_id=sid)
                    | batch.AckWake(subscription_id=sid)
                ):
                    plan.subscriptions.add(sid)
        return plan


class PostgresStorage(Storage):
    """Streams in a PostgreSQL schema, shared by every process pointed at it."""

    def __init__(
        self,
        url: str,
        *,
        schema: str | None = None,
        min_connections: int = 1,
        max_connections: int = 10,
    ) -> None:
        super().__init__()
        self.dsn, url_schema = split_url(url)
        self.schema = check_schema_name(schema or url_schema or DEFAULT_SCHEMA)
        self.min_connections = min_connections
        self.max_connections = max_connections
        self.origin = secrets.token_hex(8)
        self.channel = channel_for(self.schema)
        self.sql = Statements(self.schema)
        self._pool: asyncpg.Pool | None = None
        self.hub: CountingHub = CountingHub()
        self.shared_reads = SharedReads(self.hub)
        self.relay = ChangeRelay(self.dsn, self.channel, self.origin, self.hub)
        self.relay.on_signal = self._signalled
        self.subscriptions: PostgresSubscriptionStore = PostgresSubscriptionStore(self)

    def _signalled(self, name: str) -> None:
        """Another process committed something this one's background loops act on."""
        if name == SCHEDULE_SIGNAL:
            self.on_schedule()
        else:
            self.subscriptions.on_wake()

    @property
    def pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("storage is not started")
        return self._pool

    async def start(self) -> None:
        pool = await asyncpg.create_pool(
            self.dsn,
            min_size=self.min_connections,
            max_size=self.max_connections,
            reset=_keep_session,
        )
        try:
            async with pool.acquire() as connection:
                await migrate(connection, self.schema)
            await self.relay.start()
        except BaseException:
            await pool.close()
            raise
        self._pool = pool

    async def stop(self) -> None:
        await self.relay.stop()
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def transact(self, operation: Operation[T]) -> T:
        """Run ``operation`` in one transaction; after it commits, wake the readers of the
        streams it changed, here at once and in other processes through the relay.

        A lost race (deadlock, serialization failure, :class:`_Retry`) runs it again.
        """
        for attempt in range(1, MAX_ATTEMPTS + 1):
            effects = Effects()
            try:
                async with self.pool.acquire() as connection, connection.transaction():
                    result = await operation(connection, effects)
                    for path in sorted(effects.wake_events):
                        await self._append_internal(
                            connection, effects, path, effects.wake_events[path]
                        )
            except (_Retry, asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
                if attempt == MAX_ATTEMPTS:
                    raise
                await asyncio.sleep(0.001 * attempt)
                continue
            self.hub.publish(effects.changed)
            self.relay.announce(effects.changed, effects.signals)
            for callback in effects.after_commit:
                callback()
            return result
        raise AssertionError("unreachable")

    # -- rows -----------------------------------------------------------------------

    async def _by_path(
        self, connection: Connection, path: str, *, lock: bool = False
    ) -> StreamRecord | None:
        row = await connection.fetchrow(self.sql.by_path_locked if lock else self.sql.by_path, path)
        return record(row) if row is not None else None

    async def _by_id(
        self, connection: Connection, stream_id: int, *, lock: bool = False
    ) -> StreamRecord | None:
        row = await connection.fetchrow(
            self.sql.by_id_locked if lock else self.sql.by_id, stream_id
        )
        return record(row) if row is not None else None

    async def _purge(self, connection: Connection, stream: StreamRecord, effects: Effects) -> None:
        """Remove a stream for good (with what was scheduled to it), and any soft-deleted
        sources only it kept alive."""
        await connection.execute(self.sql.purge, stream.id, stream.path)
        effects.changed.add(stream.id)
        if stream.fork_of is None:
            return
        row = await connection.fetchrow(self.sql.drop_fork, stream.fork_of)
        source = record(row) if row is not None else None
        if source is not None and source.deleted and source.forks <= 0:
            await self._purge(connection, source, effects)

    async def _remove(self, connection: Connection, stream: StreamRecord, effects: Effects) -> None:
        """Delete: purge, or soft-delete while forks still read through this stream."""
        if stream.forks > 0:
            await connection.execute(self.sql.soft_delete, stream.id)
            effects.changed.add(stream.id)
        else:
            await self._purge(connection, stream, effects)

    async def _read_chain(
        self, connection: Connection, stream: StreamRecord, position: int, max_bytes: int
    ) -> ReadResult:
        chunk = ChunkBuilder(stream, position, max_bytes)
        if chunk.done:
            return chunk.finish()
        for level in levels(await self._chain(connection, stream)):
            rows = await connection.fetch(
                self.sql.read_level, level.stream_id, chunk.position, chunk.scan_end(level.upper)
            )
            chunk.take(((row[0], row[1]) for row in rows), level.upper)
            if chunk.done:
                break
        if chunk.maybe_trimmed:
            # A trim may have committed since ``stream`` was loaded: then what this read
            # skipped is gone, and the reader must hear so rather than get wrong offsets.
            fresh = await self._by_id(connection, stream.id)
            if fresh is not None and chunk.position < fresh.retained_from:
                raise offset_gone(fresh, chunk.position)
        return chunk.finish()

    async def _chain(self, connection: Connection, stream: StreamRecord) -> list[StreamRecord]:
        chain = [stream]
        while chain[-1].fork_of is not None:
            source = await self._by_id(connection, chain[-1].fork_of)
            if source is None:
                break
            chain.append(source)
        return chain

    async def _boundary(self, connection: Connection, stream: StreamRecord, target: int) -> int:
        """The last message boundary at or below ``target`` (``target`` is below the tail)."""
        best = stream.retained_from
        for level in levels(await self._chain(connection, stream)):
            if level.upper <= target:
                best = max(best, level.upper)  # where the level above begins
            start = await connection.fetchval(
                self.sql.boundary, level.stream_id, target, level.upper
            )
            if start is not None:
                best = max(best, start)
        return best

    async def _trim(
        self,
        connection: Connection,
        effects: Effects,
        path: str,
        before: int | None,
        keep_last: int | None,
    ) -> int:
        stream = visible(await self._by_path(connection, path, lock=True), path, time.time())
        last_kept = None
        if keep_last is not None:
            last_kept = await connection.fetchval(
                self.sql.nth_last, stream.id, max(keep_last - 1, 0)
            )
        target = trim_target(stream, before, keep_last, last_kept)
        if target is None:
            return stream.retained_from
        boundary = (
            stream.tail
            if target >= stream.tail
            else await self._boundary(connection, stream, target)
        )
        forks: list[StreamRecord] = []
        if stream.forks > 0:
            forks = [record(row) for row in await connection.fetch(self.sql.forks_of, stream.id)]
        retained = plan_trim(stream, boundary, forks)
        if retained > stream.retained_from:
            await connection.execute(self.sql.trim, stream.id, retained)
            effects.changed.add(stream.id)
        return retained

    async def _set_labels(
        self, connection: Connection, stream_id: int, labels: Mapping[str, str | None]
    ) -> None:
        for name, value in labels.items():
            if value is None:
                await connection.execute(self.sql.drop_label, stream_id, name)
            else:
                await connection.execute(self.sql.set_label, stream_id, name, value)

    async def _labels_of(
        self, connection: Connection, stream_ids: list[int]
    ) -> dict[int, dict[str, str]]:
        result: dict[int, dict[str, str]] = {stream_id: {} for stream_id in stream_ids}
        for row in await connection.fetch(self.sql.labels_of, stream_ids):
            result[row["stream_id"]][row["name"]] = row["value"]
        return result

    # -- operations, each run inside a transaction ----------------------------------

    async def _create(
        self, connection: Connection, effects: Effects, request: CreateRequest
    ) -> CreateResult:
        now = time.time()
        fork = request.fork
        key = fork_key(fork)
        existing = await self._by_path(connection, request.path, lock=True)
        if existing is not None and not existing.deleted and existing.expired(now):
            await self._remove(connection, existing, effects)
            existing = None
        if existing is not None:
            return existing_result(existing, request, key)

        content_type = request.content_type
        ttl_seconds, expires_at = request.ttl_seconds, request.expires_at
        fork_of: int | None = None
        position = retained = 0
        if fork is not None:
            source = await self._by_path(connection, fork.source_path, lock=True)
            plan = plan_fork(request, source, now)
            assert source is not None
            content_type, position = plan.content_type, plan.position
            ttl_seconds, expires_at = plan.ttl_seconds, plan.expires_at
            if fork.offset:
                first = await self._read_chain(connection, source, position, 1)
                check_boundary(source, first, position)
            if fork.sub_offset:
                read = await self._read_chain(connection, source, position, 1 << 62)
                position = advance(source, read, position, fork.sub_offset)
            fork_of, retained = source.id, source.retained_from
            await connection.execute(self.sql.add_fork, source.id)

        content_type = content_type or "application/octet-stream"
        messages = framing.frame(content_type, request.body, creating=True)
        row = await connection.fetchrow(
            self.sql.insert_stream,
            request.path,
            content_type,
            now,
            ttl_seconds,
            expires_at,
            position,
            request.closed,
            fork_of,
            position,
            key,
            retained,
        )
        if row is None:  # another process created this path since we looked
            raise _Retry
        stream = record(row)
        linked, patterns = list(row["linked"]), row["patterns"]
        if messages:
            starts = []
            tail = position
            for message in messages:
                starts.append(tail)
                tail += len(message)
            await connection.execute(self.sql.insert_messages, stream.id, starts, messages)
            row = await connection.fetchrow(self.sql.set_tail, stream.id, tail)
            assert row is not None
            stream = record(row)
        effects.changed.add(stream.id)
        if linked or patterns is not None:
            await self.subscriptions.after_append(
                connection,
                effects,
                request.path,
                position,
                stream.tail,
                linked=linked,
                patterns=patterns,
            )
        return CreateResult(stream, created=True)

    async def _append(
        self, connection: Connection, effects: Effects, request: AppendRequest
    ) -> AppendResult:
        now = time.time()
        claim = request.producer
        row = await connection.fetchrow(
            self.sql.for_append, request.path, claim.producer_id if claim else None
        )
        stream = visible(record(row) if row is not None else None, request.path, now)
        assert row is not None
        state: ProducerState | None = None
        if claim is not None:
            epoch, last_seq = row["producer_epoch"], row["producer_seq"]
            if row["locked_version"] != row["seen_version"]:
                # Changed by a transaction that committed while this one waited for the
                # lock: the joined producer state predates it (see Statements.for_append).
                fresh = await connection.fetchrow(
                    self.sql.producer_state, stream.id, claim.producer_id
                )
                epoch, last_seq = (fresh[0], fresh[1]) if fresh is not None else (None, None)
            if epoch is not None:
                state = ProducerState(epoch, last_seq)
        verdict = rules.decide_append(stream, state, request)
        outcome = verdict.outcome
        if outcome in (rules.Outcome.DUPLICATE, rules.Outcome.ALREADY_CLOSED):
            return AppendResult(
                stream.tail, stream.closed, duplicate=True, producer=verdict.producer
            )

        tail = stream.tail
        starts: list[int] = []
        messages = request.messages if outcome is rules.Outcome.APPEND else []
        for message in messages:
            starts.append(tail)
            tail += len(message)
        closing = request.close
        closer = claim if closing else None
        producer = verdict.producer if claim is not None else None
        watched = await connection.fetchrow(
            self.sql.append,
            stream.id,
            starts,
            messages,
            claim.producer_id if claim is not None and producer is not None else None,
            producer.epoch if producer is not None else None,
            producer.last_seq if producer is not None else None,
            tail,
            now,
            closing,
            request.stream_seq,
            closer.producer_id if closer else None,
            closer.epoch if closer else None,
            closer.seq if closer else None,
        )
        assert watched is not None
        effects.changed.add(stream.id)
        linked, patterns = list(watched["linked"]), watched["patterns"]
        if tail > stream.tail and (linked or patterns is not None):
            await self.subscriptions.after_append(
                connection,
                effects,
                request.path,
                stream.tail,
                tail,
                linked=linked,
                patterns=patterns,
            )
        return AppendResult(tail, closing, producer=verdict.producer)

    async def _append_internal(
        self, connection: Connection, effects: Effects, path: str, messages: list[bytes]
    ) -> None:
        """Append without subscription hooks (wake events); skips a stream that is missing,
        deleted, expired or closed."""
        stream = await self._by_path(connection, path, lock=True)
        if stream is None or stream.deleted or stream.closed or stream.expired(time.time()):
            return
        tail = stream.tail
        starts = []
        for message in messages:
            starts.append(tail)
            tail += len(message)
        await connection.execute(
            self.subscriptions.sql.append_internal, stream.id, starts, messages, tail
        )
        effects.changed.add(stream.id)

    async def _delete(
        self, connection: Connection, effects: Effects, path: str, if_tail: int | None = None
    ) -> None:
        stream = visible(await self._by_path(connection, path, lock=True), path, time.time())
        check_unchanged(stream, if_tail)
        await self._remove(connection, stream, effects)

    async def _expire_one(self, connection: Connection, effects: Effects, stream_id: int) -> int:
        stream = await self._by_id(connection, stream_id, lock=True)
        if stream is None or stream.deleted or not stream.expired(time.time()):
            return 0  # another process removed it, or it was read (TTL) since
        await self._remove(connection, stream, effects)
        return 1

    async def _apply(
        self, connection: Connection, effects: Effects, operation: batch.Operation
    ) -> object:
        subscriptions = self.subscriptions
        match operation:
            case batch.CreateStream(request=request, labels=labels, exclusive=exclusive):
                created = await self._create(connection, effects, request)
                if exclusive and not created.created:
                    raise StreamExists(f"stream {request.path!r} already exists")
                if labels:
                    await self._set_labels(connection, created.stream.id, labels)
                return created
            case batch.Append(request=request, optional=optional):
                if optional:
                    stream = await self._by_path(connection, request.path)
                    if stream is None or stream.deleted or stream.closed:
                        return None
                return await self._append(connection, effects, request)
            case batch.DeleteStream(path=path, missing_ok=missing_ok, if_tail=if_tail):
                if missing_ok and await self._by_path(connection, path) is None:
                    return None
                await self._delete(connection, effects, path, if_tail)
                return None
            case batch.SetLabels(path=path, labels=labels):
                stream = visible(await self._by_path(connection, path), path, time.time())
                await self._set_labels(connection, stream.id, labels)
                return None
            case batch.ScheduleAppend(key=key, path=path, message=message, due_at=due_at):
                await connection.execute(self.sql.schedule, key, path, message, due_at)
                effects.after_commit.append(lambda: self.on_schedule())
                effects.signals.add(SCHEDULE_SIGNAL)
                return None
            case batch.CancelSchedule(key=key):
                await connection.execute(self.sql.cancel_schedule, key)
                return None
            case batch.PutSubscription(subscription_id=sid, spec=spec, base_url=base_url):
                return await subscriptions.put_now(connection, sid, spec, base_url)
            case batch.LinkStreams(subscription_id=sid, paths=paths):
                await subscriptions.add_streams_now(connection, effects, sid, list(paths))
                return None
            case batch.UnlinkStream(subscription_id=sid, path=path):
                await subscriptions.remove_stream_now(connection, sid, path)
                return None
            case batch.DeleteSubscription(subscription_id=sid):
                await subscriptions.delete_now(connection, sid)
                return None
            case batch.AckWake(subscription_id=sid, claims=claims, request=request):
                return await subscriptions.ack_now(connection, effects, sid, claims, request)
            case batch.RecordUsage(entry=entry):
                await connection.execute(self.sql.record_usage, *usage.entry_values(entry))
                return None
        raise TypeError(f"unknown operation {operation!r}")

    async def _lock(self, connection: Connection, plan: LockPlan) -> None:
        """Take the locks of a multi-write transaction up front, in the one global order."""
        if not plan.worth_it:
            return
        if plan.streams:
            await connection.execute(self.sql.lock_paths, sorted(plan.streams))
        if plan.written or plan.subscriptions:
            await connection.execute(
                self.subscriptions.sql.lock_many, sorted(plan.subscriptions), sorted(plan.written)
            )

    async def _fire_due(
        self, connection: Connection, effects: Effects, now: float, limit: int
    ) -> int:
        due = sorted(
            await connection.fetch(self.sql.take_due, now, limit), key=lambda row: row["due_at"]
        )
        paths = {row["path"] for row in due}
        await self._lock(connection, LockPlan(streams=paths, written=paths))
        for row in due:
            stream = await self._by_path(connection, row["path"])
            if stream is None or stream.deleted or stream.closed or stream.expired(now):
                continue  # the target is gone: nothing left to wake
            request = AppendRequest(row["path"], stream.content_type, [bytes(row["message"])])
            await self._append(connection, effects, request)
        return len(due)

    # -- the Storage interface ------------------------------------------------------

    async def create(self, request: CreateRequest) -> CreateResult:
        return await self.transact(partial(self._create, request=request))

    async def append(self, request: AppendRequest) -> AppendResult:
        return await self.transact(partial(self._append, request=request))

    async def delete(self, path: str) -> None:
        await self.transact(partial(self._delete, path=path))

    async def expire(self) -> int:
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(self.sql.expired, time.time())
        removed = 0
        for row in rows:
            removed += await self.transact(partial(self._expire_one, stream_id=row[0]))
        return removed

    async def trim(
        self, path: str, *, before: int | None = None, keep_last: int | None = None
    ) -> int:
        return await self.transact(
            partial(self._trim, path=path, before=before, keep_last=keep_last)
        )

    async def commit(self, operations: Sequence[batch.Operation]) -> list[object]:
        ops = list(operations)
        plan = LockPlan.of(ops)

        async def run(connection: Connection, effects: Effects) -> list[object]:
            await self._lock(connection, plan)
            results: list[object] = []
            appended: dict[str, tuple[int, int]] = {}
            for operation in ops:
                if isinstance(operation, batch.AckWake):
                    operation = batch.extend_acks(operation, appended)
                result = await self._apply(connection, effects, operation)
                if isinstance(operation, batch.Append) and isinstance(result, AppendResult):
                    size = sum(len(message) for message in operation.request.messages)
                    if not result.duplicate:
                        appended[operation.request.path] = (result.tail - size, result.tail)
                results.append(result)
            return results

        return await self.transact(run)

    async def fire_due_schedules(self, now: float, limit: int = 100) -> int:
        return await self.transact(partial(self._fire_due, now=now, limit=limit))

    async def next_schedule(self) -> float | None:
        async with self.pool.acquire() as connection:
            due = await connection.fetchval(self.sql.next_schedule)
        return None if due is None else float(due)

    async def usage_totals(self, query: usage.UsageQuery) -> list[usage.UsageTotal]:
        sql, parameters, groups = usage.totals_sql(query, f"{self.sql.schema}.usage", "$")
        async with self.pool.acquire() as connection:
            rows = await connection.fetch(sql, *parameters)
        return [usage.total_of(tuple(row), groups) for row in rows]

    async def labels(self, path: str) -> dict[str, str]:
        async with self.pool.acquire() as connection:
            stream = await self._by_path(connection, path)
            if stream is None:
                return {}
            return (await self._labels_of(connection, [stream.id]))[stream.id]

    async def find_streams(
        self,
        labels: Mapping[str, str],
        *,
        prefix: str = "",
        after: str = "",
        limit: int = 100,
    ) -> list[tuple[StreamRecord, dict[str, str]]]:
        s = self.sql.schema
        clauses = ["NOT s.deleted", "s.path > $1", "s.path >= $2"]
        parameters: list[object] = [after, prefix]
        upper = prefix_upper(prefix)
        if upper is not None:
            parameters.append(upper)
            clauses.append(f"s.path < ${len(parameters)}")
        for name, value in labels.items():
            parameters += [name, value]
            clauses.append(
                f"EXISTS (SELECT 1 FROM {s}.stream_labels l WHERE l.stream_id = s.id"
                f" AND l.name = ${len(parameters) - 1} AND l.value = ${len(parameters)})"
            )
        parameters.append(limit)
        query = (
            f"SELECT {self.sql.prefixed_columns} FROM {s}.streams s"
            f" WHERE {' AND '.join(clauses)} ORDER BY s.path LIMIT ${len(parameters)}"
        )
        now = time.time()
        async with self.pool.acquire() as connection:
            streams = [record(row) for row in await connection.fetch(query, *parameters)]
            streams = [stream for stream in streams if not stream.expired(now)]
            found = await self._labels_of(connection, [stream.id for stream in streams])
        return [(stream, found[stream.id]) for stream in streams]

    async def head(self, path: str) -> StreamRecord:
        async with self.pool.acquire() as connection:
            return visible(await self._by_path(connection, path), path, time.time())

    async def read(
        self, path: str, position: int | None, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        async with self.pool.acquire() as connection:
            now = time.time()
            stream = visible(await self._by_path(connection, path), path, now)
            if stream.ttl_seconds is not None:
                await connection.execute(self.sql.touch, stream.id, now)
            if position is None:
                return ReadResult(stream=stream, next_position=stream.tail, up_to_date=True)
            return await self._read_chain(connection, stream, position, max_bytes)

    async def read_from(
        self, stream: StreamRecord, position: int, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        async def read() -> ReadResult:
            async with self.pool.acquire() as connection:
                return await self._read_chain(connection, stream, position, max_bytes)

        # Live readers of one stream wake together and read the same: one query for all.
        key = ("read", stream.id, stream.tail, stream.closed, position, max_bytes)
        return await self.shared_reads.run(key, read)

    async def lookup_live(self, stream_id: int) -> StreamRecord | None:
        async def lookup() -> StreamRecord | None:
            async with self.pool.acquire() as connection:
                return await self._by_id(connection, stream_id)

        stream = await self.shared_reads.run(("lookup", stream_id), lookup)
        if stream is None or stream.deleted or stream.expired(time.time()):
            return None
        return stream

    async def list_paths(self, prefix: str = "", limit: int = 1000) -> list[str]:
        upper = prefix_upper(prefix)
        async with self.pool.acquire() as connection:
            if upper is None:
                rows = await connection.fetch(self.sql.list_paths, prefix, limit)
            else:
                rows = await connection.fetch(self.sql.list_paths_below, prefix, upper, limit)
        return [row[0] for row in rows]

    async def setting(self, key: str, create: Callable[[], bytes]) -> bytes:
        """A persistent server secret; the first process to ask creates it for all."""
        async with self.pool.acquire() as connection:
            value = await connection.fetchval(self.sql.get_setting, key)
            if value is None:
                await connection.execute(self.sql.put_setting, key, create())
                value = await connection.fetchval(self.sql.get_setting, key)
        return bytes(value)

    def __repr__(self) -> str:
        return f"PostgresStorage(schema={self.schema!r})"
