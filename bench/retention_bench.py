"""Benchmark what retention saves: database size after many wakes, with and without it.

Every wake is announced on the wake stream ``_wakeful/wakes``; without retention that
stream grows by one event per wake forever. Here the real runtime (what ``wakeful serve``
runs beside HTTP) handles ``--wakes`` wakes of 200 entities whose handler writes nothing,
first keeping every announcement, then with the wake stream trimmed to its last
``--keep`` at every expiry sweep (one a second here, every 30 seconds by default).

For each run the table gives the database's size in bytes (SQLite: the file, its WAL
checkpointed into it first; PostgreSQL: every table and index of the schema, after a
plain ``VACUUM`` as autovacuum would run), the same once compacted (SQLite ``VACUUM``,
PostgreSQL ``VACUUM FULL``: what the data itself takes, since neither gives deleted
rows' space back to the file system by itself, they reuse it), and the announcements the
wake stream still holds with their bytes. The entities' own streams grow with every wake
in both runs (the message and the pass's ``wake`` record); only the announcements are
bounded.

Usage: python bench/retention_bench.py [--wakes 20000] [--keep 1000] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sqlite3
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.table import Table

from wakeful.background import Background
from wakeful.entities.addressing import WAKE_STREAM
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.service import EntityService
from wakeful.entities.wake import Wake
from wakeful.settings import Settings
from wakeful.streams.storage import Storage, open_storage
from wakeful.streams.storage.postgres import PostgresStorage

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
ENTITIES = 200

registry = Registry()


class Handled:
    """Counts the handler's runs, and wakes whoever waits for a count to be reached."""

    def __init__(self) -> None:
        self.count = 0
        self.changed = asyncio.Event()

    def add(self) -> None:
        self.count += 1
        self.changed.set()

    async def reach(self, count: int) -> None:
        while self.count < count:
            self.changed.clear()
            await self.changed.wait()


handled = Handled()


@registry.entity("ticker")
async def ticker(ctx: Context, wake: Wake) -> None:
    """Handles its message and writes nothing of its own: the pass's records only."""
    handled.add()


@dataclass(frozen=True, slots=True)
class Row:
    backend: str
    retention: str
    wakes: int
    database_bytes: int
    compacted_bytes: int
    announcements: int
    announcement_bytes: int
    seconds: float


@contextlib.asynccontextmanager
async def background(database: str, keep: int | None) -> AsyncIterator[Background]:
    settings = Settings(database=database, expiry_sweep_seconds=1.0, wake_retention=keep or 0)
    storage = open_storage(database)
    await storage.start()
    running = Background(storage, registry, settings)
    await running.start()
    try:
        yield running
    finally:
        await running.stop()
        await storage.stop()


async def drive(running: Background, wakes: int) -> None:
    """``wakes`` passes: every round sends one message to each entity and waits for all."""
    service = EntityService(running.storage, running.registry)
    handled.count = 0
    urls = [(await service.spawn("ticker", f"t{index}")).url for index in range(ENTITIES)]
    await handled.reach(ENTITIES)  # the spawn wakes
    target = ENTITIES
    while target < ENTITIES + wakes:
        await asyncio.gather(*(service.send(url, {"n": target}) for url in urls))
        target += len(urls)
        await handled.reach(target)
    await asyncio.sleep(2.5)  # a last sweep or two


async def announcements(storage: Storage) -> tuple[int, int]:
    stream = await storage.head(WAKE_STREAM)
    count = 0
    result = await storage.read_from(stream, stream.retained_from)
    while result.messages:
        count += len(result.messages)
        result = await storage.read_from(stream, result.next_position)
    return count, stream.tail - stream.retained_from


def sqlite_bytes(path: str) -> tuple[int, int]:
    """The file's size, and its size once ``VACUUM`` gave back the free pages."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = Path(path).stat().st_size
        connection.execute("VACUUM")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()
    return size, Path(path).stat().st_size


async def postgres_bytes(storage: PostgresStorage) -> tuple[int, int]:
    """The schema's size after ``VACUUM``, and after ``VACUUM FULL`` rewrote its tables."""
    sizes = []
    async with storage.pool.acquire() as connection:
        tables = [
            row[0]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", storage.schema
            )
        ]
        for command in ("VACUUM", "VACUUM FULL"):
            for table in tables:
                await connection.execute(f'{command} "{storage.schema}"."{table}"')
            total = await connection.fetchval(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = $1 AND c.relkind = 'r'",
                storage.schema,
            )
            sizes.append(int(total or 0))
    return sizes[0], sizes[1]


async def measure(backend: str, database: str, wakes: int, keep: int | None) -> Row:
    began = time.perf_counter()
    async with background(database, keep) as running:
        await drive(running, wakes)
        seconds = time.perf_counter() - began
        count, size = await announcements(running.storage)
        storage = running.storage
        if isinstance(storage, PostgresStorage):
            database_bytes, compacted = await postgres_bytes(storage)
    if backend == "SQLite":
        database_bytes, compacted = sqlite_bytes(database)
    retention = "all kept" if keep is None else f"last {keep:,}"
    return Row(backend, retention, wakes, database_bytes, compacted, count, size, seconds)


async def postgres_reachable(url: str) -> bool:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await connection.close()
    return True


async def run(args: argparse.Namespace, console: Console) -> list[Row]:
    rows: list[Row] = []
    postgres = args.postgres if await postgres_reachable(args.postgres) else None
    if postgres is None:
        console.print(f"PostgreSQL at {args.postgres} is not reachable: SQLite only")
    schemas: list[str] = []
    with tempfile.TemporaryDirectory() as directory:
        for keep in (None, args.keep):
            path = str(Path(directory) / f"keep-{keep}.db")
            rows.append(await measure("SQLite", path, args.wakes, keep))
            if postgres is not None:
                schema = f"bench_retention_{secrets.token_hex(4)}"
                schemas.append(schema)
                url = f"{postgres}{'&' if '?' in postgres else '?'}schema={schema}"
                rows.append(await measure("PostgreSQL", url, args.wakes, keep))
    if postgres is not None:
        connection = await asyncpg.connect(postgres)
        try:
            for schema in schemas:
                await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await connection.close()
    return rows


def table(rows: list[Row]) -> Table:
    result = Table(title="Database size after many wakes")
    for name in (
        "Backend",
        "Wake stream",
        "Wakes",
        "Database (bytes)",
        "Compacted (bytes)",
        "Announcements held",
        "Their bytes",
        "Seconds",
    ):
        result.add_column(name, justify="left" if name in ("Backend", "Wake stream") else "right")
    for row in rows:
        result.add_row(
            row.backend,
            row.retention,
            f"{row.wakes:,}",
            f"{row.database_bytes:,}",
            f"{row.compacted_bytes:,}",
            f"{row.announcements:,}",
            f"{row.announcement_bytes:,}",
            f"{row.seconds:.0f}",
        )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wakes", type=int, default=20_000)
    parser.add_argument("--keep", type=int, default=1_000)
    parser.add_argument("--postgres", default=DEFAULT_POSTGRES)
    args = parser.parse_args()
    console = Console(width=120)
    rows = asyncio.run(run(args, console))
    console.print(table(rows))


if __name__ == "__main__":
    main()
