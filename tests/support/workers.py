"""A real ``wakeful worker`` process on a test's SQLite database, killed with SIGKILL and
started again, for the chaos tests of the agent loop and its integrations."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

from .servers import Subprocess

TESTS = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 30.0


class Worker(Subprocess):
    """``wakeful worker <registry>`` (a ``module:name`` under ``tests/``) on ``database``,
    with ``env`` added to the test's environment."""

    def __init__(self, registry: str, database: Path, env: dict[str, str]) -> None:
        super().__init__()
        self.registry = registry
        self.database = database
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
            "--database",
            str(self.database),
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
