"""Subscriptions on the PostgreSQL backend, where the database decides every claim.

Each operation is one transaction that locks the subscription's row (``FOR UPDATE``)
before it reads the links and the tails of their streams, applies the shared state machine
(:mod:`..subscriptions.engine`) and writes the result back. So a claim made through one
process can be heartbeated, acked, released or fenced through any other, and two of them
never both win. Dispatchers take due webhook deliveries and expired leases with ``SKIP
LOCKED``, so several processes share that work without sending a wake twice.

Wakes are evaluated inside the transaction of the append that causes them
(:meth:`PostgresSubscriptionStore.after_append`). The statement that writes an append
also returns the subscriptions linked to the stream and the version of the set of pattern
subscriptions (none: no version), so an append nobody follows costs nothing more. Each
process caches that set under its version, and reads it again whenever an append reports
another version: another process may have created or deleted one a moment ago.

Lock order, kept by every writer so that they queue rather than deadlock: stream rows
first, then subscription rows (by id), and the wake stream last. Wake events are therefore
gathered in :class:`~.postgres.Effects` and appended just before the transaction commits;
the wake stream's row, which every wake of every process touches, is held for as short a
time as possible.

One race is left open, and it only delays a wake: linking a stream that another
transaction is creating at that very moment (with an initial body) links it at offset 0,
and the subscription wakes at that stream's next append rather than at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import orjson

from ...errors import Conflict, ErrorCode, SubscriptionExists, SubscriptionNotFound
from ..subscriptions import engine, globs
from ..subscriptions.model import Link, SubscriptionRow, SubscriptionSpec, WakeRequest
from ..subscriptions.store import SubscriptionStore
from ..subscriptions.tokens import TokenClaims
from .common import prefix_upper
from .postgres_sql import SubscriptionStatements

if TYPE_CHECKING:
    from .postgres import Connection, Effects, PostgresStorage

# Expired leases ended per transaction; the dispatcher comes back for the rest at once.
EXPIRE_BATCH = 500
WAKE_SIGNAL = "wake"


def _row(record: Any) -> SubscriptionRow:
    return SubscriptionRow(
        id=record["id"],
        spec=SubscriptionSpec.model_validate_json(bytes(record["config"])),
        config_hash=record["config_hash"],
        base_url=record["base_url"],
        created_at=record["created_at"],
        generation=record["generation"],
        wake_id=record["wake_id"],
        holder=record["holder"],
        lease_expires_at=record["lease_expires_at"],
        next_attempt_at=record["next_attempt_at"],
        attempts=record["attempts"],
        last_error=record["last_error"],
    )


def _pattern_prefix(pattern: str) -> str:
    """The literal beginning of a pattern: every path it matches starts with it."""
    literal = []
    for segment in pattern.split("/"):
        if "*" in segment:
            break
        literal.append(segment)
    return "/".join(literal)


class PostgresSubscriptionStore(SubscriptionStore):
    def __init__(self, storage: PostgresStorage) -> None:
        self._storage = storage
        self.sql = SubscriptionStatements(storage.schema)
        # The pattern subscriptions (id, pattern) as of a version of their set.
        self._patterns: tuple[int, list[tuple[str, str]]] = (-1, [])

    # --- rows --------------------------------------------------------------------------

    async def _attach_links(self, connection: Connection, rows: Iterable[SubscriptionRow]) -> None:
        by_id = {row.id: row for row in rows}
        for row in by_id.values():
            row.links = []
        for record in await connection.fetch(self.sql.links, list(by_id)):
            acked, tail = record["acked"], record["tail"]
            by_id[record["subscription_id"]].links.append(
                Link(
                    path=record["path"],
                    explicit=record["explicit"],
                    glob=record["glob"],
                    acked=acked,
                    # A missing or deleted stream has nothing to deliver.
                    tail=acked if tail is None or record["deleted"] else max(tail, acked),
                    exists=not (tail is None or record["deleted"]),
                )
            )

    async def _load(
        self, connection: Connection, subscription_id: str, *, lock: bool
    ) -> SubscriptionRow | None:
        record = await connection.fetchrow(
            self.sql.lock if lock else self.sql.load, subscription_id
        )
        if record is None:
            return None
        row = _row(record)
        await self._attach_links(connection, [row])
        return row

    async def _require(
        self, connection: Connection, subscription_id: str, *, lock: bool = True
    ) -> SubscriptionRow:
        row = await self._load(connection, subscription_id, lock=lock)
        if row is None:
            raise SubscriptionNotFound(f"subscription {subscription_id!r} does not exist")
        return row

    async def _save(self, connection: Connection, row: SubscriptionRow) -> None:
        await connection.execute(
            self.sql.save,
            row.id,
            row.generation,
            row.wake_id,
            row.holder,
            row.lease_expires_at,
            row.next_attempt_at,
            row.attempts,
            row.last_error,
            [link.path for link in row.links],
            [link.acked for link in row.links],
        )

    async def _tails(self, connection: Connection, paths: list[str]) -> dict[str, int]:
        """Current tails (0 for a missing or deleted stream), read under a share lock."""
        tails = dict.fromkeys(paths, 0)
        for record in await connection.fetch(self.sql.tails_locked, sorted(set(paths))):
            if not record["deleted"]:
                tails[record["path"]] = record["tail"]
        return tails

    # --- hooks called by stream writes, inside their transaction -----------------------

    async def after_append(
        self,
        connection: Connection,
        effects: Effects,
        path: str,
        before: int,
        after: int,
        *,
        linked: list[str],
        patterns: int | None,
    ) -> None:
        """Link the stream to matching patterns and wake idle subscriptions with new work.

        ``linked`` and ``patterns`` come from the statement that wrote the append: the
        subscriptions that follow ``path``, and the version of the set of pattern
        subscriptions (None when there are none)."""
        matched: list[str] = []
        if patterns is not None:
            matched = [
                subscription_id
                for subscription_id, pattern in await self._pattern_set(connection, patterns)
                if subscription_id not in linked and globs.matches(pattern, path)
            ]
        grown = after > before
        if not matched and not (linked and grown):
            return
        # Locked even when awake: an ack ending that wake right now must either see this
        # append (it waits for our commit) or have ended before we look (we start the next).
        # The list is complete: linking a stream takes its row lock, which this holds.
        wanted = sorted({*linked, *matched}) if grown else sorted(matched)
        rows = [_row(r) for r in await connection.fetch(self.sql.lock_ids, wanted)]
        if matched:
            # Only those still there once locked: a deletion may have just committed.
            exist = {row.id for row in rows}
            new = [subscription_id for subscription_id in matched if subscription_id in exist]
            if new:
                await connection.execute(self.sql.link_glob, new, path, before)
        if not grown:
            return
        idle = [row for row in rows if row.wake_id is None]
        if not idle:
            return
        await self._attach_links(connection, idle)
        now = time.time()
        for row in idle:
            if engine.wake_if_pending(row, now):
                self._announce(effects, row, path, now)
                await self._save(connection, row)

    async def _pattern_set(self, connection: Connection, version: int) -> list[tuple[str, str]]:
        """The pattern subscriptions at ``version`` (or later), cached per version."""
        cached_version, cached = self._patterns
        if cached_version == version:
            return cached
        rows = await connection.fetch(self.sql.patterns)
        patterns = [(row["id"], row["pattern"]) for row in rows if row["id"] is not None]
        self._patterns = (rows[0]["version"], patterns)
        return patterns

    def _announce(
        self, effects: Effects, row: SubscriptionRow, trigger: str | None, now: float
    ) -> None:
        """Tell workers about a new wake: a wake event (pull-wake) or a due delivery."""
        if row.spec.type == "webhook":
            self._signal_due(effects)
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
        effects.wake_events.setdefault(row.spec.wake_stream, []).append(orjson.dumps(event))

    def _signal_due(self, effects: Effects) -> None:
        """After commit, poke this process's dispatcher and, through NOTIFY, everyone's."""
        effects.after_commit.append(lambda: self.on_wake())
        effects.signals.add(WAKE_SIGNAL)

    # --- operations, also used inside batches (``*_now``) -------------------------------

    async def put_now(
        self,
        connection: Connection,
        subscription_id: str,
        spec: SubscriptionSpec,
        base_url: str,
    ) -> tuple[SubscriptionRow, bool]:
        config_hash = spec.config_hash()
        existing = await self._load(connection, subscription_id, lock=False)
        if existing is None:
            if spec.pattern is not None:
                # Hold back stream writes until this commits: a stream created meanwhile
                # would otherwise be neither seen here nor linked by its own append.
                await connection.execute(self.sql.lock_streams)
            tails = await self._tails(connection, spec.streams)
            links = {path: (True, False, tail) for path, tail in tails.items()}
            if spec.pattern is not None:
                prefix = _pattern_prefix(spec.pattern)
                for record in await connection.fetch(
                    self.sql.live_paths, prefix, prefix_upper(prefix)
                ):
                    if globs.matches(spec.pattern, record["path"]):
                        path = record["path"]
                        explicit = links[path][0] if path in links else False
                        links[path] = (explicit, True, record["tail"])
            inserted = await connection.fetchval(
                self.sql.insert,
                subscription_id,
                spec.normalized(),
                config_hash,
                spec.pattern,
                base_url,
                time.time(),
            )
            if inserted is not None:
                if spec.pattern is not None:
                    await connection.execute(self.sql.patterns_changed, 1)
                paths = list(links)
                await connection.execute(
                    self.sql.insert_links,
                    subscription_id,
                    paths,
                    [links[path][0] for path in paths],
                    [links[path][1] for path in paths],
                    [links[path][2] for path in paths],
                )
                return await self._require(connection, subscription_id, lock=False), True
            existing = await self._require(connection, subscription_id, lock=False)
        if existing.config_hash != config_hash:
            raise SubscriptionExists(
                f"subscription {subscription_id!r} exists with a different configuration"
            )
        return existing, False

    async def delete_now(self, connection: Connection, subscription_id: str) -> None:
        # Locked first, then deleted with its links by a statement that sees every link
        # added before the lock was granted.
        if await connection.fetchrow(self.sql.lock, subscription_id) is None:
            raise SubscriptionNotFound(f"subscription {subscription_id!r} does not exist")
        deleted = await connection.fetchrow(self.sql.delete, subscription_id)
        assert deleted is not None
        if deleted["pattern"] is not None:
            await connection.execute(self.sql.patterns_changed, -1)

    async def add_streams_now(
        self, connection: Connection, effects: Effects, subscription_id: str, paths: list[str]
    ) -> None:
        tails = await self._tails(connection, paths)  # streams before the subscription
        row = await self._require(connection, subscription_id)
        ordered = sorted(tails)
        await connection.execute(
            self.sql.insert_links,
            subscription_id,
            ordered,
            [True] * len(ordered),
            [False] * len(ordered),
            [tails[path] for path in ordered],
        )
        if row.wake_id is None:
            # Normally nothing is pending (links start at the tail); this catches an append
            # that committed between reading the tails and linking.
            await self._attach_links(connection, [row])
            now = time.time()
            if engine.wake_if_pending(row, now):
                self._announce(effects, row, None, now)
                await self._save(connection, row)

    async def remove_stream_now(
        self, connection: Connection, subscription_id: str, path: str
    ) -> None:
        await self._require(connection, subscription_id)
        await connection.execute(self.sql.unlink, subscription_id, path)

    async def ack_now(
        self,
        connection: Connection,
        effects: Effects,
        subscription_id: str,
        claims: TokenClaims,
        request: WakeRequest,
    ) -> bool:
        row = await self._require(connection, subscription_id)
        now = time.time()
        engine.check_current(row, claims, request)
        engine.apply_acks(row, request.acks)
        if not request.done:
            engine.heartbeat(row, now)
            await self._save(connection, row)
            return False
        engine.end_wake(row)
        next_wake = engine.wake_if_pending(row, now)
        if next_wake:
            self._announce(effects, row, None, now)
        await self._save(connection, row)
        return next_wake

    # --- the SubscriptionStore interface -----------------------------------------------

    async def put(
        self, subscription_id: str, spec: SubscriptionSpec, base_url: str
    ) -> tuple[SubscriptionRow, bool]:
        async def operation(connection: Connection, effects: Effects) -> tuple[Any, bool]:
            return await self.put_now(connection, subscription_id, spec, base_url)

        return await self._storage.transact(operation)

    async def get(self, subscription_id: str) -> SubscriptionRow:
        async with (
            self._storage.pool.acquire() as connection,
            connection.transaction(isolation="repeatable_read", readonly=True),
        ):
            return await self._require(connection, subscription_id, lock=False)

    async def delete(self, subscription_id: str) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            await self.delete_now(connection, subscription_id)

        await self._storage.transact(operation)

    async def add_streams(self, subscription_id: str, paths: list[str]) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            await self.add_streams_now(connection, effects, subscription_id, paths)

        await self._storage.transact(operation)

    async def remove_stream(self, subscription_id: str, path: str) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            await self.remove_stream_now(connection, subscription_id, path)

        await self._storage.transact(operation)

    async def claim(self, subscription_id: str, worker: str) -> SubscriptionRow:
        async def operation(connection: Connection, effects: Effects) -> SubscriptionRow:
            row = await self._require(connection, subscription_id)
            if row.spec.type != "pull-wake":
                raise Conflict(
                    "only pull-wake subscriptions are claimed", code=ErrorCode.NOT_PULL_WAKE
                )
            now = time.time()
            if row.holder is not None and engine.lease_expired(row, now):
                engine.end_wake(row)
            had_wake = row.wake_id is not None
            engine.claim(row, worker, now)
            if not had_wake:
                self._announce(effects, row, None, now)
            await self._save(connection, row)
            return row

        return await self._storage.transact(operation)

    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        async def operation(connection: Connection, effects: Effects) -> bool:
            return await self.ack_now(connection, effects, subscription_id, claims, request)

        return await self._storage.transact(operation)

    async def release(
        self, subscription_id: str, claims: TokenClaims, request: WakeRequest
    ) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            row = await self._require(connection, subscription_id)
            now = time.time()
            engine.check_current(row, claims, request)
            engine.end_wake(row)
            if engine.wake_if_pending(row, now):
                self._announce(effects, row, None, now)
            await self._save(connection, row)

        await self._storage.transact(operation)

    async def take_due_deliveries(self, now: float, limit: int = 32) -> list[SubscriptionRow]:
        async def operation(connection: Connection, effects: Effects) -> list[SubscriptionRow]:
            fences.clear()  # a transaction run again starts over
            due = [_row(r) for r in await connection.fetch(self.sql.take_due, now, limit)]
            if due:
                await self._attach_links(connection, due)
            for row in due:
                engine.take_delivery(row, now)
                fences.extend((link.path, row.id, row.generation) for link in row.links)
                await self._save(connection, row)
            return due

        async def fence(connection: Connection, effects: Effects) -> None:
            # Stream rows first, as every writer takes them (see the lock order above), in
            # a transaction of its own: the subscriptions' rows are no longer held.
            await connection.fetch(self.sql.lock_paths, sorted({path for path, _, _ in fences}))
            await connection.executemany(self.sql.fence_producer, sorted(fences))

        fences: list[tuple[str, str, int]] = []
        due = await self._storage.transact(operation)
        if fences:
            # Before any of them is sent, so no older generation appends after it is out.
            await self._storage.transact(fence)
        return due

    async def _current(
        self, connection: Connection, sent: SubscriptionRow
    ) -> SubscriptionRow | None:
        row = await self._load(connection, sent.id, lock=True)
        if row is None or row.wake_id != sent.wake_id or row.generation != sent.generation:
            return None
        return row

    async def delivery_succeeded(self, sent: SubscriptionRow, done: bool) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            row = await self._current(connection, sent)
            if row is None:
                return
            now = time.time()
            if not done:
                row.next_attempt_at = None
                row.attempts = 0
                row.last_error = None
                await self._save(connection, row)
                return
            snapshot = {link.path: link.tail for link in sent.links}
            for link in row.links:
                if link.path in snapshot:
                    link.acked = max(link.acked, min(snapshot[link.path], link.tail))
            engine.end_wake(row)
            if engine.wake_if_pending(row, now):
                self._announce(effects, row, None, now)
            await self._save(connection, row)

        await self._storage.transact(operation)

    async def delivery_failed(self, sent: SubscriptionRow, error: str) -> None:
        async def operation(connection: Connection, effects: Effects) -> None:
            row = await self._current(connection, sent)
            if row is None:
                return
            engine.delivery_failed(row, error, time.time())
            await self._save(connection, row)
            self._signal_due(effects)

        await self._storage.transact(operation)

    async def expire_leases(self, now: float) -> int:
        async def operation(connection: Connection, effects: Effects) -> int:
            rows = [
                _row(r) for r in await connection.fetch(self.sql.expired_leases, now, EXPIRE_BATCH)
            ]
            if rows:
                await self._attach_links(connection, rows)
            for row in rows:
                if engine.expire_lease(row, now):
                    self._announce(effects, row, None, now)
                await self._save(connection, row)
            return len(rows)

        expired = 0
        while True:
            count = await self._storage.transact(operation)
            expired += count
            if count < EXPIRE_BATCH:
                return expired

    async def next_deadline(self) -> float | None:
        async with self._storage.pool.acquire() as connection:
            deadline = await connection.fetchval(self.sql.next_deadline)
        return None if deadline is None else float(deadline)

    async def outstanding_wakes(self, limit: int = 1000) -> list[str]:
        async with self._storage.pool.acquire() as connection:
            rows = await connection.fetch(self.sql.outstanding, limit)
        return [row[0] for row in rows]

    async def setting(self, key: str, create: Callable[[], bytes]) -> bytes:
        return await self._storage.setting(key, create)
