"""Chaos: a real ``wakeful worker`` process killed with SIGKILL at 50 random points of
multi-step tool runs, and started again each time.

Agents (see :mod:`agent.agent_chaos_types`) run 8 steps per message, each calling a retried
tool and a single-attempt tool whose side effects go to files. While the worker is down
the test reads the streams and, for agents whose run completed, sends the next message,
so runs keep going for the whole test. After the last kill the worker runs until every
run has finished. Then:

* every run completed, with every step; a step cut short by a kill is superseded (and so
  is its partial text, if it had streamed any), never completed twice;
* every tool call the stream shows completed had its side effect exactly once;
* a call ran again only if its policy retries (never the single-attempt tool, which
  fails with "interrupted, and out of attempts" instead), always with the same
  idempotency key and a new attempt number, and a completed call never ran again.

``WAKEFUL_CHAOS_SEED`` picks another kill schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.agent_chaos import Agent, inspect
from support.workers import Worker

from wakeful.entities.addressing import Address
from wakeful.entities.definition import Registry
from wakeful.entities.loading import read_messages
from wakeful.entities.service import EntityService
from wakeful.state import StateStore
from wakeful.streams.storage import Storage, open_storage

SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261122"))
KILLS = 50
AGENTS = 4  # running at once
RUNS_PER_AGENT = 5  # then a fresh agent takes its place, so conversations stay short
ALIVE_SECONDS = (0.05, 0.6)  # how long a worker runs, once started, before its kill
DRAIN_SECONDS = 60.0
TYPE = "chaos_agent"
REGISTRY = "agent.agent_chaos_types:registry"


async def read_agent(storage: Storage, url: str) -> Agent:
    path = Address.parse(url).stream
    tail = (await storage.head(path)).tail
    store = StateStore()
    events: list[dict[str, Any]] = []
    async for message in read_messages(storage, path, 0, tail):
        events.append(message.value)
        store.apply(message.value)
    return Agent(url, store, events)


@dataclass
class Workload:
    """Keeps :data:`AGENTS` agents busy, sending the next message while the worker is down."""

    database: Path
    urls: list[str] = field(default_factory=list)
    next_id: int = 0

    async def top_up(self) -> None:
        storage = open_storage(str(self.database))
        await storage.start()
        try:
            service = EntityService(storage, Registry.load(REGISTRY))
            busy = 0
            for url in self.urls:
                agent = await read_agent(storage, url)
                if not agent.finished():
                    busy += 1
                elif agent.messages < RUNS_PER_AGENT:
                    await service.send(url, f"Task {agent.messages + 1}, please.")
                    busy += 1
            for _ in range(AGENTS - busy):
                self.next_id += 1
                info = await service.spawn(TYPE, f"a{self.next_id}", message="Task 1, please.")
                self.urls.append(info.url)
        finally:
            await storage.stop()


async def read_all(database: Path, urls: list[str]) -> list[Agent]:
    storage = open_storage(str(database))
    await storage.start()
    try:
        return [await read_agent(storage, url) for url in urls]
    finally:
        await storage.stop()


async def test_kill_9_during_multi_step_tool_runs(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    database = tmp_path / "agents.db"
    worker = Worker(REGISTRY, database, {"WAKEFUL_AGENT_CHAOS_DIR": str(tmp_path)})
    workload = Workload(database)
    started = time.monotonic()
    try:
        await worker.kill_at_random(rng, KILLS, ALIVE_SECONDS, workload.top_up)
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            agents = await read_all(database, workload.urls)
            if all(agent.finished() for agent in agents):
                break
            assert time.monotonic() < deadline, "runs did not finish\n" + worker.output()[-4000:]
            await asyncio.sleep(0.2)
        worker.stop(strict=True)
    finally:
        worker.kill()

    found = inspect(await read_all(database, workload.urls), tmp_path)
    summary = ", ".join(f"{count} {name}" for name, count in sorted(found.stats.items()))
    print(f"\n{KILLS} kills in {time.monotonic() - started:.0f} s: {summary}")
    assert not found.violations, "\n".join(found.violations[:30]) + "\n" + worker.output()[-4000:]
    # The kills did land inside runs.
    assert found.stats["superseded steps"] + found.stats["calls run again after a kill"] > 0
