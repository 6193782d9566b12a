"""The statements of the PostgreSQL backend, with its schema spliced in once.

Kept apart from the code that runs them so each statement can be read whole. Writes that
would otherwise cost several round trips (an append: messages, producer state and the
stream's row) are one statement with data-modifying CTEs.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..model import ProducerClaim, StreamRecord
from ..usage import INSERT_COLUMNS as USAGE_COLUMNS

COLUMNS = (
    "id, path, content_type, created_at, ttl_seconds, expires_at, last_access, tail, closed,"
    " closed_by_id, closed_by_epoch, closed_by_seq, last_seq, fork_of, fork_pos, fork_request,"
    " forks, deleted, retained_from"
)


def record(row: asyncpg.Record | Any) -> StreamRecord:
    closed_by = (
        ProducerClaim(row["closed_by_id"], row["closed_by_epoch"], row["closed_by_seq"])
        if row["closed_by_id"] is not None
        else None
    )
    return StreamRecord(
        id=row["id"],
        path=row["path"],
        content_type=row["content_type"],
        created_at=row["created_at"],
        ttl_seconds=row["ttl_seconds"],
        expires_at=row["expires_at"],
        last_access=row["last_access"],
        tail=row["tail"],
        closed=row["closed"],
        closed_by=closed_by,
        last_seq=row["last_seq"],
        fork_of=row["fork_of"],
        fork_pos=row["fork_pos"],
        fork_request=row["fork_request"],
        forks=row["forks"],
        deleted=row["deleted"],
        retained_from=row["retained_from"],
    )


class Statements:
    def __init__(self, schema: str) -> None:
        s = self.schema = f'"{schema}"'
        self.by_path = f"SELECT {COLUMNS} FROM {s}.streams WHERE path = $1"
        self.by_path_locked = self.by_path + " FOR UPDATE"
        self.by_id = f"SELECT {COLUMNS} FROM {s}.streams WHERE id = $1"
        self.by_id_locked = self.by_id + " FOR UPDATE"
        prefixed = ", ".join(f"s.{column.strip()}" for column in COLUMNS.split(","))
        self.prefixed_columns = prefixed
        # The stream's row, locked for the rest of the transaction, with the producer's
        # state: everything decide_append needs, in one round trip.
        #
        # If another transaction changed the row while this one waited for the lock,
        # PostgreSQL returns the row's new version but keeps the producer's row as of the
        # statement's start: stale. The row's version (xmin) then differs from the one
        # the statement saw, and the caller reads the producer's state again.
        self.for_append = (
            f"SELECT {prefixed}, p.epoch AS producer_epoch, p.last_seq AS producer_seq,"
            " s.xmin::text AS locked_version,"
            f" (SELECT x.xmin::text FROM {s}.streams x WHERE x.id = s.id) AS seen_version"
            f" FROM {s}.streams s LEFT JOIN {s}.producers p"
            " ON p.stream_id = s.id AND p.producer_id = $2"
            " WHERE s.path = $1 FOR UPDATE OF s"
        )
        self.producer_state = (
            f"SELECT epoch, last_seq FROM {s}.producers WHERE stream_id = $1 AND producer_id = $2"
        )
        # Which subscriptions an append to this path concerns: those linked to the stream,
        # and the version of the set of pattern subscriptions (NULL when there are none),
        # which may match a path they have not seen. Asked in the statement that writes,
        # after the stream's row lock is held, so it costs no round trip and sees every
        # subscription committed before this write.
        watched = (
            f"ARRAY(SELECT l.subscription_id FROM {s}.subscription_links l"
            f" WHERE l.path = {s}.streams.path) AS linked,"
            " (SELECT CASE WHEN count > 0 THEN version END"
            f" FROM {s}.subscription_patterns) AS patterns"
        )
        self.append = (
            "WITH written AS ("
            f"  INSERT INTO {s}.messages (stream_id, start, data)"
            "   SELECT $1, m.start, m.data FROM unnest($2::bigint[], $3::bytea[]) AS m(start, data)"
            "), producer AS ("
            f"  INSERT INTO {s}.producers (stream_id, producer_id, epoch, last_seq)"
            "   SELECT $1, $4::text, $5::bigint, $6::bigint WHERE $4::text IS NOT NULL"
            "   ON CONFLICT (stream_id, producer_id)"
            "   DO UPDATE SET epoch = excluded.epoch, last_seq = excluded.last_seq"
            ")"
            f" UPDATE {s}.streams SET tail = $7, last_access = $8, closed = $9,"
            " last_seq = coalesce($10::text, last_seq), closed_by_id = $11,"
            " closed_by_epoch = $12, closed_by_seq = $13 WHERE id = $1"
            f" RETURNING {watched}"
        )
        self.insert_stream = (
            f"INSERT INTO {s}.streams (path, content_type, created_at, ttl_seconds, expires_at,"
            " last_access, tail, closed, fork_of, fork_pos, fork_request, retained_from)"
            " VALUES ($1, $2, $3, $4, $5, $3, $6, $7, $8, $9, $10, $11)"
            f" ON CONFLICT (path) DO NOTHING RETURNING {COLUMNS}, {watched}"
        )
        self.insert_messages = (
            f"INSERT INTO {s}.messages (stream_id, start, data)"
            " SELECT $1, m.start, m.data FROM unnest($2::bigint[], $3::bytea[]) AS m(start, data)"
        )
        self.lock_paths = (
            f"SELECT id FROM {s}.streams WHERE path = ANY($1::text[]) ORDER BY path FOR UPDATE"
        )
        self.set_tail = f"UPDATE {s}.streams SET tail = $2 WHERE id = $1 RETURNING {COLUMNS}"
        self.add_fork = f"UPDATE {s}.streams SET forks = forks + 1 WHERE id = $1"
        self.drop_fork = (
            f"UPDATE {s}.streams SET forks = forks - 1 WHERE id = $1 RETURNING {COLUMNS}"
        )
        self.soft_delete = f"UPDATE {s}.streams SET deleted = true WHERE id = $1"
        self.purge = (
            f"WITH m AS (DELETE FROM {s}.messages WHERE stream_id = $1),"
            f" p AS (DELETE FROM {s}.producers WHERE stream_id = $1),"
            f" l AS (DELETE FROM {s}.stream_labels WHERE stream_id = $1),"
            f" t AS (DELETE FROM {s}.schedules WHERE path = $2)"
            f" DELETE FROM {s}.streams WHERE id = $1"
        )
        # Retention: the last message boundary at or below a position on one level of a
        # fork chain, the message that keeps the last N, the forks that hold a trim back,
        # and the trim itself.
        self.boundary = (
            f"SELECT max(start) FROM {s}.messages"
            " WHERE stream_id = $1 AND start <= $2 AND start < $3"
        )
        self.nth_last = (
            f"SELECT start FROM {s}.messages WHERE stream_id = $1"
            " ORDER BY start DESC LIMIT 1 OFFSET $2"
        )
        self.forks_of = f"SELECT {COLUMNS} FROM {s}.streams WHERE fork_of = $1"
        self.trim = (
            f"WITH m AS (DELETE FROM {s}.messages WHERE stream_id = $1 AND start < $2)"
            f" UPDATE {s}.streams SET retained_from = $2 WHERE id = $1"
        )
        self.touch = f"UPDATE {s}.streams SET last_access = $2 WHERE id = $1"
        self.read_level = (
            f"SELECT start, data FROM {s}.messages"
            " WHERE stream_id = $1 AND start >= $2 AND start < $3 ORDER BY start"
        )
        self.expired = (
            f"SELECT id FROM {s}.streams WHERE NOT deleted AND (expires_at <= $1"
            " OR (ttl_seconds IS NOT NULL AND last_access + ttl_seconds <= $1))"
        )
        self.list_paths = (
            f"SELECT path FROM {s}.streams WHERE NOT deleted AND path >= $1 ORDER BY path LIMIT $2"
        )
        self.list_paths_below = (
            f"SELECT path FROM {s}.streams WHERE NOT deleted AND path >= $1 AND path < $2"
            " ORDER BY path LIMIT $3"
        )
        self.get_setting = f"SELECT value FROM {s}.settings WHERE key = $1"
        self.put_setting = (
            f"INSERT INTO {s}.settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
        )
        self.set_label = (
            f"INSERT INTO {s}.stream_labels (stream_id, name, value) VALUES ($1, $2, $3)"
            " ON CONFLICT (stream_id, name) DO UPDATE SET value = excluded.value"
        )
        self.drop_label = f"DELETE FROM {s}.stream_labels WHERE stream_id = $1 AND name = $2"
        self.labels_of = (
            f"SELECT stream_id, name, value FROM {s}.stream_labels WHERE stream_id = ANY($1)"
        )
        # Keyed by the model call: recording it again changes nothing.
        self.record_usage = (
            f"INSERT INTO {s}.usage ({USAGE_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (key) DO NOTHING"
        )
        self.schedule = (
            f"INSERT INTO {s}.schedules (key, path, message, due_at) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (key) DO UPDATE SET path = excluded.path,"
            " message = excluded.message, due_at = excluded.due_at"
        )
        self.cancel_schedule = f"DELETE FROM {s}.schedules WHERE key = $1"
        # Another process firing at the same moment skips the rows this one holds, so a
        # timer fires once however many processes run a scheduler.
        self.take_due = (
            f"DELETE FROM {s}.schedules WHERE key IN (SELECT key FROM {s}.schedules"
            " WHERE due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED)"
            " RETURNING key, path, message, due_at"
        )
        self.next_schedule = f"SELECT min(due_at) FROM {s}.schedules"


SUBSCRIPTION_COLUMNS = (
    "id, config, config_hash, base_url, created_at, generation, wake_id, holder,"
    " lease_expires_at, next_attempt_at, attempts, last_error"
)


class SubscriptionStatements:
    """Subscriptions and their links. Every change to a subscription's wake state runs with
    its row locked (``FOR UPDATE``), so processes sharing the database take turns on it."""

    def __init__(self, schema: str) -> None:
        s = self.schema = f'"{schema}"'
        row = SUBSCRIPTION_COLUMNS
        self.load = f"SELECT {row} FROM {s}.subscriptions WHERE id = $1"
        self.lock = self.load + " FOR UPDATE"
        # The links of some subscriptions, with the tails of their streams. Run after the
        # subscriptions' rows are locked, so it sees every append committed before.
        self.links = (
            "SELECT l.subscription_id, l.path, l.explicit, l.glob, l.acked, s.tail, s.deleted"
            f" FROM {s}.subscription_links l LEFT JOIN {s}.streams s ON s.path = l.path"
            " WHERE l.subscription_id = ANY($1::text[]) ORDER BY l.subscription_id, l.path"
        )
        self.save = (
            "WITH moved AS ("
            f"  UPDATE {s}.subscription_links l SET acked = u.acked"
            "   FROM unnest($9::text[], $10::bigint[]) AS u(path, acked)"
            "   WHERE l.subscription_id = $1 AND l.path = u.path AND l.acked <> u.acked"
            ")"
            f" UPDATE {s}.subscriptions SET generation = $2, wake_id = $3, holder = $4,"
            " lease_expires_at = $5, next_attempt_at = $6, attempts = $7, last_error = $8"
            " WHERE id = $1"
        )
        # Subscriptions an append concerns, locked in one order (by id) by every writer.
        self.lock_ids = (
            f"SELECT {row} FROM {s}.subscriptions WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE"
        )
        # The subscriptions a multi-write transaction will lock, locked up front by id:
        # those named, and those following the streams it writes.
        self.lock_many = (
            f"SELECT id FROM {s}.subscriptions WHERE id = ANY($1::text[]) OR id IN"
            f" (SELECT subscription_id FROM {s}.subscription_links WHERE path = ANY($2::text[]))"
            " ORDER BY id FOR UPDATE"
        )
        # The pattern subscriptions with the version of their set, read together.
        self.patterns = (
            f"SELECT v.version, p.id, p.pattern FROM {s}.subscription_patterns v"
            f" LEFT JOIN {s}.subscriptions p ON p.pattern IS NOT NULL ORDER BY p.id"
        )
        self.patterns_changed = (
            f"UPDATE {s}.subscription_patterns SET version = version + 1, count = count + $1"
        )
        self.link_glob = (
            f"INSERT INTO {s}.subscription_links (subscription_id, path, glob, acked)"
            " SELECT id, $2, true, $3 FROM unnest($1::text[]) AS id"
            " ON CONFLICT (subscription_id, path) DO NOTHING"
        )
        self.insert = (
            f"INSERT INTO {s}.subscriptions (id, config, config_hash, pattern, base_url,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING"
            " RETURNING id"
        )
        # Tails of streams about to be linked, share-locked so that an append in flight
        # finishes first (and is counted as seen) rather than slipping past both.
        self.tails_locked = (
            f"SELECT path, tail, deleted FROM {s}.streams WHERE path = ANY($1::text[])"
            " ORDER BY path FOR SHARE"
        )
        self.live_paths = (
            f"SELECT path, tail FROM {s}.streams WHERE NOT deleted AND path >= $1"
            " AND ($2::text IS NULL OR path < $2)"
        )
        self.lock_streams = f"LOCK TABLE {s}.streams IN SHARE MODE"
        self.insert_links = (
            f"INSERT INTO {s}.subscription_links AS l (subscription_id, path, explicit, glob,"
            " acked) SELECT $1, u.path, u.explicit, u.glob, u.acked"
            " FROM unnest($2::text[], $3::boolean[], $4::boolean[], $5::bigint[])"
            " AS u(path, explicit, glob, acked)"
            " ON CONFLICT (subscription_id, path)"
            " DO UPDATE SET explicit = l.explicit OR excluded.explicit"
        )
        self.unlink = (
            f"WITH dropped AS (DELETE FROM {s}.subscription_links"
            " WHERE subscription_id = $1 AND path = $2 AND NOT glob)"
            f" UPDATE {s}.subscription_links SET explicit = false"
            " WHERE subscription_id = $1 AND path = $2 AND glob"
        )
        self.delete = (
            f"WITH links AS (DELETE FROM {s}.subscription_links WHERE subscription_id = $1)"
            f" DELETE FROM {s}.subscriptions WHERE id = $1 RETURNING id, pattern"
        )
        # Several dispatchers at once each take different rows: SKIP LOCKED.
        self.take_due = (
            f"SELECT {row} FROM {s}.subscriptions WHERE wake_id IS NOT NULL"
            " AND next_attempt_at <= $1"
            " ORDER BY next_attempt_at LIMIT $2 FOR UPDATE SKIP LOCKED"
        )
        # A webhook wake being sent fences the subscription's producer at its generation
        # on its streams (see engine.take_delivery); run with the streams' rows locked.
        self.fence_producer = (
            f"INSERT INTO {s}.producers (stream_id, producer_id, epoch, last_seq)"
            f" SELECT id, $2, $3, -1 FROM {s}.streams WHERE path = $1"
            " ON CONFLICT (stream_id, producer_id) DO UPDATE SET epoch = excluded.epoch,"
            f" last_seq = -1 WHERE {s}.producers.epoch < excluded.epoch"
        )
        self.lock_paths = (
            f"SELECT id FROM {s}.streams WHERE path = ANY($1::text[]) ORDER BY path FOR UPDATE"
        )
        self.expired_leases = (
            f"SELECT {row} FROM {s}.subscriptions WHERE lease_expires_at <= $1"
            " ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED"
        )
        self.next_deadline = (
            f"SELECT least((SELECT min(next_attempt_at) FROM {s}.subscriptions"
            " WHERE wake_id IS NOT NULL),"
            f" (SELECT min(lease_expires_at) FROM {s}.subscriptions"
            " WHERE lease_expires_at IS NOT NULL))"
        )
        self.outstanding = (
            f"SELECT id FROM {s}.subscriptions WHERE wake_id IS NOT NULL AND holder IS NULL"
            " AND next_attempt_at IS NULL LIMIT $1"
        )
        # Wake events: appended at the end of the transaction that woke someone, without
        # subscription hooks.
        self.append_internal = (
            f"WITH written AS (INSERT INTO {s}.messages (stream_id, start, data)"
            " SELECT $1, m.start, m.data FROM unnest($2::bigint[], $3::bytea[]) AS m(start, data))"
            f" UPDATE {s}.streams SET tail = $4 WHERE id = $1"
        )
