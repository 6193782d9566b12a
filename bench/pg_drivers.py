"""Which async PostgreSQL driver the PostgreSQL backend uses, decided by measurement.

Runs the two statement shapes the backend lives on, with psycopg 3 (+ psycopg_pool) and
with asyncpg, against the same server and tables:

* append: one transaction that locks the stream row, inserts a message and moves the
  tail (what every POST does);
* read: one query that fetches the messages after a position (what every GET does).

Each is timed one at a time (latency, p50/p99) and with many tasks sharing a small pool
(throughput). Usage::

    python bench/pg_drivers.py [postgresql://postgres@127.0.0.1:5432/test] [--n 2000]

It works in a throwaway schema that it drops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import psycopg
from psycopg_pool import AsyncConnectionPool

POOL = 8
CONCURRENCY = 32
PAYLOAD = b'{"type":"text_delta","delta":"' + b"x" * 160 + b'"}'

SCHEMA_SQL = """
CREATE SCHEMA {s};
CREATE TABLE {s}.streams (id BIGSERIAL PRIMARY KEY, path TEXT UNIQUE, tail BIGINT NOT NULL);
CREATE TABLE {s}.messages (
    stream_id BIGINT NOT NULL, start BIGINT NOT NULL, data BYTEA NOT NULL,
    PRIMARY KEY (stream_id, start));
INSERT INTO {s}.streams (path, tail) SELECT 'bench/' || g, 0 FROM generate_series(1, 64) g;
"""

LOCK = "SELECT id, tail FROM {s}.streams WHERE path = {p} FOR UPDATE"
INSERT = "INSERT INTO {s}.messages (stream_id, start, data) VALUES ({p}, {p}, {p})"
MOVE = "UPDATE {s}.streams SET tail = {p} WHERE id = {p}"
READ = (
    "SELECT start, data FROM {s}.messages WHERE stream_id = {p} AND start >= {p}"
    " ORDER BY start LIMIT 100"
)


def _sql(template: str, schema: str, style: str) -> str:
    """Fill in the schema and the driver's placeholder style ($1.. or %s)."""
    if style == "%s":
        return template.format(s=schema, p="%s")
    parts = template.format(s=schema, p="\0").split("\0")
    return "".join(
        part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts)
    )


class Psycopg:
    name = "psycopg 3.{} + psycopg_pool".format(psycopg.__version__.split(".", 1)[1])

    def __init__(self, url: str, schema: str) -> None:
        self.pool = AsyncConnectionPool(url, min_size=POOL, max_size=POOL, open=False)
        self.lock = _sql(LOCK, schema, "%s")
        self.insert = _sql(INSERT, schema, "%s")
        self.move = _sql(MOVE, schema, "%s")
        self.read_sql = _sql(READ, schema, "%s")

    async def open(self) -> None:
        await self.pool.open(wait=True)

    async def close(self) -> None:
        await self.pool.close()

    async def append(self, path: str) -> None:
        async with self.pool.connection() as conn, conn.transaction():
            cursor = await conn.execute(self.lock, (path,))
            row = await cursor.fetchone()
            assert row is not None
            stream_id, tail = row
            await conn.execute(self.insert, (stream_id, tail, PAYLOAD))
            await conn.execute(self.move, (tail + len(PAYLOAD), stream_id))

    async def read(self, stream_id: int) -> None:
        async with self.pool.connection() as conn:
            cursor = await conn.execute(self.read_sql, (stream_id, 0))
            await cursor.fetchall()


async def _keep_session(connection: Any) -> None:
    pass


class Asyncpg:
    name = f"asyncpg {asyncpg.__version__}"

    def __init__(self, url: str, schema: str) -> None:
        self.url = url
        self.pool: Any = None
        self.lock = _sql(LOCK, schema, "$")
        self.insert = _sql(INSERT, schema, "$")
        self.move = _sql(MOVE, schema, "$")
        self.read_sql = _sql(READ, schema, "$")

    async def open(self) -> None:
        # As the backend does: skip the reset round trip on release (psycopg_pool's
        # release makes none either), so both drivers do the same work.
        self.pool = await asyncpg.create_pool(
            self.url, min_size=POOL, max_size=POOL, reset=_keep_session
        )

    async def close(self) -> None:
        await self.pool.close()

    async def append(self, path: str) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(self.lock, path)
            stream_id, tail = row["id"], row["tail"]
            await conn.execute(self.insert, stream_id, tail, PAYLOAD)
            await conn.execute(self.move, tail + len(PAYLOAD), stream_id)

    async def read(self, stream_id: int) -> None:
        async with self.pool.acquire() as conn:
            await conn.fetch(self.read_sql, stream_id, 0)


async def _latency(operation: Callable[[int], Awaitable[None]], n: int) -> tuple[float, float]:
    samples = []
    for i in range(n):
        began = time.perf_counter()
        await operation(i)
        samples.append((time.perf_counter() - began) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.99) - 1]


async def _throughput(operation: Callable[[int], Awaitable[None]], n: int) -> float:
    counter = iter(range(n))

    async def worker() -> None:
        for i in counter:
            await operation(i)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - began)


async def measure(driver: Psycopg | Asyncpg, n: int) -> dict[str, float]:
    await driver.open()
    try:
        for i in range(200):  # warm up connections and prepared statements
            await driver.append(f"bench/{i % 64 + 1}")
            await driver.read(i % 64 + 1)
        append_p50, append_p99 = await _latency(lambda i: driver.append("bench/1"), n)
        read_p50, read_p99 = await _latency(lambda i: driver.read(1), n)
        append_rate = await _throughput(lambda i: driver.append(f"bench/{i % 64 + 1}"), n)
        read_rate = await _throughput(lambda i: driver.read(i % 64 + 1), n)
    finally:
        await driver.close()
    return {
        "append p50 ms": append_p50,
        "append p99 ms": append_p99,
        "read p50 ms": read_p50,
        "read p99 ms": read_p99,
        "appends/s": append_rate,
        "reads/s": read_rate,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "url",
        nargs="?",
        default=os.environ.get(
            "WAKEFUL_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--n", type=int, default=2000, help="operations per measurement")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds per driver")
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {}
    for _ in range(args.rounds):
        for factory in (Psycopg, Asyncpg):
            schema = f"bench_{secrets.token_hex(4)}"
            async with await psycopg.AsyncConnection.connect(args.url, autocommit=True) as admin:
                await admin.execute(SCHEMA_SQL.format(s=schema))  # type: ignore[arg-type]
                try:
                    driver = factory(args.url, schema)
                    results.setdefault(driver.name, []).append(await measure(driver, args.n))
                finally:
                    await admin.execute(f"DROP SCHEMA {schema} CASCADE")  # type: ignore[arg-type]
    keys = list(next(iter(results.values()))[0])
    print(f"{'':32}" + "".join(f"{key:>15}" for key in keys))
    for name, rounds in results.items():
        best = {key: (max if key.endswith("/s") else min)(r[key] for r in rounds) for key in keys}
        print(f"{name:32}" + "".join(f"{best[key]:>15.3f}" for key in keys))
    print(f"(n={args.n}, pool={POOL}, concurrency={CONCURRENCY}, best of {args.rounds} rounds)")


if __name__ == "__main__":
    asyncio.run(main())
