"""The statements of the PostgreSQL backend, with its schema spliced in once.

Kept apart from the code that runs them so each statement can be read whole. Writes that
would otherwise cost several round trips (an append: messages, producer state and the
stream's row) are one statement with data-modifying CTEs.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from ..model import ProducerClaim, StreamRecord

COLUMNS = (
    "id, path, content_type, created_at, ttl_seconds, expires_at, last_access, tail, closed,"
    " closed_by_id, closed_by_epoch, closed_by_seq, last_seq, fork_of, fork_pos, fork_request,"
    " forks, deleted"
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
        self.for_append = (
            f"SELECT {prefixed}, p.epoch AS producer_epoch, p.last_seq AS producer_seq"
            f" FROM {s}.streams s LEFT JOIN {s}.producers p"
            " ON p.stream_id = s.id AND p.producer_id = $2"
            " WHERE s.path = $1 FOR UPDATE OF s"
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
        )
        self.insert_stream = (
            f"INSERT INTO {s}.streams (path, content_type, created_at, ttl_seconds, expires_at,"
            " last_access, tail, closed, fork_of, fork_pos, fork_request)"
            " VALUES ($1, $2, $3, $4, $5, $3, $6, $7, $8, $9, $10)"
            f" ON CONFLICT (path) DO NOTHING RETURNING {COLUMNS}"
        )
        self.insert_messages = (
            f"INSERT INTO {s}.messages (stream_id, start, data)"
            " SELECT $1, m.start, m.data FROM unnest($2::bigint[], $3::bytea[]) AS m(start, data)"
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
            f" l AS (DELETE FROM {s}.stream_labels WHERE stream_id = $1)"
            f" DELETE FROM {s}.streams WHERE id = $1"
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
