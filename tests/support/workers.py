"""A real ``wakeful worker`` process on a test's database, killed with SIGKILL and started
again, for the chaos tests of the agent loop and its integrations; and the ledger files
its tools write (:func:`append_line`), so a test can count executions the stream cannot
show."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from .servers import Subprocess

TESTS = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30.0


def append_line(path: Path, line: str) -> None:
    """One ``write`` with O_APPEND: a killed process leaves whole lines or none."""
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, f"{line}\n".encode())
    finally:
        os.close(descriptor)


def lines(path: Path) -> list[str]:
    return [line for line in path.read_text().split("\n") if line] if path.exists() else []


class Worker(Subprocess):
    """``wakeful worker <registry>`` (a ``module:name`` under ``tests/``) on ``database``,
    with ``env`` added to the test's environment; or, given ``server`` (and its
    ``token``), an HTTP-only worker for that server."""

    def __init__(
        self,
        registry: str,
        database: str | Path,
        env: dict[str, str],
        *,
        server: str | None = None,
        token: str | None = None,
    ) -> None:
        super().__init__()
        self.registry = registry
        self.database = database
        self.server = server
        self.token = token
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
            **env,
        }
        self.starts = 0

    def start(self) -> None:
        command = [
            sys.executable,
            "-m",
            "wakeful",
            "worker",
            self.registry,
            *(("--server", self.server) if self.server else ("--database", str(self.database))),
            *(("--token", self.token) if self.token else ()),
            "--log-level",
            "warning",
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env=self.env
        )
        self.starts += 1

    async def started(self) -> None:
        """Wait for this start's banner (printed once the registry is imported)."""
        deadline = time.monotonic() + STARTUP_SECONDS
        while self.output().count("wakeful: worker for") < self.starts:
            assert self.process is not None and self.process.poll() is None, self.output()
            assert time.monotonic() < deadline, "the worker did not start\n" + self.output()
            await asyncio.sleep(0.01)

    async def kill_at_random(
        self,
        rng: random.Random,
        kills: int,
        alive: tuple[float, float],
        meanwhile: Callable[[], Awaitable[None]],
    ) -> None:
        """Start, let live for a random time within ``alive``, ``kill -9``: ``kills`` times,
        calling ``meanwhile`` while it is down; then start it for good."""
        for _ in range(kills):
            await meanwhile()
            self.start()
            await self.started()
            await asyncio.sleep(rng.uniform(*alive))
            self.kill()
        self.start()
        await self.started()
