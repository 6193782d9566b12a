"""Schema migrations, on both backends: a database made by an earlier version is upgraded
at start with its data intact; a current one is left alone; a newer one is refused."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from support.postgres import schema_url

from wakeful.streams.storage import postgres_schema, sqlite_schema
from wakeful.streams.storage.postgres import PostgresStorage
from wakeful.streams.storage.sqlite import SqliteStorage

# Rows that every schema version since 1 can hold: a stream with one message.
STREAM = "INSERT INTO streams (path, content_type, created_at, last_access, tail)"
MESSAGE = "INSERT INTO messages (stream_id, start, data)"


def _sqlite_tables(connection: sqlite3.Connection) -> list[tuple[str, str]]:
    return connection.execute("SELECT name, sql FROM sqlite_master ORDER BY name").fetchall()


def test_sqlite_fresh_database_reaches_latest_and_migrate_again_is_a_no_op(
    tmp_path: Path,
) -> None:
    connection = sqlite3.connect(tmp_path / "fresh.db", isolation_level=None)
    assert sqlite_schema.migrate(connection) == 0
    assert sqlite_schema.version(connection) == sqlite_schema.LATEST
    before = _sqlite_tables(connection)
    assert sqlite_schema.migrate(connection) == sqlite_schema.LATEST
    assert _sqlite_tables(connection) == before
    connection.close()


@pytest.mark.skipif(sqlite_schema.LATEST < 2, reason="only one schema version exists")
async def test_sqlite_database_of_the_previous_version_is_upgraded_at_start(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    connection = sqlite3.connect(path, isolation_level=None)
    sqlite_schema.migrate(connection, target=sqlite_schema.LATEST - 1)
    assert sqlite_schema.version(connection) == sqlite_schema.LATEST - 1
    now = time.time()
    connection.execute(f"{STREAM} VALUES ('kept', 'text/plain', ?, ?, 5)", (now, now))
    connection.execute(f"{MESSAGE} VALUES (1, 0, ?)", (b"hello",))
    connection.close()

    storage = SqliteStorage(str(path))
    await storage.start()
    try:
        assert (await storage.read("kept", 0)).messages == [b"hello"]
    finally:
        await storage.stop()
    connection = sqlite3.connect(path, isolation_level=None)
    assert sqlite_schema.version(connection) == sqlite_schema.LATEST
    connection.close()


async def test_sqlite_refuses_a_newer_database(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    connection = sqlite3.connect(path, isolation_level=None)
    sqlite_schema.migrate(connection)
    connection.execute(f"PRAGMA user_version = {sqlite_schema.LATEST + 1}")
    connection.close()
    with pytest.raises(RuntimeError, match="newer"):
        await SqliteStorage(str(path)).start()


async def _pg_tables(connection: asyncpg.Connection, schema: str) -> list[tuple[str, str]]:
    rows = await connection.fetch(
        "SELECT tablename AS name, '' AS sql FROM pg_tables WHERE schemaname = $1"
        " UNION ALL SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1"
        " ORDER BY 1",
        schema,
    )
    return [(row["name"], row["sql"]) for row in rows]


async def test_postgres_fresh_schema_reaches_latest_and_migrate_again_is_a_no_op(
    postgres_url: str, new_schema: Callable[[], str]
) -> None:
    schema = new_schema()
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await postgres_schema.migrate(connection, schema) == 0
        assert await postgres_schema.version(connection, schema) == postgres_schema.LATEST
        before = await _pg_tables(connection, schema)
        assert await postgres_schema.migrate(connection, schema) == postgres_schema.LATEST
        assert await _pg_tables(connection, schema) == before
        applied = await connection.fetch(
            f'SELECT version FROM "{schema}".schema_migrations ORDER BY version'
        )
        assert [row[0] for row in applied] == list(range(1, postgres_schema.LATEST + 1))
    finally:
        await connection.close()


@pytest.mark.skipif(postgres_schema.LATEST < 2, reason="only one schema version exists")
async def test_postgres_schema_of_the_previous_version_is_upgraded_at_start(
    postgres_url: str, new_schema: Callable[[], str]
) -> None:
    schema = new_schema()
    connection = await asyncpg.connect(postgres_url)
    try:
        await postgres_schema.migrate(connection, schema, target=postgres_schema.LATEST - 1)
        assert await postgres_schema.version(connection, schema) == postgres_schema.LATEST - 1
        now = time.time()
        await connection.execute(
            f"{STREAM.replace('streams', f'{schema}.streams')}"
            " VALUES ('kept', 'text/plain', $1, $1, 5)",
            now,
        )
        stream_id = await connection.fetchval(
            f"SELECT id FROM {schema}.streams WHERE path = 'kept'"
        )
        await connection.execute(
            f"{MESSAGE.replace('messages', f'{schema}.messages')} VALUES ($1, 0, $2)",
            stream_id,
            b"hello",
        )
    finally:
        await connection.close()

    storage = PostgresStorage(schema_url(postgres_url, schema))
    await storage.start()
    try:
        assert (await storage.read("kept", 0)).messages == [b"hello"]
        assert await storage.list_paths("k") == ["kept"]
    finally:
        await storage.stop()
    connection = await asyncpg.connect(postgres_url)
    try:
        assert await postgres_schema.version(connection, schema) == postgres_schema.LATEST
    finally:
        await connection.close()


async def test_postgres_processes_starting_at_once_migrate_once(
    postgres_url: str, new_schema: Callable[[], str]
) -> None:
    schema = new_schema()
    connections = [await asyncpg.connect(postgres_url) for _ in range(4)]
    try:
        started = await asyncio.gather(
            *(postgres_schema.migrate(connection, schema) for connection in connections)
        )
        assert sorted(started) == [0] + [postgres_schema.LATEST] * 3
    finally:
        for connection in connections:
            await connection.close()


async def test_postgres_refuses_a_newer_schema(
    postgres_url: str, new_schema: Callable[[], str]
) -> None:
    schema = new_schema()
    connection = await asyncpg.connect(postgres_url)
    try:
        await postgres_schema.migrate(connection, schema)
        await connection.execute(
            f'INSERT INTO "{schema}".schema_migrations (version) VALUES ($1)',
            postgres_schema.LATEST + 1,
        )
    finally:
        await connection.close()
    with pytest.raises(RuntimeError, match="newer"):
        await PostgresStorage(schema_url(postgres_url, schema)).start()
