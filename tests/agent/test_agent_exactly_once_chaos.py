"""Chaos: exactly once with agents in the pass, under ``kill -9``, on SQLite and PostgreSQL.

A real ``wakeful worker`` process runs :mod:`agent.exactly_once_types` and is killed with
SIGKILL at random points, :data:`KILLS` times, and started again; while it is down the
test sends each agent its next message once the previous one is answered. The handlers
also raise after their runs now and then, so passes are retried as well as cut short.
After the last kill the worker runs until every message is answered. Then, per message:

* each handler write landed exactly once: its state row, its message to the sink, its
  fixed-id child, its timer (which fired once), and its answer row;
* one run answered it (``trigger``), completed, and every run, step and tool call on
  the stream is terminal;
* each tool call that completed applied its side effect exactly once (an outside
  ledger), never ran again after it completed, and its write through its context
  landed once, with its result; a call that did not complete wrote nothing.

``WAKEFUL_CHAOS_SEED`` picks another kill schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from support.postgres import require_postgres, schema_url
from support.workers import Worker, lines

from agent import exactly_once_types as types
from wakeful.agent.records import Rows
from wakeful.agent.rows import CALL_DONE, RUN_DONE
from wakeful.entities import vocabulary as v
from wakeful.entities.addressing import Address
from wakeful.entities.definition import Registry
from wakeful.entities.loading import read_messages
from wakeful.entities.service import EntityService
from wakeful.state import StateStore
from wakeful.streams.storage import Storage, open_storage

SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261207"))
KILLS = 10
AGENTS = 3
MESSAGES = 3  # per agent, one at a time
ALIVE_SECONDS = (0.1, 0.8)
DRAIN_SECONDS = 30.0
REGISTRY = "agent.exactly_once_types:registry"


async def read_stream(storage: Storage, url: str) -> list[dict[str, Any]]:
    path = Address.parse(url).stream
    try:
        tail = (await storage.head(path)).tail
    except Exception:
        return []
    return [message.value async for message in read_messages(storage, path, 0, tail)]


def materialize(events: list[dict[str, Any]]) -> StateStore:
    store = StateStore()
    for event in events:
        store.apply(event)
    return store


def answered(store: StateStore) -> int:
    return len(store.collection(v.state_type("answered")))


class Workload:
    def __init__(self, database: str) -> None:
        self.database = database
        self.urls = [f"/eo_agent/a{index}" for index in range(AGENTS)]
        self.started = False

    async def top_up(self) -> None:
        """Send each agent its next message once the previous one is answered."""
        storage = open_storage(self.database)
        await storage.start()
        try:
            service = EntityService(storage, Registry.load(REGISTRY))
            if not self.started:
                await service.spawn("eo_sink", "s")
                for url in self.urls:
                    await service.spawn("eo_agent", Address.parse(url).id, message="task 1")
                self.started = True
                return
            for url in self.urls:
                store = materialize(await read_stream(storage, url))
                sent = len(store.collection(v.INBOX))
                if answered(store) == sent < MESSAGES:
                    await service.send(url, f"task {sent + 1}")
        finally:
            await storage.stop()

    async def done(self) -> bool:
        storage = open_storage(self.database)
        await storage.start()
        try:
            for url in self.urls:
                store = materialize(await read_stream(storage, url))
                if answered(store) < MESSAGES or len(store.collection("state:fired")) < MESSAGES:
                    return False
            return True
        finally:
            await storage.stop()


async def inspect(database: str, urls: list[str], directory: Path) -> list[str]:
    bad: list[str] = []
    effects = Counter(lines(directory / "effects.log"))
    executions = Counter(lines(directory / "executions.log"))
    storage = open_storage(database)
    await storage.start()
    try:
        sink = await read_stream(storage, types.SINK)
        sent_to_sink = Counter(
            (e["value"]["payload"]["agent"], e["value"]["payload"]["message"])
            for e in sink
            if e.get("type") == v.INBOX
        )
        for url in urls:
            events = await read_stream(storage, url)
            store = materialize(events)
            rows = Rows(store)
            inserts = Counter(
                (e["type"], e["key"])
                for e in events
                if e["type"].startswith("state:") and e["headers"]["operation"] == "insert"
            )
            if (status := store.collection(v.MANIFEST).get("status")) and status[
                "status"
            ] != "idle":
                bad.append(f"{url}: status {status}")
            messages = list(store.collection(v.INBOX).keys())
            if len(messages) != MESSAGES:
                bad.append(f"{url}: {len(messages)} messages")
            runs = rows.runs()
            for message in messages:
                for kind, key in (
                    ("handled", message),
                    ("answered", message),
                    ("fired", f"timer:{message}"),
                ):
                    if (count := inserts[(v.state_type(kind), key)]) != 1:
                        bad.append(f"{url}: {kind} {key} written {count}x")
                if sent_to_sink[(url, message)] != 1:
                    bad.append(f"{url}: {message} sent {sent_to_sink[(url, message)]}x")
                child = await read_stream(storage, f"/eo_child/{Address.parse(url).id}-{message}")
                if len([e for e in child if e["type"] == v.ENTITY_CREATED]) != 1:
                    bad.append(f"{url}: child for {message} created {len(child)}x")
                serving = [run for run in runs if message in run.trigger]
                if len(serving) != 1 or serving[0].status != "completed":
                    bad.append(f"{url}: {message} has runs {[r.status for r in serving]}")
                elif (row := store.collection("state:answered").get(message)) and row[
                    "value"
                ] != serving[0].id:
                    bad.append(f"{url}: {message} answered by {row['value']}, not its run")
            if len(runs) != len(messages):
                bad.append(f"{url}: {len(runs)} runs for {len(messages)} messages")
            for run in runs:
                if run.status not in RUN_DONE:
                    bad.append(f"{url}: run {run.id} is {run.status}")
                for step in rows.steps(run.id):
                    if step.status == "running":
                        bad.append(f"{url}: step {step.id} is running")
                    for call in rows.calls(step.id):
                        marks = inserts[(v.state_type("marks"), call.id)]
                        key = str(call.idempotency_key)
                        runs_of = [line for line in executions if line.startswith(f"{key} ")]
                        if call.status not in CALL_DONE:
                            bad.append(f"{url}: call {call.id} is {call.status}")
                        elif call.status == "completed":
                            if effects[key] != 1 or marks != 1:
                                bad.append(f"{key}: effect {effects[key]}x, write {marks}x")
                        elif marks:
                            bad.append(f"{key}: {call.status}, yet its write landed")
                        if any(executions[line] > 1 for line in runs_of):
                            bad.append(f"{key}: an attempt executed twice")
                        if len(runs_of) > call.attempts:
                            bad.append(f"{key}: {len(runs_of)} executions, {call.attempts} tries")
            for error in store.collection(v.ERROR):
                bad.append(f"{url}: error {error}")
    finally:
        await storage.stop()
    return bad


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "agents.db")
    new_schema = request.getfixturevalue("new_schema")
    return schema_url(require_postgres(), new_schema())


async def test_kill_9_keeps_handler_writes_runs_and_tools_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    directory = tmp_path / "ledger"
    directory.mkdir()
    worker = Worker(REGISTRY, database_url, {"WAKEFUL_EXACTLY_ONCE_DIR": str(directory)})
    workload = Workload(database_url)
    try:
        await worker.kill_at_random(rng, KILLS, ALIVE_SECONDS, workload.top_up)
        deadline = time.monotonic() + DRAIN_SECONDS
        while not await workload.done():
            assert time.monotonic() < deadline, (
                "not every message was answered\n" + (worker.output()[-4000:])
            )
            await workload.top_up()
            await asyncio.sleep(0.1)
    finally:
        worker.kill()
    bad = await inspect(database_url, workload.urls, directory)
    assert not bad, "\n".join(bad[:30]) + "\n" + worker.output()[-4000:]
