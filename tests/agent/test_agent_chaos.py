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
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from support.workers import Worker, lines

from agent import agent_chaos_types as chaos
from wakeful.agent.records import Rows
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


@dataclass
class Agent:
    url: str
    store: StateStore
    events: list[dict[str, Any]]

    @property
    def rows(self) -> Rows:
        return Rows(self.store)

    @property
    def messages(self) -> int:
        return len(self.store.collection("inbox"))

    def finished(self) -> bool:
        """Every message has its run, and every run is completed."""
        runs = self.rows.runs()
        return len(runs) == self.messages and all(r.status == "completed" for r in runs)


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


@dataclass
class Findings:
    violations: list[str] = field(default_factory=list)
    stats: Counter[str] = field(default_factory=Counter)


def inspect(agents: list[Agent], directory: Path) -> Findings:
    found = Findings()
    bad, stats = found.violations.append, found.stats
    effects = Counter(lines(directory / "effects.log"))
    reached = Counter(lines(directory / "reached.log"))
    executions: dict[str, list[int]] = defaultdict(list)
    tools: dict[str, str] = {}
    for line in lines(directory / "executions.log"):
        name, key, attempt = line.split(" ")
        executions[key].append(int(attempt))
        tools[key] = name
    known: set[str] = set()

    for agent in agents:
        url, rows = agent.url, agent.rows
        if not agent.finished():
            bad(f"{url}: runs {[r.status for r in rows.runs()]} for {agent.messages} messages")
        for error in agent.store.collection("error"):
            bad(f"{url}: error event {error}")
        for run in rows.runs():
            steps = rows.steps(run.id)
            completed = [step for step in steps if step.status == "completed"]
            if [step.index for step in steps] != list(range(len(steps))):
                bad(f"{url}: steps of run {run.id} are not numbered in order")
            if len(completed) != chaos.STEPS + 1 or run.steps != chaos.STEPS + 1:
                bad(f"{url}: run {run.id} completed {len(completed)} steps")
            for step in steps:
                text = rows.text(step.id)
                if step.status == "superseded":
                    stats["superseded steps"] += 1
                    if text is not None:
                        stats["superseded partial texts"] += 1
                        if text.status != "superseded":
                            bad(f"{url}: superseded step {step.id} has text {text}")
                elif step.status != "completed":
                    bad(f"{url}: step {step.id} is {step.status}")
            for step in completed[:-1]:
                calls = rows.calls(step.id)
                if sorted(call.name for call in calls) != ["effect", "once"]:
                    bad(f"{url}: step {step.id} has calls {calls}")
        # A completed call never changes again (it never ran again).
        done_at: dict[str, int] = {}
        for position, event in enumerate(agent.events):
            if event.get("type") != "tool_call":
                continue
            if event["key"] in done_at:
                bad(f"{url}: tool call {event['key']} changed after it completed")
            if event["value"]["status"] in ("completed", "failed"):
                done_at[event["key"]] = position

        for _, call in agent.store.collection("tool_call").items():
            stats["calls"] += 1
            key = f"{url}:{call['run_id']}:{call['id']}"
            known.add(key)
            if call.get("idempotency_key") != key:
                bad(f"{url}: call {call['id']} has key {call.get('idempotency_key')}")
            runs, attempts, status = executions.get(key, []), int(call["attempts"]), call["status"]
            if len(set(runs)) != len(runs) or any(n < 1 or n > attempts for n in runs):
                bad(f"{key}: executions with attempts {runs}, the stream says {attempts}")
            if reached[key] > len(runs):
                bad(f"{key}: reached its side effect {reached[key]}x in {len(runs)} executions")
            if len(runs) > 1:
                stats["calls run again after a kill"] += 1
            if call["name"] == "once":
                if len(runs) > 1 or attempts > 1:
                    bad(f"{key}: a single-attempt call ran {len(runs)}x ({attempts} attempts)")
                if status == "failed":
                    stats["single-attempt calls failed by a kill"] += 1
                    if call.get("error") != "interrupted, and out of attempts":
                        bad(f"{key}: failed with {call.get('error')}")
                    if effects[key] > 1:
                        bad(f"{key}: side effect applied {effects[key]}x")
                    continue
            elif attempts > chaos.EFFECT_ATTEMPTS:
                bad(f"{key}: {attempts} attempts, more than its policy allows")
            if status != "completed":
                bad(f"{key}: {call['name']} call is {status}: {call.get('error')}")
            elif effects[key] != 1:
                bad(f"{key}: completed, side effect applied {effects[key]}x")
            if reached[key] > 1:
                stats["side effects reached twice (applied once)"] += 1
        stats["runs"] += len(rows.runs())
    if unknown := set(effects) - known:
        bad(f"side effects of calls no stream has: {sorted(unknown)[:3]}")
    if unknown := set(executions) - known:
        bad(f"executions of calls no stream has: {sorted(unknown)[:3]}")
    return found


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
