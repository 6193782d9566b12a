"""Chaos: an HTTP-only ``wakeful worker --server URL`` killed with SIGKILL at random points
of multi-step tool runs, against a real ``wakeful serve --no-workers``.

The worker never touches the database: it claims wakes through the pull-wake API and runs
each pass over the server's pass routes. The agents are those of the database-worker
chaos test (:mod:`agent.agent_chaos_types`), and so are the checks
(:func:`support.agent_chaos.inspect`): every run completed, a completed tool call never
ran again, every side effect applied once, no step completed twice. SQLite with a
``--token``; PostgreSQL without one.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.agent_chaos import Agent, inspect
from support.postgres import require_postgres, schema_url
from support.servers import Server
from support.workers import TESTS, Worker

from wakeful.state import StateStore

SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261208"))
KILLS = 6
AGENTS = 3
RUNS_PER_AGENT = 2
ALIVE_SECONDS = (0.3, 1.5)
DRAIN_SECONDS = 90.0
TYPE = "chaos_agent"
REGISTRY = "agent.agent_chaos_types:registry"
TOKEN = "chaos-secret"


@pytest.fixture(params=["sqlite", "postgres"])
def served(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Server, str | None]]:
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))
    )
    if request.param == "postgres":
        schemas = request.getfixturevalue("new_schema")
        database, token = schema_url(require_postgres(), schemas()), None
    else:
        database, token = str(tmp_path / "agents.db"), TOKEN
    extra = ["--no-workers", "--long-poll-timeout", "1", *(["--token", token] if token else [])]
    server = Server(database, REGISTRY, *extra).start()
    try:
        yield server, token
    finally:
        server.stop()


async def read_agent(client: httpx.AsyncClient, server: Server, url: str) -> Agent:
    events: list[dict[str, Any]] = []
    offset = "-1"
    while True:
        response = await client.get(
            server.stream(f"{url.strip('/')}/main"), params={"offset": offset}
        )
        assert response.status_code == 200, response.text
        events.extend(response.json())
        offset = response.headers["Stream-Next-Offset"]
        if response.headers.get("Stream-Up-To-Date") == "true":
            break
    store = StateStore()
    for event in events:
        store.apply(event)
    return Agent(url, store, events)


async def test_http_only_worker_killed_with_9_loses_nothing_and_runs_no_tool_twice(
    served: tuple[Server, str | None], tmp_path: Path
) -> None:
    server, token = served
    rng = random.Random(SEED)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    urls: list[str] = []
    worker = Worker(
        REGISTRY, "", {"WAKEFUL_AGENT_CHAOS_DIR": str(tmp_path)}, server=server.url, token=token
    )
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:

        async def top_up() -> None:
            busy = 0
            for url in urls:
                agent = await read_agent(client, server, url)
                if not agent.finished():
                    busy += 1
                elif agent.messages < RUNS_PER_AGENT:
                    response = await client.post(
                        f"{server.url}/v1/entities{url}/messages",
                        json={"payload": f"Task {agent.messages + 1}, please."},
                    )
                    assert response.status_code in (200, 201, 202), response.text
                    busy += 1
            for _ in range(AGENTS - busy):
                response = await client.post(
                    f"{server.url}/v1/entities/{TYPE}",
                    json={"id": f"a{len(urls)}", "message": "Task 1, please."},
                )
                assert response.status_code == 201, response.text
                urls.append(response.json()["url"])

        try:
            await worker.kill_at_random(rng, KILLS, ALIVE_SECONDS, top_up)
            deadline = time.monotonic() + DRAIN_SECONDS
            while True:
                agents = [await read_agent(client, server, url) for url in urls]
                if all(agent.finished() for agent in agents):
                    break
                assert time.monotonic() < deadline, (
                    "runs did not finish\n" + worker.output()[-4000:]
                )
                await asyncio.sleep(0.3)
            worker.stop(strict=True)
        finally:
            worker.kill()
        agents = [await read_agent(client, server, url) for url in urls]
    found = inspect(agents, tmp_path)
    summary = ", ".join(f"{count} {name}" for name, count in sorted(found.stats.items()))
    print(f"\n{KILLS} kills: {summary}")
    assert not found.violations, "\n".join(found.violations[:30]) + "\n" + worker.output()[-4000:]
    assert found.stats["runs"] >= AGENTS
