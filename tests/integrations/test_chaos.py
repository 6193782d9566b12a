"""Chaos: a real ``wakeful worker`` running a pydantic-ai agent, or an OpenAI Agents SDK
agent (each through the OpenAI SDK against the fake server), killed with SIGKILL at random
points of one long run with two tools per step, and started again each time. Then:

* the run completed;
* no completed model call was requested again: every request the fake received carried
  exactly the answers of the steps completed before it (a completed step asked again
  would be missing from the next request), and a request lost to a kill is the only kind
  that has no completed step;
* every tool call the stream shows completed had its side effect once, ran in distinct
  attempts with the same idempotency key, and never ran after it completed.

``WAKEFUL_CHAOS_SEED`` picks another kill schedule.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from support.fakes import FakeOpenAI, FakeToolCall, Reply
from support.workers import Worker

from wakeful.agent.records import Rows
from wakeful.entities.addressing import Address
from wakeful.entities.definition import Registry
from wakeful.entities.loading import read_messages
from wakeful.entities.service import EntityService
from wakeful.state import StateStore
from wakeful.streams.storage import open_storage

from .pydantic_ai_chaos_types import TYPE

SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261207"))
REGISTRIES = {
    "pydantic-ai": "integrations.pydantic_ai_chaos_types:registry",
    "openai-agents": "integrations.openai_agents_chaos_types:registry",
}
STEPS = 16  # steps with tool calls the script offers
KILLS = 8
#: Kills per framework: a worker that imports the Agents SDK takes seconds to start.
KILLS_OF = {"pydantic-ai": KILLS, "openai-agents": 4}
ALIVE_SECONDS = (0.0, 0.6)  # once it has started working
DRAIN_SECONDS = 60.0


def script() -> tuple[list[Reply], dict[str, int]]:
    """Tool steps, then final answers enough to outlast every kill; each reply's text is
    its index in the script, so a step's text says which request it answered."""
    replies = [
        Reply(
            text=f"Step {i} of the plan.",
            tool_calls=[
                FakeToolCall("effect", {"n": i}, id=f"e{i}"),
                FakeToolCall("note", {"n": i}, id=f"n{i}"),
            ],
            chunk_delay=0.02,
        )
        for i in range(STEPS)
    ]
    replies += [Reply(text=f"All done, answer {i}.", chunk_delay=0.02) for i in range(KILLS + 1)]
    texts = [reply.text for reply in replies]
    return replies, {str(text): index for index, text in enumerate(texts)}


async def read(database: Path, url: str) -> StateStore:
    storage = open_storage(str(database))
    await storage.start()
    try:
        path = Address.parse(url).stream
        store = StateStore()
        async for message in read_messages(storage, path, 0, (await storage.head(path)).tail):
            store.apply(message.value)
        return store
    finally:
        await storage.stop()


async def spawn(database: Path, registry: str) -> str:
    storage = open_storage(str(database))
    await storage.start()
    try:
        service = EntityService(storage, Registry.load(registry))
        info = await service.spawn(TYPE, "p1", message="Carry out the plan.")
        return info.url
    finally:
        await storage.stop()


async def tail(database: Path, url: str) -> int:
    storage = open_storage(str(database))
    await storage.start()
    try:
        return (await storage.head(Address.parse(url).stream)).tail
    finally:
        await storage.stop()


async def progressed(database: Path, url: str, before: int) -> None:
    """Wait until the entity's stream has grown past ``before`` (the killed worker's lease
    has run out, and this one works on the run), or the run is over."""
    deadline = time.monotonic() + DRAIN_SECONDS
    while await tail(database, url) <= before:
        runs = Rows(await read(database, url)).runs()
        if runs and runs[-1].status == "completed":
            return
        assert time.monotonic() < deadline, "the worker made no progress"
        await asyncio.sleep(0.02)


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text().split("\n") if line] if path.exists() else []


def assistant_texts(body: Any) -> set[str]:
    messages = body.get("messages", []) if isinstance(body, dict) else []
    return {m["content"] for m in messages if m.get("role") == "assistant" and m.get("content")}


@pytest.mark.parametrize("framework", sorted(REGISTRIES))
async def test_kill_9_during_a_run(framework: str, tmp_path: Path, monkeypatch: Any) -> None:
    rng = random.Random(SEED)
    fake = FakeOpenAI.shared()
    replies, index_of = script()
    fake.script(*replies)
    monkeypatch.setenv("WAKEFUL_FAKE_OPENAI_URL", fake.base_url)
    database = tmp_path / "agents.db"
    env = {"WAKEFUL_AGENT_CHAOS_DIR": str(tmp_path), "WAKEFUL_FAKE_OPENAI_URL": fake.base_url}
    worker = Worker(REGISTRIES[framework], database, env)
    url = await spawn(database, REGISTRIES[framework])
    kills = 0
    try:
        for _ in range(KILLS_OF[framework]):
            before = await tail(database, url)
            worker.start()
            await worker.started()
            await progressed(database, url, before)  # it claimed the run: kill it at work
            await asyncio.sleep(rng.uniform(*ALIVE_SECONDS))
            worker.kill()
            kills += 1
            runs = Rows(await read(database, url)).runs()
            if runs and runs[-1].status == "completed":
                break
        worker.start()
        await worker.started()
        deadline = time.monotonic() + DRAIN_SECONDS
        while True:
            runs = Rows(await read(database, url)).runs()
            if runs and runs[-1].status in ("completed", "failed", "aborted"):
                break
            assert time.monotonic() < deadline, "the run did not finish\n" + worker.output()[-4000:]
            await asyncio.sleep(0.2)
        worker.stop()
    finally:
        worker.kill()

    store = await read(database, url)
    rows = Rows(store)
    (run,) = rows.runs()
    assert run.status == "completed", (run.error, worker.output()[-4000:])
    assert run.text.startswith("All done")
    steps = rows.steps(run.id)
    completed = [step for step in steps if step.status == "completed"]
    assert {step.status for step in steps} <= {"completed", "superseded"}
    assert [step.index for step in steps] == list(range(len(steps)))
    answered = [index_of[text.text] for step in completed if (text := rows.text(step.id))]
    assert len(answered) == len(completed) == run.steps
    assert answered == sorted(set(answered))  # each reply answered one step, in order

    requests = list(fake.requests)
    lost = len(requests) - len(completed)
    assert 0 <= lost <= kills
    for index, request in enumerate(requests):
        before = {text for text, at in index_of.items() if at < index and at in answered}
        assert assistant_texts(request.body) == before, f"request {index}"

    executions: dict[str, list[int]] = defaultdict(list)
    for line in lines(tmp_path / "executions.log"):
        _, key, attempt = line.split(" ")
        executions[key].append(int(attempt))
    effects = Counter(lines(tmp_path / "effects.log"))
    calls = [call for step in completed for call in rows.calls(step.id)]
    assert len(calls) == 2 * (len(completed) - 1)
    for call in calls:
        key = f"{url}:{run.id}:{call.id}"
        runs_of = executions[key]
        assert call.status == "completed" and call.idempotency_key == key
        assert len(set(runs_of)) == len(runs_of) and max(runs_of) == call.attempts, runs_of
        assert effects[key] == 1
    again = sum(1 for call in calls if call.attempts > 1)
    superseded = len(steps) - len(completed)
    print(
        f"\n{kills} kills: {lost} requests lost, {superseded} steps superseded, {again} calls again"
    )
    assert lost + superseded + again > 0  # the kills did land inside the run
