"""Chaos: a real ``wakeful worker`` killed with SIGKILL while it compacts, on SQLite and
PostgreSQL.

Agents of :mod:`agent.compaction_chaos_types` get one message after another; their
small window makes them summarise every few turns, slowly, and the worker is killed at
random points inside compaction :data:`KILLS` times (each soon after a summarising
call started). Then every message has its completed run, every
summary on the stream is whole (a text naming facts, a watermark that names a turn) and
numbered without a gap or a repeat, no error was recorded, some summarising call was cut
short (asked for, never landed) and yet the latest summary, with the turns it kept,
still holds every fact the user gave.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from pathlib import Path

import pytest
from support.postgres import require_postgres, schema_url
from support.workers import Worker, lines

from agent import compaction_chaos_types as types
from wakeful.agent.history import build_messages, watermark
from wakeful.agent.records import Rows
from wakeful.entities import vocabulary as v
from wakeful.entities.addressing import Address
from wakeful.entities.definition import Registry
from wakeful.entities.loading import read_messages
from wakeful.entities.service import EntityService
from wakeful.state import StateStore
from wakeful.streams.storage import open_storage

SEED = 20261208
KILLS = 4
AGENTS = 2
MESSAGES = 16
#: After a summarising call starts, the kill comes within this many seconds: mostly
#: inside the call (which streams for a second or more), sometimes just after it landed.
KILL_WITHIN = (0.0, 0.8)
DRAIN_SECONDS = 60.0
REGISTRY = "agent.compaction_chaos_types:registry"
URLS = [f"/{types.TYPE}/a{index}" for index in range(AGENTS)]


async def read_store(database: str, url: str) -> StateStore:
    storage = open_storage(database)
    await storage.start()
    try:
        store = StateStore()
        path = Address.parse(url).stream
        try:
            tail = (await storage.head(path)).tail
        except Exception:
            return store
        async for message in read_messages(storage, path, 0, tail):
            store.apply(message.value)
        return store
    finally:
        await storage.stop()


def answered(store: StateStore) -> int:
    return sum(1 for run in Rows(store).runs() if run.status == "completed")


async def top_up(database: str) -> None:
    """Spawn the agents, then send each its next message once the last one is answered."""
    storage = open_storage(database)
    await storage.start()
    try:
        service = EntityService(storage, Registry.load(REGISTRY))
        for url in URLS:
            store = await read_store(database, url)
            sent = len(store.collection(v.INBOX))
            if sent == 0:
                await service.spawn(types.TYPE, Address.parse(url).id, message=_message(1))
            elif answered(store) == sent < MESSAGES:
                await service.send(url, _message(sent + 1))
    finally:
        await storage.stop()


def _message(number: int) -> str:
    return f"Please remember fact-{number} for later."


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "agents.db")
    new_schema = request.getfixturevalue("new_schema")
    return schema_url(require_postgres(), new_schema())


async def test_kill_9_mid_compaction_leaves_whole_summaries_or_none(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    worker = Worker(REGISTRY, database_url, {"WAKEFUL_COMPACTION_CHAOS_DIR": str(tmp_path)})
    log = tmp_path / "summaries.log"
    await top_up(database_url)  # the schema is made before any worker starts
    try:
        for _ in range(KILLS):
            asked = len(lines(log))
            worker.start()
            await worker.started()
            deadline = time.monotonic() + DRAIN_SECONDS
            while len(lines(log)) == asked:
                assert time.monotonic() < deadline, "no compaction began\n" + worker.output()
                await top_up(database_url)
                await asyncio.sleep(0.05)
            await asyncio.sleep(rng.uniform(*KILL_WITHIN))
            worker.kill()
        worker.start()
        await worker.started()
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            stores = [await read_store(database_url, url) for url in URLS]
            if all(answered(store) == MESSAGES for store in stores):
                break
            assert time.monotonic() < deadline, (
                "not every message was answered\n" + (worker.output()[-4000:])
            )
            await top_up(database_url)
            await asyncio.sleep(0.1)
    finally:
        worker.kill()

    landed = 0
    for url, store in zip(URLS, stores, strict=True):
        rows = Rows(store)
        assert [run.status for run in rows.runs()] == ["completed"] * MESSAGES, url
        assert list(store.collection(v.ERROR)) == [], url
        summaries = [row for row in rows.inserted() if row.kind == "summary"]
        assert [row.generation for row in summaries] == list(range(len(summaries))), url
        for row in summaries:
            assert row.text.startswith("Facts: fact-1 "), (url, row)
            assert watermark(store, row) is not None, (url, row)
        landed += len(summaries)
        # The conversation the model would be sent next still holds every fact.
        sent = " ".join(message.content for message in build_messages(store))
        facts = set(re.findall(r"fact-\d+", sent))
        assert facts == {f"fact-{n}" for n in range(1, MESSAGES + 1)}, (url, sorted(facts))
    asked = len(lines(tmp_path / "summaries.log"))
    assert landed >= AGENTS * 2
    # Some summarising call was cut short by a kill, and was asked for again.
    assert asked > landed, (asked, landed)
