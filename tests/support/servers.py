"""Real ``wakeful serve`` processes for tests, on free ports of 127.0.0.1.

A test that needs several servers over one database, or one it can ``kill -9``, starts
them here; each is a separate operating-system process, exactly as a user runs it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

STARTUP_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Subprocess:
    """A ``wakeful`` process of a test, its output kept; stopped, or killed with ``-9``."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        # Appending: the child writes through the same file offset the parent reads from
        # (seeking to read would have the child overwrite its earlier output).
        self._log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115 (lives with the process)

    def kill(self) -> None:
        """``kill -9``: no shutdown, no flush, nothing but what the database already has."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self, *, strict: bool = False) -> None:
        """SIGTERM; then SIGKILL if it has not stopped within 10 s (an error if ``strict``)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
                if strict:
                    raise AssertionError("the process did not stop on SIGTERM") from None

    def output(self) -> str:
        self._log.seek(0)
        return self._log.read().decode(errors="replace")


class Server(Subprocess):
    """One ``wakeful serve`` subprocess; ``url`` is its base, ``stream(path)`` a stream URL."""

    def __init__(self, database: str, *extra: str) -> None:
        super().__init__()
        self.database = database
        self.extra = extra
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def stream(self, path: str) -> str:
        return f"{self.url}/v1/stream/{path}"

    def start(self) -> Server:
        command = [
            sys.executable,
            "-m",
            "wakeful",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--database",
            self.database,
            "--log-level",
            "warning",
            *self.extra,
        ]
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ}
        )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"server did not answer within {STARTUP_SECONDS}s:\n{self.output()}")


@contextlib.contextmanager
def running(database: str, *extra: str) -> Iterator[Server]:
    server = Server(database, *extra).start()
    try:
        yield server
    finally:
        server.stop()


def sqlite_database(directory: Path) -> str:
    return str(directory / "wakeful.db")
