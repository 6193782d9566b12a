"""Several ``wakeful worker`` processes beside an HTTP-only server, on one PostgreSQL.

Entities spread over the workers, and each entity is handled by one of them at a time:
every claim is decided by the database, whichever process asks.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from support.postgres import RUN, schema_url
from support.servers import Server

TESTS = Path(__file__).resolve().parents[1]
REGISTRY = "entities.spread_types:registry"
WORKERS = 3
ENTITIES = 24
MESSAGES = 4  # per entity: the first with the spawn, the rest sent at once


@pytest.fixture
def database(postgres_url: str, new_schema: Callable[[], str]) -> str:
    return schema_url(postgres_url, new_schema())


@pytest.fixture(autouse=True)
def importable_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let the subprocesses import the test entity types."""
    paths = [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def front(database: str) -> Iterator[Server]:
    """The HTTP-only server: it runs no handlers itself."""
    server = Server(database, REGISTRY, "--no-workers", "--long-poll-timeout", "1").start()
    try:
        yield server
    finally:
        server.stop()


async def _connected(postgres_url: str, names: list[str]) -> bool:
    """Whether every named worker holds its pool's and its listener's connections."""
    connection = await asyncpg.connect(postgres_url)
    try:
        rows = await connection.fetch(
            "SELECT application_name, count(*) FROM pg_stat_activity"
            " WHERE application_name = ANY($1::text[]) GROUP BY application_name",
            names,
        )
    finally:
        await connection.close()
    counts = {row[0]: row[1] for row in rows}
    return all(counts.get(name, 0) >= 2 for name in names)


@pytest.fixture
def workers(database: str, postgres_url: str) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``WORKERS`` worker processes, returned once each is connected to the database."""
    names = [f"wakeful-test-worker-{RUN}-{index}" for index in range(WORKERS)]
    started = [
        subprocess.Popen(
            [
                *(sys.executable, "-m", "wakeful", "worker", REGISTRY),
                *("--database", f"{database}&application_name={name}"),
                *("--log-level", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name in names
    ]
    try:
        deadline = time.monotonic() + 30
        while not asyncio.run(_connected(postgres_url, names)):
            crashed = [p.stderr.read() for p in started if p.poll() is not None and p.stderr]
            assert not crashed, crashed
            assert time.monotonic() < deadline, "the workers did not connect within 30s"
            time.sleep(0.1)
        time.sleep(0.5)  # connected; let their runtimes start following the wake stream
        yield started
    finally:
        for process in started:
            if process.poll() is None:
                process.terminate()
        for process in started:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


async def _handled(client: httpx.AsyncClient, server: Server, entity: str) -> list[dict[str, Any]]:
    response = await client.get(server.stream(f"spread/{entity}/main"), params={"offset": "-1"})
    return [event["value"] for event in response.json() if event["type"] == "state:handled"]


async def test_entities_spread_over_worker_processes_one_pass_at_a_time(
    front: Server, workers: list[subprocess.Popen[bytes]]
) -> None:
    names = [f"e{index}" for index in range(ENTITIES)]
    async with httpx.AsyncClient(timeout=30) as client:
        for name in names:
            response = await client.post(
                f"{front.url}/v1/entities/spread", json={"id": name, "message": "m0"}
            )
            assert response.status_code == 201, response.text
        sends = [
            client.post(
                f"{front.url}/v1/entities/spread/{name}/messages", json={"payload": f"m{n}"}
            )
            for n in range(1, MESSAGES)
            for name in names
        ]
        for response in await asyncio.gather(*sends):
            assert response.status_code in (200, 201, 202), response.text

        handled: dict[str, list[dict[str, Any]]] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            handled = {name: await _handled(client, front, name) for name in names}
            if all(len(rows) >= MESSAGES for rows in handled.values()):
                break
            await asyncio.sleep(0.2)
    dead = [
        process.stderr.read().decode()[-2000:]
        for process in workers
        if process.poll() is not None and process.stderr
    ]
    assert not dead, dead
    worker_pids = {process.pid for process in workers}
    for name, rows in handled.items():
        # Every message handled exactly once, by one of the workers.
        assert sorted(row["payload"] for row in rows) == [f"m{n}" for n in range(MESSAGES)], name
        assert {row["pid"] for row in rows} <= worker_pids
        # The entity's passes never overlapped, whichever processes ran them.
        passes = sorted({(row["started"], row["ended"]) for row in rows})
        for (_, ended), (started, _) in itertools.pairwise(passes):
            assert started >= ended, f"{name}: passes overlapped: {passes}"
    by_worker = Counter(row["pid"] for rows in handled.values() for row in rows)
    assert len(by_worker) >= 2, f"all passes ran in one worker: {by_worker}"
    print(f"messages handled per worker: {sorted(by_worker.values())}")
