"""Subscriptions on the SQLite backend.

All changes run on the writer thread, inside the group-commit transaction, so a wake is
recorded in the same commit as the append that caused it. The list of pattern
subscriptions is cached on the writer thread (the only writer of this database) and
dropped whenever a subscription is created or deleted.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from ...errors import Conflict, ErrorCode, SubscriptionExists, SubscriptionNotFound
from ..subscriptions import engine, globs
from ..subscriptions.model import Link, SubscriptionRow, SubscriptionSpec, WakeRequest
from ..subscriptions.store import SubscriptionStore
from ..subscriptions.tokens import TokenClaims
from .sqlite_rows import by_path
from .sqlite_writer import Effects

if TYPE_CHECKING:
    from .sqlite import SqliteStorage

_ROW = (
    "id, config, config_hash, base_url, created_at, generation, wake_id, holder,"
    " lease_expires_at, next_attempt_at, attempts, last_error"
)
# A webhook wake being sent fences the subscription's producer at its generation on the
# linked streams (see engine.take_delivery): appends under an older epoch are refused.
_FENCE = (
    "INSERT INTO producers (stream_id, producer_id, epoch, last_seq)"
    " SELECT id, ?, ?, -1 FROM streams WHERE path = ?"
    " ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch,"
    " last_seq = -1 WHERE producers.epoch < excluded.epoch"
)


@functools.lru_cache(maxsize=4096)
def _spec(config: str) -> SubscriptionSpec:
    """A stored configuration, parsed once: rows are loaded on every append that touches a
    linked stream, and the configuration of a subscription never changes."""
    return SubscriptionSpec.model_validate_json(config)


def _load(connection: sqlite3.Connection, subscription_id: str) -> SubscriptionRow | None:
    row = connection.execute(
        f"SELECT {_ROW} FROM subscriptions WHERE id = ?", (subscription_id,)
    ).fetchone()
    if row is None:
        return None
    result = SubscriptionRow(
        id=row[0],
        spec=_spec(row[1]),
        config_hash=row[2],
        base_url=row[3],
        created_at=row[4],
        generation=row[5],
        wake_id=row[6],
        holder=row[7],
        lease_expires_at=row[8],
        next_attempt_at=row[9],
        attempts=row[10],
        last_error=row[11],
    )
    result.links = _links(connection, subscription_id)
    return result


def _require(connection: sqlite3.Connection, subscription_id: str) -> SubscriptionRow:
    row = _load(connection, subscription_id)
    if row is None:
        raise SubscriptionNotFound(f"subscription {subscription_id!r} does not exist")
    return row


def _links(connection: sqlite3.Connection, subscription_id: str) -> list[Link]:
    rows = connection.execute(
        "SELECT l.path, l.explicit, l.glob, l.acked, s.tail, s.deleted"
        " FROM subscription_links l LEFT JOIN streams s ON s.path = l.path"
        " WHERE l.subscription_id = ? ORDER BY l.path",
        (subscription_id,),
    ).fetchall()
    return [
        Link(
            path=path,
            explicit=bool(explicit),
            glob=bool(glob),
            acked=acked,
            # A missing or deleted stream has nothing to deliver.
            tail=acked if tail is None or deleted else max(tail, acked),
            exists=not (tail is None or deleted),
        )
        for path, explicit, glob, acked, tail, deleted in rows
    ]


def _save(connection: sqlite3.Connection, row: SubscriptionRow) -> None:
    connection.execute(
        "UPDATE subscriptions SET generation = ?, wake_id = ?, holder = ?, lease_expires_at = ?,"
        " next_attempt_at = ?, attempts = ?, last_error = ? WHERE id = ?",
        (
            row.generation,
            row.wake_id,
            row.holder,
            row.lease_expires_at,
            row.next_attempt_at,
            row.attempts,
            row.last_error,
            row.id,
        ),
    )
    connection.executemany(
        "UPDATE subscription_links SET acked = ? WHERE subscription_id = ? AND path = ?",
        [(link.acked, row.id, link.path) for link in row.links],
    )


def _tail(connection: sqlite3.Connection, path: str) -> int:
    stream = by_path(connection, path)
    return stream.tail if stream is not None and not stream.deleted else 0


class SqliteSubscriptionStore(SubscriptionStore):
    def __init__(self, storage: SqliteStorage) -> None:
        self._storage = storage
        self._patterns: list[tuple[str, str]] | None = None  # writer thread only

    # --- hooks called by stream writes, on the writer thread --------------------------

    def after_append(
        self,
        connection: sqlite3.Connection,
        effects: Effects,
        path: str,
        before: int,
        after: int,
    ) -> None:
        """Link the stream to matching patterns and wake idle subscriptions with new work."""
        if self._patterns is None:
            self._patterns = connection.execute(
                "SELECT id, pattern FROM subscriptions WHERE pattern IS NOT NULL"
            ).fetchall()
        waking = dict(
            connection.execute(
                "SELECT l.subscription_id, s.wake_id FROM subscription_links l"
                " JOIN subscriptions s ON s.id = l.subscription_id WHERE l.path = ?",
                (path,),
            ).fetchall()
        )
        linked = set(waking)
        if not linked and not self._patterns:
            return
        for subscription_id, pattern in self._patterns:
            if subscription_id not in linked and globs.matches(pattern, path):
                connection.execute(
                    "INSERT INTO subscription_links (subscription_id, path, glob, acked)"
                    " VALUES (?, ?, 1, ?)",
                    (subscription_id, path, before),
                )
                linked.add(subscription_id)
        if after <= before:
            return
        now = time.time()
        for subscription_id in sorted(linked):
            if waking.get(subscription_id) is not None:
                continue  # a wake is out already: it will see this append (say, a handler's own)
            row = _load(connection, subscription_id)
            if row is not None and engine.wake_if_pending(row, now):
                self._announce(connection, effects, row, path, now)
                _save(connection, row)

    def _announce(
        self,
        connection: sqlite3.Connection,
        effects: Effects,
        row: SubscriptionRow,
        trigger: str | None,
        now: float,
    ) -> None:
        """Tell workers about a new wake: a wake event (pull-wake) or a due delivery."""
        if row.spec.type == "webhook":
            effects.after_commit.append(self.on_wake)
            return
        assert row.spec.wake_stream is not None
        pending = [link.path for link in row.links if link.pending]
        event = {
            "type": "wake",
            "subscription_id": row.id,
            "stream": trigger if trigger is not None else (pending[0] if pending else None),
            "generation": row.generation,
            "ts": int(now * 1000),
        }
        self._storage.append_internal(
            connection, effects, row.spec.wake_stream, orjson.dumps(event)
        )

    # --- operations ----------------------------------------------------------------------

    def put_now(
        self,
        connection: sqlite3.Connection,
        subscription_id: str,
        spec: SubscriptionSpec,
        base_url: str,
    ) -> tuple[SubscriptionRow, bool]:
        config_hash = spec.config_hash()
        existing = _load(connection, subscription_id)
        if existing is not None:
            if existing.config_hash != config_hash:
                raise SubscriptionExists(
                    f"subscription {subscription_id!r} exists with a different configuration"
                )
            return existing, False
        connection.execute(
            "INSERT INTO subscriptions (id, config, config_hash, pattern, base_url, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (subscription_id, spec.normalized(), config_hash, spec.pattern, base_url, time.time()),
        )
        links: dict[str, tuple[int, int]] = {path: (1, 0) for path in spec.streams}
        if spec.pattern is not None:
            for (path,) in connection.execute("SELECT path FROM streams WHERE deleted = 0"):
                if globs.matches(spec.pattern, path):
                    links[path] = (links.get(path, (0, 0))[0], 1)
        connection.executemany(
            "INSERT INTO subscription_links (subscription_id, path, explicit, glob, acked)"
            " VALUES (?, ?, ?, ?, ?)",
            [
                (subscription_id, path, explicit, glob, _tail(connection, path))
                for path, (explicit, glob) in links.items()
            ],
        )
        if spec.pattern is not None:
            # Only pattern subscriptions change what appends match; dropping the cache for
            # every subscription would rescan them all at the next append (each spawn).
            self._patterns = None
        return _require(connection, subscription_id), True

    async def put(
        self, subscription_id: str, spec: SubscriptionSpec, base_url: str
    ) -> tuple[SubscriptionRow, bool]:
        return await self._storage.write(
            lambda c, e: self.put_now(c, subscription_id, spec, base_url)
        )

    async def get(self, subscription_id: str) -> SubscriptionRow:
        return _require(self._storage.reader, subscription_id)

    def delete_now(self, connection: sqlite3.Connection, subscription_id: str) -> None:
        row = _require(connection, subscription_id)
        connection.execute(
            "DELETE FROM subscription_links WHERE subscription_id = ?", (subscription_id,)
        )
        connection.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))
        if row.spec.pattern is not None:
            self._patterns = None

    async def delete(self, subscription_id: str) -> None:
        await self._storage.write(lambda c, e: self.delete_now(c, subscription_id))

    def add_streams_now(
        self, connection: sqlite3.Connection, subscription_id: str, paths: list[str]
    ) -> None:
        _require(connection, subscription_id)
        for path in paths:
            connection.execute(
                "INSERT INTO subscription_links (subscription_id, path, explicit, acked)"
                " VALUES (?, ?, 1, ?) ON CONFLICT (subscription_id, path)"
                " DO UPDATE SET explicit = 1",
                (subscription_id, path, _tail(connection, path)),
            )

    async def add_streams(self, subscription_id: str, paths: list[str]) -> None:
        await self._storage.write(lambda c, e: self.add_streams_now(c, subscription_id, paths))

    def remove_stream_now(
        self, connection: sqlite3.Connection, subscription_id: str, path: str
    ) -> None:
        _require(connection, subscription_id)
        connection.execute(
            "UPDATE subscription_links SET explicit = 0 WHERE subscription_id = ? AND path = ?",
            (subscription_id, path),
        )
        connection.execute(
            "DELETE FROM subscription_links WHERE subscription_id = ? AND path = ?"
            " AND explicit = 0 AND glob = 0",
            (subscription_id, path),
        )

    async def remove_stream(self, subscription_id: str, path: str) -> None:
        await self._storage.write(lambda c, e: self.remove_stream_now(c, subscription_id, path))

    def _pull_wake(self, connection: sqlite3.Connection, subscription_id: str) -> SubscriptionRow:
        row = _require(connection, subscription_id)
        if row.spec.type != "pull-wake":
            raise Conflict("only pull-wake subscriptions are claimed", code=ErrorCode.NOT_PULL_WAKE)
        return row

    async def claim(self, subscription_id: str, worker: str) -> SubscriptionRow:
        def operation(connection: sqlite3.Connection, effects: Effects) -> SubscriptionRow:
            row = self._pull_wake(connection, subscription_id)
            now = time.time()
            if row.holder is not None and engine.lease_expired(row, now):
                engine.end_wake(row)
            had_wake = row.wake_id is not None
            engine.claim(row, worker, now)
            if not had_wake:
                self._announce(connection, effects, row, None, now)
            _save(connection, row)
            return row

        return await self._storage.write(operation)

    def ack_now(
        self,
        connection: sqlite3.Connection,
        effects: Effects,
        subscription_id: str,
        claims: TokenClaims,
        request: WakeRequest,
    ) -> bool:
        row = _require(connection, subscription_id)
        now = time.time()
        engine.check_current(row, claims, request)
        engine.apply_acks(row, request.acks)
        if not request.done:
            engine.heartbeat(row, now)
            _save(connection, row)
            return False
        engine.end_wake(row)
        next_wake = engine.wake_if_pending(row, now)
        if next_wake:
            self._announce(connection, effects, row, None, now)
        _save(connection, row)
        return next_wake

    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        return await self._storage.write(
            lambda c, e: self.ack_now(c, e, subscription_id, claims, request)
        )

    async def release(
        self, subscription_id: str, claims: TokenClaims, request: WakeRequest
    ) -> None:
        def operation(connection: sqlite3.Connection, effects: Effects) -> None:
            row = _require(connection, subscription_id)
            now = time.time()
            engine.check_current(row, claims, request)
            engine.end_wake(row)
            if engine.wake_if_pending(row, now):
                self._announce(connection, effects, row, None, now)
            _save(connection, row)

        await self._storage.write(operation)

    async def take_due_deliveries(self, now: float, limit: int = 32) -> list[SubscriptionRow]:
        def operation(connection: sqlite3.Connection, effects: Effects) -> list[SubscriptionRow]:
            ids = [
                row[0]
                for row in connection.execute(
                    "SELECT id FROM subscriptions WHERE wake_id IS NOT NULL"
                    " AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
                    (now, limit),
                )
            ]
            due = []
            for subscription_id in ids:
                row = _require(connection, subscription_id)
                engine.take_delivery(row, now)
                for link in row.links:
                    connection.execute(_FENCE, (row.id, row.generation, link.path))
                _save(connection, row)
                due.append(row)
            return due

        return await self._storage.write(operation)

    def _current(
        self, connection: sqlite3.Connection, sent: SubscriptionRow
    ) -> SubscriptionRow | None:
        row = _load(connection, sent.id)
        if row is None or row.wake_id != sent.wake_id or row.generation != sent.generation:
            return None
        return row

    async def delivery_succeeded(self, sent: SubscriptionRow, done: bool) -> None:
        def operation(connection: sqlite3.Connection, effects: Effects) -> None:
            row = self._current(connection, sent)
            if row is None:
                return
            now = time.time()
            if not done:
                row.next_attempt_at = None
                row.attempts = 0
                row.last_error = None
                _save(connection, row)
                return
            snapshot = {link.path: link.tail for link in sent.links}
            for link in row.links:
                if link.path in snapshot:
                    link.acked = max(link.acked, min(snapshot[link.path], link.tail))
            engine.end_wake(row)
            if engine.wake_if_pending(row, now):
                self._announce(connection, effects, row, None, now)
            _save(connection, row)

        await self._storage.write(operation)

    async def delivery_failed(self, sent: SubscriptionRow, error: str) -> None:
        def operation(connection: sqlite3.Connection, effects: Effects) -> None:
            row = self._current(connection, sent)
            if row is None:
                return
            engine.delivery_failed(row, error, time.time())
            _save(connection, row)
            effects.after_commit.append(self.on_wake)

        await self._storage.write(operation)

    async def expire_leases(self, now: float) -> int:
        def operation(connection: sqlite3.Connection, effects: Effects) -> int:
            ids = [
                row[0]
                for row in connection.execute(
                    "SELECT id FROM subscriptions WHERE lease_expires_at <= ?", (now,)
                )
            ]
            for subscription_id in ids:
                row = _require(connection, subscription_id)
                if engine.expire_lease(row, now):
                    self._announce(connection, effects, row, None, now)
                _save(connection, row)
            return len(ids)

        return await self._storage.write(operation)

    async def next_deadline(self) -> float | None:
        row: Any = self._storage.reader.execute(
            "SELECT min(min(coalesce(next_attempt_at, 1e300), coalesce(lease_expires_at, 1e300)))"
            " FROM subscriptions WHERE wake_id IS NOT NULL"
        ).fetchone()
        if row is None or row[0] is None or row[0] >= 1e300:
            return None
        return float(row[0])

    async def outstanding_wakes(self, limit: int = 1000) -> list[str]:
        rows = self._storage.reader.execute(
            "SELECT id FROM subscriptions WHERE wake_id IS NOT NULL AND holder IS NULL"
            " AND next_attempt_at IS NULL LIMIT ?",
            (limit,),
        ).fetchall()
        return [row[0] for row in rows]

    async def setting(self, key: str, create: Callable[[], bytes]) -> bytes:
        def operation(connection: sqlite3.Connection, effects: Effects) -> bytes:
            row = connection.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return bytes(row[0])
            value = create()
            connection.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (key, value))
            return value

        return await self._storage.write(operation)
