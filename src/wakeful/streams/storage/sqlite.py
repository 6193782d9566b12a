"""The embedded SQLite backend: one file, WAL, group-committed writes.

Writes go through one writer thread (:mod:`.sqlite_writer`); reads use their own
connection on the event loop's thread, which WAL lets run beside the writer without
waiting for it. ``synchronous=NORMAL`` (the default) makes every acknowledged write
survive the server process being killed; ``synchronous=FULL`` also survives power loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

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
from .sqlite_rows import by_id, by_path, columns, record
from .sqlite_schema import migrate
from .sqlite_subscriptions import SqliteSubscriptionStore
from .sqlite_writer import Effects, GroupCommitWriter

# Keyed by the model call: recording it again (a duplicate append's batch) changes nothing.
INSERT_USAGE = (
    f"INSERT INTO usage ({usage.INSERT_COLUMNS}) VALUES ({', '.join('?' * 11)})"
    " ON CONFLICT (key) DO NOTHING"
)

T = TypeVar("T")


def _chain(connection: sqlite3.Connection, stream: StreamRecord) -> list[StreamRecord]:
    chain = [stream]
    while chain[-1].fork_of is not None:
        source = by_id(connection, chain[-1].fork_of)
        if source is None:
            break
        chain.append(source)
    return chain


def _read_chain(
    connection: sqlite3.Connection, stream: StreamRecord, position: int, max_bytes: int
) -> ReadResult:
    chunk = ChunkBuilder(stream, position, max_bytes)
    if chunk.done:
        return chunk.finish()
    for level in levels(_chain(connection, stream)):
        rows = connection.execute(
            "SELECT start, data FROM messages WHERE stream_id = ? AND start >= ? AND start < ?"
            " ORDER BY start",
            (level.stream_id, chunk.position, chunk.scan_end(level.upper)),
        )
        chunk.take(rows, level.upper)
        if chunk.done:
            break
    if chunk.maybe_trimmed:
        # A trim may have committed since ``stream`` was loaded: then what this read skipped
        # is gone, and the reader must hear so rather than get messages at wrong offsets.
        fresh = by_id(connection, stream.id)
        if fresh is not None and chunk.position < fresh.retained_from:
            raise offset_gone(fresh, chunk.position)
    return chunk.finish()


def _boundary(connection: sqlite3.Connection, stream: StreamRecord, target: int) -> int:
    """The last message boundary at or below ``target`` (``target`` is below the tail)."""
    best = stream.retained_from
    for level in levels(_chain(connection, stream)):
        if level.upper <= target:
            best = max(best, level.upper)  # where the level above begins
        row = connection.execute(
            "SELECT max(start) FROM messages WHERE stream_id = ? AND start <= ? AND start < ?",
            (level.stream_id, target, level.upper),
        ).fetchone()
        if row[0] is not None:
            best = max(best, row[0])
    return best


def _trim(
    connection: sqlite3.Connection,
    effects: Effects,
    path: str,
    before: int | None,
    keep_last: int | None,
) -> int:
    stream = visible(by_path(connection, path), path, time.time())
    last_kept = None
    if keep_last is not None:
        row = connection.execute(
            "SELECT start FROM messages WHERE stream_id = ? ORDER BY start DESC LIMIT 1 OFFSET ?",
            (stream.id, max(keep_last - 1, 0)),
        ).fetchone()
        last_kept = None if row is None else row[0]
    target = trim_target(stream, before, keep_last, last_kept)
    if target is None:
        return stream.retained_from
    boundary = stream.tail if target >= stream.tail else _boundary(connection, stream, target)
    forks: list[StreamRecord] = []
    if stream.forks > 0:
        rows = connection.execute(f"SELECT {columns} FROM streams WHERE fork_of = ?", (stream.id,))
        forks = [record(row) for row in rows]
    retained = plan_trim(stream, boundary, forks)
    if retained > stream.retained_from:
        connection.execute(
            "DELETE FROM messages WHERE stream_id = ? AND start < ?", (stream.id, retained)
        )
        connection.execute(
            "UPDATE streams SET retained_from = ? WHERE id = ?", (retained, stream.id)
        )
        effects.changed.add(stream.id)
    return retained


def _advance(
    connection: sqlite3.Connection, source: StreamRecord, position: int, sub_offset: int
) -> int:
    read = _read_chain(connection, source, position, 1 << 62)
    return advance(source, read, position, sub_offset)


def _write_messages(
    connection: sqlite3.Connection, stream_id: int, tail: int, messages: list[bytes]
) -> int:
    rows = []
    for message in messages:
        rows.append((stream_id, tail, message))
        tail += len(message)
    connection.executemany("INSERT INTO messages (stream_id, start, data) VALUES (?, ?, ?)", rows)
    return tail


def _purge(connection: sqlite3.Connection, stream: StreamRecord, effects: Effects) -> None:
    """Remove a stream for good (with what was scheduled to it), and any soft-deleted
    sources only it kept alive."""
    connection.execute("DELETE FROM messages WHERE stream_id = ?", (stream.id,))
    connection.execute("DELETE FROM schedules WHERE path = ?", (stream.path,))
    connection.execute("DELETE FROM producers WHERE stream_id = ?", (stream.id,))
    connection.execute("DELETE FROM stream_labels WHERE stream_id = ?", (stream.id,))
    connection.execute("DELETE FROM streams WHERE id = ?", (stream.id,))
    effects.changed.add(stream.id)
    if stream.fork_of is None:
        return
    connection.execute("UPDATE streams SET forks = forks - 1 WHERE id = ?", (stream.fork_of,))
    source = by_id(connection, stream.fork_of)
    if source is not None and source.deleted and source.forks <= 0:
        _purge(connection, source, effects)


def _remove(connection: sqlite3.Connection, stream: StreamRecord, effects: Effects) -> None:
    """Delete: purge, or soft-delete while forks still read through this stream."""
    if stream.forks > 0:
        connection.execute("UPDATE streams SET deleted = 1 WHERE id = ?", (stream.id,))
        effects.changed.add(stream.id)
    else:
        _purge(connection, stream, effects)


AppendHook = Callable[[sqlite3.Connection, Effects, str, int, int], None]


def _create(
    connection: sqlite3.Connection, effects: Effects, request: CreateRequest, hook: AppendHook
) -> CreateResult:
    now = time.time()
    fork = request.fork
    key = fork_key(fork)
    existing = by_path(connection, request.path)
    if existing is not None and not existing.deleted and existing.expired(now):
        _remove(connection, existing, effects)
        existing = None
    if existing is not None:
        return existing_result(existing, request, key)

    content_type = request.content_type
    ttl_seconds, expires_at = request.ttl_seconds, request.expires_at
    fork_of: int | None = None
    position = retained = 0
    if fork is not None:
        source = by_path(connection, fork.source_path)
        plan = plan_fork(request, source, now)
        assert source is not None
        content_type, position = plan.content_type, plan.position
        ttl_seconds, expires_at = plan.ttl_seconds, plan.expires_at
        if fork.offset:
            check_boundary(source, _read_chain(connection, source, position, 1), position)
        if fork.sub_offset:
            position = _advance(connection, source, position, fork.sub_offset)
        fork_of, retained = source.id, source.retained_from
        connection.execute("UPDATE streams SET forks = forks + 1 WHERE id = ?", (source.id,))

    content_type = content_type or "application/octet-stream"
    messages = framing.frame(content_type, request.body, creating=True)
    cursor = connection.execute(
        "INSERT INTO streams (path, content_type, created_at, ttl_seconds, expires_at,"
        " last_access, tail, closed, fork_of, fork_pos, fork_request, retained_from)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            request.path,
            content_type,
            now,
            ttl_seconds,
            expires_at,
            now,
            position,
            int(request.closed),
            fork_of,
            position,
            key,
            retained,
        ),
    )
    stream_id = cursor.lastrowid
    assert stream_id is not None
    tail = position
    if messages:
        tail = _write_messages(connection, stream_id, position, messages)
        connection.execute("UPDATE streams SET tail = ? WHERE id = ?", (tail, stream_id))
    effects.changed.add(stream_id)
    hook(connection, effects, request.path, position, tail)
    record = by_id(connection, stream_id)
    assert record is not None
    return CreateResult(record, created=True)


def _append(
    connection: sqlite3.Connection, effects: Effects, request: AppendRequest, hook: AppendHook
) -> AppendResult:
    now = time.time()
    stream = by_path(connection, request.path)
    if stream is not None and not stream.deleted and stream.expired(now):
        _remove(connection, stream, effects)
    stream = visible(stream, request.path, now)
    claim = request.producer
    state: ProducerState | None = None
    if claim is not None:
        row = connection.execute(
            "SELECT epoch, last_seq FROM producers WHERE stream_id = ? AND producer_id = ?",
            (stream.id, claim.producer_id),
        ).fetchone()
        state = ProducerState(row[0], row[1]) if row is not None else None
    verdict = rules.decide_append(stream, state, request)
    outcome = verdict.outcome
    if outcome in (rules.Outcome.DUPLICATE, rules.Outcome.ALREADY_CLOSED):
        return AppendResult(stream.tail, stream.closed, duplicate=True, producer=verdict.producer)

    tail = stream.tail
    if outcome is rules.Outcome.APPEND:
        tail = _write_messages(connection, stream.id, tail, request.messages)
    closing = request.close
    connection.execute(
        "UPDATE streams SET tail = ?, last_access = ?, closed = ?,"
        " last_seq = coalesce(?, last_seq), closed_by_id = ?, closed_by_epoch = ?,"
        " closed_by_seq = ? WHERE id = ?",
        (
            tail,
            now,
            int(closing),
            request.stream_seq,
            claim.producer_id if closing and claim else None,
            claim.epoch if closing and claim else None,
            claim.seq if closing and claim else None,
            stream.id,
        ),
    )
    if claim is not None and verdict.producer is not None:
        connection.execute(
            "INSERT INTO producers (stream_id, producer_id, epoch, last_seq) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch,"
            " last_seq = excluded.last_seq",
            (stream.id, claim.producer_id, verdict.producer.epoch, verdict.producer.last_seq),
        )
    effects.changed.add(stream.id)
    if tail > stream.tail:
        hook(connection, effects, request.path, stream.tail, tail)
    return AppendResult(tail, closing, producer=verdict.producer)


def _delete(
    connection: sqlite3.Connection, effects: Effects, path: str, if_tail: int | None = None
) -> None:
    now = time.time()
    stream = by_path(connection, path)
    if stream is not None and not stream.deleted and stream.expired(now):
        _remove(connection, stream, effects)
    stream = visible(stream, path, now)
    check_unchanged(stream, if_tail)
    _remove(connection, stream, effects)


def _set_labels(
    connection: sqlite3.Connection, stream_id: int, labels: Mapping[str, str | None]
) -> None:
    for name, value in labels.items():
        if value is None:
            connection.execute(
                "DELETE FROM stream_labels WHERE stream_id = ? AND name = ?", (stream_id, name)
            )
        else:
            connection.execute(
                "INSERT INTO stream_labels (stream_id, name, value) VALUES (?, ?, ?)"
                " ON CONFLICT (stream_id, name) DO UPDATE SET value = excluded.value",
                (stream_id, name, value),
            )


def _labels_of(connection: sqlite3.Connection, stream_id: int) -> dict[str, str]:
    rows = connection.execute(
        "SELECT name, value FROM stream_labels WHERE stream_id = ?", (stream_id,)
    )
    return dict(rows.fetchall())


def _touch(connection: sqlite3.Connection, effects: Effects, stream_id: int) -> None:
    connection.execute("UPDATE streams SET last_access = ? WHERE id = ?", (time.time(), stream_id))


def _expire(connection: sqlite3.Connection, effects: Effects) -> int:
    now = time.time()
    rows = connection.execute(
        f"SELECT {columns} FROM streams WHERE deleted = 0 AND (expires_at <= ?"
        " OR (ttl_seconds IS NOT NULL AND last_access + ttl_seconds <= ?))",
        (now, now),
    ).fetchall()
    for row in rows:
        stream = by_id(connection, row[0])
        if stream is not None and not stream.deleted:
            _remove(connection, stream, effects)
    return len(rows)


# How often a SQLite storage looks for commits by other processes on its file.
OTHER_WRITERS_CHECK_SECONDS = 0.05


class SqliteStorage(Storage):
    """Streams in one SQLite file (``:memory:`` for a private, throwaway database)."""

    commits_in_order = True  # one writer thread takes commits from a queue, in order

    def __init__(self, path: str, *, synchronous: str = "normal") -> None:
        super().__init__()
        if synchronous.lower() not in {"off", "normal", "full", "extra"}:
            raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
        self.path = path
        self._synchronous = synchronous.upper()
        self._memory = path in {"", ":memory:"}
        self._uri = "file:wakeful-memory?mode=memory&cache=shared" if self._memory else path
        self._writer: GroupCommitWriter | None = None
        self._reader: sqlite3.Connection | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.subscriptions: SqliteSubscriptionStore = SqliteSubscriptionStore(self)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self._uri,
            uri=self._memory,
            isolation_level=None,
            check_same_thread=False,
            timeout=30.0,
        )
        if not self._memory:
            connection.execute("PRAGMA journal_mode = WAL")
        connection.execute(f"PRAGMA synchronous = {self._synchronous}")
        connection.execute("PRAGMA foreign_keys = OFF")
        connection.execute("PRAGMA busy_timeout = 30000")
        return connection

    def _connect_writer(self) -> sqlite3.Connection:
        connection = self._connect()
        migrate(connection)
        return connection

    async def start(self) -> None:
        if not self._memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        loop = asyncio.get_running_loop()
        # Without a sync per commit, an idle writer's commit is cheapest done at once.
        inline = self._synchronous in ("OFF", "NORMAL")
        self._writer = GroupCommitWriter(self._connect_writer, loop, self._committed, inline=inline)
        await asyncio.to_thread(self._writer.start)
        self._reader = self._connect()
        self._reader.execute("PRAGMA query_only = 1")
        if not self._memory:
            # From start on: what other processes committed before is not news.
            seen = self._writer.data_version()
            self._watcher = asyncio.create_task(self._watch_other_writers(self._writer, seen))

    async def _watch_other_writers(self, writer: GroupCommitWriter, seen: int | None) -> None:
        """Other processes on the same file (``wakeful worker`` beside ``wakeful serve``)
        commit without telling this one: look for their commits every
        ``OTHER_WRITERS_CHECK_SECONDS``, and wake every live reader and worker here when
        there were some, as PostgreSQL's notifications would."""
        while True:
            await asyncio.sleep(OTHER_WRITERS_CHECK_SECONDS)
            version = writer.data_version()
            if version is None:
                continue
            if seen is not None and version != seen:
                self.hub.publish_all()
                self.on_schedule()
                self.subscriptions.on_wake()
            seen = version

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._writer is not None:
            await asyncio.to_thread(self._writer.stop)
            self._writer = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def _committed(self, effects: Effects) -> None:
        self.hub.publish(effects.changed)
        for callback in effects.after_commit:
            callback()

    def write(self, operation: Callable[[sqlite3.Connection, Effects], T]) -> asyncio.Future[T]:
        """Run ``operation`` in the next group commit; resolves once it is committed."""
        if self._writer is None:
            raise RuntimeError("storage is not started")
        return self._writer.submit(operation)

    @property
    def reader(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("storage is not started")
        return self._reader

    async def create(self, request: CreateRequest) -> CreateResult:
        hook = self.subscriptions.after_append
        return await self.write(lambda c, e: _create(c, e, request, hook))

    async def append(self, request: AppendRequest) -> AppendResult:
        hook = self.subscriptions.after_append
        return await self.write(lambda c, e: _append(c, e, request, hook))

    async def delete(self, path: str) -> None:
        await self.write(lambda c, e: _delete(c, e, path))

    async def expire(self) -> int:
        return await self.write(_expire)

    async def trim(
        self, path: str, *, before: int | None = None, keep_last: int | None = None
    ) -> int:
        return await self.write(lambda c, e: _trim(c, e, path, before, keep_last))

    def append_internal(
        self, connection: sqlite3.Connection, effects: Effects, path: str, message: bytes
    ) -> bool:
        """Append one message on the writer thread without subscription hooks (wake events).

        Skips (returns False) a stream that is missing, deleted, expired or closed."""
        stream = by_path(connection, path)
        if stream is None or stream.deleted or stream.closed or stream.expired(time.time()):
            return False
        tail = _write_messages(connection, stream.id, stream.tail, [message])
        connection.execute("UPDATE streams SET tail = ? WHERE id = ?", (tail, stream.id))
        effects.changed.add(stream.id)
        return True

    def _apply(
        self, connection: sqlite3.Connection, effects: Effects, operation: batch.Operation
    ) -> object:
        hook = self.subscriptions.after_append
        subscriptions = self.subscriptions
        match operation:
            case batch.CreateStream(request=request, labels=labels, exclusive=exclusive):
                created = _create(connection, effects, request, hook)
                if exclusive and not created.created:
                    raise StreamExists(f"stream {request.path!r} already exists")
                if labels:
                    _set_labels(connection, created.stream.id, labels)
                return created
            case batch.Append(request=request, optional=optional):
                if optional:
                    stream = by_path(connection, request.path)
                    if stream is None or stream.deleted or stream.closed:
                        return None
                return _append(connection, effects, request, hook)
            case batch.DeleteStream(path=path, missing_ok=missing_ok, if_tail=if_tail):
                if missing_ok and by_path(connection, path) is None:
                    return None
                _delete(connection, effects, path, if_tail)
                return None
            case batch.SetLabels(path=path, labels=labels):
                stream = visible(by_path(connection, path), path, time.time())
                _set_labels(connection, stream.id, labels)
                return None
            case batch.ScheduleAppend(key=key, path=path, message=message, due_at=due_at):
                connection.execute(
                    "INSERT INTO schedules (key, path, message, due_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET path = excluded.path,"
                    " message = excluded.message, due_at = excluded.due_at",
                    (key, path, message, due_at),
                )
                effects.after_commit.append(self.on_schedule)
                return None
            case batch.CancelSchedule(key=key):
                connection.execute("DELETE FROM schedules WHERE key = ?", (key,))
                return None
            case batch.PutSubscription(subscription_id=sid, spec=spec, base_url=base_url):
                return subscriptions.put_now(connection, sid, spec, base_url)
            case batch.LinkStreams(subscription_id=sid, paths=paths):
                subscriptions.add_streams_now(connection, sid, list(paths))
                return None
            case batch.UnlinkStream(subscription_id=sid, path=path):
                subscriptions.remove_stream_now(connection, sid, path)
                return None
            case batch.DeleteSubscription(subscription_id=sid):
                subscriptions.delete_now(connection, sid)
                return None
            case batch.AckWake(subscription_id=sid, claims=claims, request=request):
                return subscriptions.ack_now(connection, effects, sid, claims, request)
            case batch.RecordUsage(entry=entry):
                connection.execute(INSERT_USAGE, usage.entry_values(entry))
                return None
        raise TypeError(f"unknown operation {operation!r}")

    async def commit(self, operations: Sequence[batch.Operation]) -> list[object]:
        ops = list(operations)

        def run(connection: sqlite3.Connection, effects: Effects) -> list[object]:
            results: list[object] = []
            appended: dict[str, tuple[int, int]] = {}
            for operation in ops:
                if isinstance(operation, batch.AckWake):
                    operation = batch.extend_acks(operation, appended)
                result = self._apply(connection, effects, operation)
                if isinstance(operation, batch.Append) and isinstance(result, AppendResult):
                    size = sum(len(message) for message in operation.request.messages)
                    if not result.duplicate:
                        appended[operation.request.path] = (result.tail - size, result.tail)
                results.append(result)
            return results

        return await self.write(run)

    async def usage_totals(self, query: usage.UsageQuery) -> list[usage.UsageTotal]:
        sql, parameters, groups = usage.totals_sql(query, "usage", "?")
        rows = self.reader.execute(sql, parameters).fetchall()
        return [usage.total_of(row, groups) for row in rows]

    async def labels(self, path: str) -> dict[str, str]:
        stream = by_path(self.reader, path)
        return {} if stream is None else _labels_of(self.reader, stream.id)

    async def find_streams(
        self,
        labels: Mapping[str, str],
        *,
        prefix: str = "",
        after: str = "",
        limit: int = 100,
    ) -> list[tuple[StreamRecord, dict[str, str]]]:
        clauses = ["s.deleted = 0", "s.path > ?", "substr(s.path, 1, ?) = ?"]
        parameters: list[object] = [after, len(prefix), prefix]
        for name, value in labels.items():
            clauses.append(
                "EXISTS (SELECT 1 FROM stream_labels l WHERE l.stream_id = s.id"
                " AND l.name = ? AND l.value = ?)"
            )
            parameters += [name, value]
        query = (
            f"SELECT {columns} FROM streams s WHERE {' AND '.join(clauses)} ORDER BY s.path LIMIT ?"
        )
        rows = self.reader.execute(query, [*parameters, limit]).fetchall()
        now = time.time()
        found = []
        for row in rows:
            stream = record(row)
            if not stream.expired(now):
                found.append((stream, _labels_of(self.reader, stream.id)))
        return found

    async def fire_due_schedules(self, now: float, limit: int = 100) -> int:
        hook = self.subscriptions.after_append

        def operation(connection: sqlite3.Connection, effects: Effects) -> int:
            due = connection.execute(
                "SELECT key, path, message FROM schedules WHERE due_at <= ?"
                " ORDER BY due_at LIMIT ?",
                (now, limit),
            ).fetchall()
            for key, path, message in due:
                connection.execute("DELETE FROM schedules WHERE key = ?", (key,))
                stream = by_path(connection, path)
                if stream is None or stream.deleted or stream.closed or stream.expired(now):
                    continue  # the target is gone: nothing left to wake
                request = AppendRequest(path, stream.content_type, [bytes(message)])
                _append(connection, effects, request, hook)
            return len(due)

        return await self.write(operation)

    async def next_schedule(self) -> float | None:
        row = self.reader.execute("SELECT min(due_at) FROM schedules").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    async def head(self, path: str) -> StreamRecord:
        return visible(by_path(self.reader, path), path, time.time())

    async def read(
        self, path: str, position: int | None, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        stream = visible(by_path(self.reader, path), path, time.time())
        if stream.ttl_seconds is not None:
            await self.write(lambda c, e: _touch(c, e, stream.id))
        if position is None:
            return ReadResult(stream=stream, next_position=stream.tail, up_to_date=True)
        return _read_chain(self.reader, stream, position, max_bytes)

    async def read_from(
        self, stream: StreamRecord, position: int, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        return _read_chain(self.reader, stream, position, max_bytes)

    async def lookup_live(self, stream_id: int) -> StreamRecord | None:
        record = by_id(self.reader, stream_id)
        if record is None or record.deleted or record.expired(time.time()):
            return None
        return record

    async def list_paths(self, prefix: str = "", limit: int = 1000) -> list[str]:
        # A range on path, which the path index serves, rather than a scan comparing
        # every path's beginning.
        upper = prefix_upper(prefix)
        below, bound = ("", ()) if upper is None else (" AND path < ?", (upper,))
        rows = self.reader.execute(
            f"SELECT path FROM streams WHERE deleted = 0 AND path >= ?{below}"
            " ORDER BY path LIMIT ?",
            (prefix, *bound, limit),
        ).fetchall()
        return [row[0] for row in rows]
