"""``wakeful serve module:registry`` and ``wakeful worker`` as real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.cli_support import run_cli
from support.servers import Server

TESTS = Path(__file__).resolve().parents[1]
REGISTRY = "entities.process_types:registry"


@pytest.fixture(autouse=True)
def importable_types(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let subprocesses import the test entity types."""
    paths = [str(TESTS), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))


@pytest.fixture
def database(tmp_path: Path) -> str:
    return str(tmp_path / "wakeful.db")


@pytest.fixture
def start_server() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(database: str, *options: str) -> Server:
        server = Server(database, *options, "--long-poll-timeout", "1")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def start_worker() -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(database: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "wakeful",
            "worker",
            REGISTRY,
            "--database",
            database,
            "--log-level",
            "warning",
        ]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def handled(server: Server, entity: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """Poll the entity's stream until ``count`` messages were handled; their records."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = httpx.get(server.stream(f"recorder/{entity}/main"), params={"offset": "-1"})
        rows = [e["value"] for e in response.json() if e["type"] == "state:handled"]
        if len(rows) >= count:
            return rows
        time.sleep(0.05)
    raise AssertionError(f"only {len(rows)} of {count} messages handled on {entity}")


def test_serve_runs_the_types_of_a_registry(
    start_server: Callable[..., Server], database: str
) -> None:
    server = start_server(database, REGISTRY)
    types = httpx.get(f"{server.url}/v1/types").json()
    assert [entry["name"] for entry in types] == ["recorder"]
    response = httpx.post(f"{server.url}/v1/entities/recorder", json={"id": "r", "message": "a"})
    assert response.status_code == 201, response.text
    httpx.post(f"{server.url}/v1/entities/recorder/r/messages", json={"payload": "b"})
    rows = handled(server, "r", 2, timeout=10)
    assert [row["payload"] for row in rows] == ["a", "b"]
    assert {row["pid"] for row in rows} == {server.process.pid if server.process else -1}


def test_serve_and_worker_refuse_a_registry_they_cannot_load(database: str) -> None:
    for command in ("serve", "worker"):
        result = run_cli(command, "no_such_module:registry", "--database", database)
        assert result.exit_code != 0
        assert "cannot load registry" in result.output
    result = run_cli("worker", "entities.process_types:Handled")
    assert result.exit_code != 0
    assert "not a wakeful Registry" in result.output


def test_a_worker_process_runs_entities_for_an_http_only_server(
    start_server: Callable[..., Server],
    start_worker: Callable[[str], subprocess.Popen[bytes]],
    database: str,
) -> None:
    worker = start_worker(database)  # starts while the server does
    server = start_server(database, REGISTRY, "--no-workers")
    for index in range(3):
        response = httpx.post(
            f"{server.url}/v1/entities/recorder", json={"id": f"r{index}", "message": "m"}
        )
        assert response.status_code == 201, response.text
    for index in range(3):
        rows = handled(server, f"r{index}", 1, timeout=20)
        assert rows[0]["pid"] == worker.pid
    assert worker.poll() is None
