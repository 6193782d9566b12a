"""Versioned schema of the SQLite backend, applied at start.

``PRAGMA user_version`` records the version a database file is at; each migration moves
it up by one inside one transaction, so a crash mid-upgrade leaves the old version intact.
Append new migrations to the end; never edit one that has shipped.
"""

from __future__ import annotations

import sqlite3

MIGRATIONS: list[str] = [
    # 1: streams, their messages and idempotent producer state.
    """
    CREATE TABLE streams (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        created_at REAL NOT NULL,
        ttl_seconds INTEGER,
        expires_at REAL,
        last_access REAL NOT NULL,
        tail INTEGER NOT NULL DEFAULT 0,
        closed INTEGER NOT NULL DEFAULT 0,
        closed_by_id TEXT,
        closed_by_epoch INTEGER,
        closed_by_seq INTEGER,
        last_seq TEXT,
        fork_of INTEGER,
        fork_pos INTEGER NOT NULL DEFAULT 0,
        fork_request TEXT,
        forks INTEGER NOT NULL DEFAULT 0,
        deleted INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE messages (
        stream_id INTEGER NOT NULL,
        start INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (stream_id, start)
    ) WITHOUT ROWID;
    CREATE TABLE producers (
        stream_id INTEGER NOT NULL,
        producer_id TEXT NOT NULL,
        epoch INTEGER NOT NULL,
        last_seq INTEGER NOT NULL,
        PRIMARY KEY (stream_id, producer_id)
    ) WITHOUT ROWID;
    CREATE TABLE settings (
        key TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    # 2: subscriptions and the streams they follow.
    """
    CREATE TABLE subscriptions (
        id TEXT PRIMARY KEY,
        config BLOB NOT NULL,
        config_hash TEXT NOT NULL,
        pattern TEXT,
        base_url TEXT NOT NULL,
        created_at REAL NOT NULL,
        generation INTEGER NOT NULL DEFAULT 0,
        wake_id TEXT,
        holder TEXT,
        lease_expires_at REAL,
        next_attempt_at REAL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE TABLE subscription_links (
        subscription_id TEXT NOT NULL,
        path TEXT NOT NULL,
        explicit INTEGER NOT NULL DEFAULT 0,
        glob INTEGER NOT NULL DEFAULT 0,
        acked INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (subscription_id, path)
    ) WITHOUT ROWID;
    CREATE INDEX subscription_links_by_path ON subscription_links (path);
    """,
    # 3: stream labels (indexed metadata for listing) and scheduled appends (timers).
    """
    CREATE TABLE stream_labels (
        stream_id INTEGER NOT NULL,
        name TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (stream_id, name)
    ) WITHOUT ROWID;
    CREATE INDEX stream_labels_by_value ON stream_labels (name, value, stream_id);
    CREATE TABLE schedules (
        key TEXT PRIMARY KEY,
        path TEXT NOT NULL,
        message BLOB NOT NULL,
        due_at REAL NOT NULL
    );
    CREATE INDEX schedules_by_due ON schedules (due_at);
    """,
    # 4: retention: where a stream now begins, once messages before it were trimmed; and
    # scheduled appends by target, removed with the stream they were due to.
    """
    ALTER TABLE streams ADD COLUMN retained_from INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX schedules_by_path ON schedules (path);
    """,
    # 5: the usage index: one row per model call, written with the append that records
    # it (see wakeful.streams.usage); sums by principal, entity or run and day are
    # indexed, for budgets checked before every model call.
    """
    CREATE TABLE usage (
        key TEXT PRIMARY KEY,
        entity TEXT NOT NULL,
        entity_type TEXT NOT NULL,
        run_id TEXT NOT NULL,
        principal TEXT,
        model TEXT,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL,
        cost REAL,
        at REAL NOT NULL,
        day TEXT NOT NULL
    );
    CREATE INDEX usage_by_principal ON usage (principal, day);
    CREATE INDEX usage_by_entity ON usage (entity, day);
    CREATE INDEX usage_by_run ON usage (run_id);
    CREATE INDEX usage_by_time ON usage (at);
    """,
]

LATEST = len(MIGRATIONS)


def version(connection: sqlite3.Connection) -> int:
    return int(connection.execute("PRAGMA user_version").fetchone()[0])


def migrate(connection: sqlite3.Connection, target: int = LATEST) -> int:
    """Bring the database up to ``target``; returns the version it started at."""
    start = version(connection)
    if start > LATEST:
        raise RuntimeError(
            f"database schema version {start} is newer than this Wakeful ({LATEST});"
            " upgrade Wakeful"
        )
    for number in range(start, target):
        connection.execute("BEGIN IMMEDIATE")
        try:
            for statement in MIGRATIONS[number].split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {number + 1}")
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    return start
