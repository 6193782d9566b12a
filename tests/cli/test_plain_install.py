"""A plain ``pip install wakeful``: the wheel built from this tree, installed with no extras
in a fresh virtualenv, serves a chat thread with the offline demo model and the console,
and each missing extra is named by the error that needs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
MISSING_EXTRAS = """
import asyncio
from wakeful._extras import MissingExtra
from wakeful.agent.models import resolve
from wakeful.streams.storage import open_storage

for attempt in (
    lambda: resolve("openai:gpt-4o-mini", api_key="k"),
    lambda: resolve("anthropic:claude-sonnet-4-6", api_key="k"),
    lambda: open_storage("postgresql://127.0.0.1/test"),
):
    try:
        attempt()
    except MissingExtra as exc:
        print(exc)
"""


def run(*command: str | Path, **options: object) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        **options,  # type: ignore[call-overload]
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout}\n{done.stderr}"
    return str(done.stdout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh virtualenv holding only the wheel and its required dependencies."""
    work = tmp_path_factory.mktemp("plain-install")
    wheels = work / "wheels"
    run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, ROOT)
    (wheel,) = wheels.glob("wakeful-*.whl")
    venv = work / "venv"
    run(sys.executable, "-m", "venv", venv)
    run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", wheel)
    yield venv / "bin"


def test_the_wheel_installs_without_the_optional_dependencies(installed: Path) -> None:
    listed = run(installed / "python", "-m", "pip", "list", "--format=freeze").lower()
    for optional in ("openai", "anthropic", "asyncpg", "mcp", "pytest"):
        assert f"\n{optional}==" not in f"\n{listed}", listed


def test_each_missing_extra_is_named(installed: Path) -> None:
    printed = run(installed / "python", "-c", MISSING_EXTRAS).splitlines()
    assert printed == [
        "openai: models needs the 'openai' package: pip install 'wakeful[openai]'",
        "anthropic: models needs the 'anthropic' package: pip install 'wakeful[anthropic]'",
        "a PostgreSQL database needs the 'asyncpg' package: pip install 'wakeful[postgres]'",
    ]


def test_wakeful_serve_answers_a_thread_with_the_demo_model(
    installed: Path, tmp_path: Path
) -> None:
    port = free_port()
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY")
    }
    server = subprocess.Popen(
        [installed / "wakeful", "serve", "--port", str(port), "--database", tmp_path / "w.db"],
        cwd=tmp_path,  # not the source tree: only the installed package is importable
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=10) as client:
            deadline = time.monotonic() + 60
            while True:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                try:
                    client.get("/v1/entities")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "the server did not start"
                    time.sleep(0.1)
            created = client.post("/v1/threads", json={"id": "hello", "prompt": "Hi there"})
            assert created.status_code == 201, created.text
            deadline = time.monotonic() + 30
            while True:
                messages = client.get("/v1/threads/hello/messages").json()
                answers = [m for m in messages if m["role"] == "assistant"]
                if answers and answers[-1]["status"] == "complete":
                    break
                assert time.monotonic() < deadline, messages
                time.sleep(0.1)
            assert "demo" in str(answers[-1]).lower()
            console = client.get("/")
            assert console.status_code == 200
            assert "text/html" in console.headers["content-type"]
    finally:
        server.kill()
        server.wait()
