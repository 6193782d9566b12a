"""Chaos: several ``wakeful executor`` processes serve one queue and are killed with
``kill -9`` at random points, on SQLite and PostgreSQL. Every call still completes once,
no two executors ever held the same claim, and every attempt of a call had the same
idempotency key."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import pytest
from support.postgres import require_postgres, schema_url
from support.servers import Server, Subprocess
from support.workers import TESTS, lines

SEED = int(os.environ.get("WAKEFUL_CHAOS_SEED", "20261208"))
AGENTS = 4
EXECUTORS = 3
KILLS = 4
REGISTRY = "agent.executor_chaos_types:registry"
TOOLS = "agent.executor_chaos_types:tools"


class ExecutorProcess(Subprocess):
    def __init__(self, server: str, env: dict[str, str]) -> None:
        super().__init__()
        self.server, self.env = server, env

    def start(self) -> None:
        command = [sys.executable, "-m", "wakeful", "executor", TOOLS, "--server", self.server]
        command += ["--lease-seconds", "1", "--log-level", "error"]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return str(tmp_path / "executors.db")
    return schema_url(require_postgres(), request.getfixturevalue("new_schema")())


async def test_kill_9_executors_keep_each_call_to_one_holder(
    database_url: str, tmp_path: Path
) -> None:
    rng = random.Random(SEED)
    ledger = tmp_path / "ledger.txt"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
        "WAKEFUL_EXECUTOR_LEDGER": str(ledger),
    }
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = env["PYTHONPATH"]
    server = Server(database_url, REGISTRY, "--long-poll-timeout", "1")
    try:
        server.start()
    finally:
        if saved is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = saved
    executors = [ExecutorProcess(server.url, env) for _ in range(EXECUTORS)]
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            for index in range(AGENTS):
                body = {"id": f"a{index}", "message": "go"}
                response = await http.post("/v1/entities/ex_agent", json=body)
                assert response.status_code == 201, response.text
            for executor in executors:
                executor.start()
            for _ in range(KILLS):
                await asyncio.sleep(rng.uniform(0.2, 0.8))
                victim = rng.choice(executors)
                victim.kill()
                victim.start()
            deadline = time.monotonic() + 90
            texts: dict[str, str] = {}
            while len(texts) < AGENTS:
                assert time.monotonic() < deadline, (
                    f"answered {sorted(texts)}\n" + executors[0].output()[-2000:]
                )
                for index in range(AGENTS):
                    path = f"/v1/stream/ex_agent/a{index}/main"
                    events = (await http.get(path, params={"offset": "-1"})).json()
                    runs = [e["value"] for e in events if e.get("type") == "run"]
                    if runs and runs[-1].get("status") == "completed":
                        texts[f"a{index}"] = runs[-1]["text"]
                await asyncio.sleep(0.2)
            calls = {}
            for index in range(AGENTS):
                path = f"/v1/stream/ex_agent/a{index}/main"
                events = (await http.get(path, params={"offset": "-1"})).json()
                results = [e for e in events if e.get("type") == "tool_result"]
                assert len(results) == 1, results  # one answer per call, never two
                rows = [e["value"] for e in events if e.get("type") == "tool_call"]
                calls[f"a{index}"] = rows[-1]
    finally:
        for executor in executors:
            executor.kill()
        server.stop()
    assert all(text.startswith("done: worked") for text in texts.values()), texts
    assert all(call["status"] == "completed" for call in calls.values())
    starts: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for line in lines(ledger):
        kind, key, generation, idempotency_key, _pid = line.split(" ")
        if kind == "start":
            starts[key].append((int(generation), idempotency_key))
    assert len(starts) == AGENTS
    for key, attempts in starts.items():
        generations = [generation for generation, _ in attempts]
        assert len(generations) == len(set(generations)), f"{key}: a claim held twice"
        assert len({idem for _, idem in attempts}) == 1, f"{key}: idempotency key changed"
