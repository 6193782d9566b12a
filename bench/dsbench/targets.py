"""The servers under test, as data, and how to start and reliably stop them.

A target is a command line built from a port and a private data directory. Adding a
server is one more entry in :func:`default_targets`; nothing else in the harness knows
which servers exist. Wakeful on PostgreSQL keeps its data in a schema named after that
directory (on ``WAKEFUL_BENCH_DATABASE_URL``, by default a local server), dropped when
the row is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ENV = "WAKEFUL_BENCH_DATABASE_URL"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
STREAM_MOUNT = "/v1/stream"
READY_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Launch:
    """What a target's command line may depend on."""

    port: int
    data_dir: Path


@dataclass(frozen=True, slots=True)
class Target:
    key: str
    label: str
    command: Callable[[Launch], list[str]]
    ours: bool = False
    # True when a second process started on the same data serves the same streams with
    # live delivery between them (a shared database); enables the cross-process row.
    multi_process: bool = False
    env: dict[str, str] = field(default_factory=dict)
    # What a reader must know to compare it fairly (durability, mode), for the report.
    note: str = ""
    # Removes what the target keeps outside its data directory, once the row is done.
    cleanup: Callable[[Path], None] | None = None


@dataclass(frozen=True, slots=True)
class Server:
    """A started server process."""

    target: Target
    pid: int
    base_url: str
    log_path: Path

    @property
    def streams_url(self) -> str:
        return self.base_url + STREAM_MOUNT


def wakeful_executable() -> str:
    """The ``wakeful`` script of the interpreter running the benchmark, so a venv is honoured."""
    beside = Path(sys.executable).with_name("wakeful")
    if beside.exists():
        return str(beside)
    found = shutil.which("wakeful")
    if found is None:
        raise SystemExit("cannot find the 'wakeful' command; install the project first")
    return found


def wakeful_target(
    key: str,
    label: str,
    database: Callable[[Path], str],
    *,
    extra_args: tuple[str, ...] = (),
    multi_process: bool = False,
    note: str = "",
    cleanup: Callable[[Path], None] | None = None,
) -> Target:
    """Our server; ``database`` turns the target's data directory into ``--database``."""

    def command(launch: Launch) -> list[str]:
        return [
            wakeful_executable(),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(launch.port),
            "--database",
            database(launch.data_dir),
            "--log-level",
            "warning",
            *extra_args,
        ]

    return Target(
        key, label, command, ours=True, multi_process=multi_process, note=note, cleanup=cleanup
    )


def postgres_url() -> str:
    return os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES_URL)


def postgres_schema(data_dir: Path) -> str:
    """A schema name of the target's own, from its (unique) temporary directory's name."""
    name = re.sub(r"[^a-z0-9_]", "_", data_dir.parent.name.lower())
    return f"b_{name}"[:48]


def postgres_database(data_dir: Path) -> str:
    url = postgres_url()
    return f"{url}{'&' if '?' in url else '?'}schema={postgres_schema(data_dir)}"


def drop_postgres_schema(data_dir: Path) -> None:
    async def drop() -> None:
        connection = await asyncpg.connect(postgres_url(), timeout=10)
        try:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{postgres_schema(data_dir)}" CASCADE')
        finally:
            await connection.close()

    asyncio.run(drop())


def reference_target(key: str, label: str, *, file_backed: bool) -> Target:
    """The Node reference server of the protocol, in memory or backed by files.

    Backed by files it keeps at most 100 segment files open, and an append whose file is
    evicted between its write and its fsync is answered 404: rows that write to more
    than 100 streams on one server fail against it.
    """

    def command(launch: Launch) -> list[str]:
        node = shutil.which("node")
        if node is None:
            raise SystemExit("cannot find 'node'; the reference server needs Node.js")
        script = REPO / "conformance" / "reference-server.mjs"
        args = [node, str(script), str(launch.port)]
        return [*args, str(launch.data_dir)] if file_backed else args

    note = (
        "the protocol's reference implementation; appends go to one log file per stream,"
        " fsynced before the append is acknowledged"
        if file_backed
        else "the protocol's reference implementation, keeping everything in memory"
        " (no durability at all)"
    )
    return Target(key, label, command, note=note)


def default_targets() -> list[Target]:
    return [
        wakeful_target(
            "wakeful-sqlite",
            "Wakeful (SQLite)",
            lambda d: str(d / "streams.db"),
            multi_process=True,
            note="one SQLite file in WAL mode with synchronous=NORMAL (the default): an"
            " acknowledged append survives a crash of the server process but not a power"
            " loss; an append that finds the writer idle commits at once, concurrent ones"
            " share one commit; a second process on the same file sees the first's"
            " appends by checking for them every 50 ms",
        ),
        wakeful_target(
            "wakeful-postgres",
            "Wakeful (PostgreSQL)",
            postgres_database,
            multi_process=True,
            cleanup=drop_postgres_schema,
            note="PostgreSQL on the same machine with its defaults (synchronous_commit=on,"
            " fsync=on): an acknowledged append is flushed to PostgreSQL's write-ahead log;"
            " each append is its own transaction, serialized per stream by a row lock;"
            " live readers in other processes are woken through LISTEN/NOTIFY. Its server"
            " CPU counts the Wakeful process only, not PostgreSQL's own processes",
        ),
        reference_target("ref-file", "Reference (file)", file_backed=True),
        reference_target("ref-memory", "Reference (memory)", file_backed=False),
    ]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _responds(url: str) -> bool:
    """Any HTTP answer (404 included) means the server is accepting requests."""
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def die_with_parent() -> None:
    """On Linux, have this (child) process get SIGTERM if the benchmark itself is killed.

    The context managers stop servers on every exit Python sees; this covers the one it
    cannot (SIGKILL), so no server outlives a killed run.
    """
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, then SIGKILL it if it lingers."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@contextlib.contextmanager
def start(target: Target, data_dir: Path, log_path: Path) -> Iterator[Server]:
    """Start ``target`` on a free port with ``data_dir``; stop it however the block ends."""
    port = free_port()
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            target.command(Launch(port, data_dir)),
            cwd=REPO,
            env={**os.environ, **target.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Its own process group, so stopping it also stops anything it spawned.
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
    try:
        base_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not _responds(f"{base_url}{STREAM_MOUNT}/bench-ready-probe"):
            if process.poll() is not None:
                raise RuntimeError(
                    f"{target.label} exited with {process.returncode}:\n{_tail(log_path)}"
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"{target.label} did not answer within {READY_TIMEOUT_SECONDS}s")
            time.sleep(0.05)
        yield Server(target, process.pid, base_url, log_path)
    except Exception:
        # The data directory, log included, is about to be removed: show why it failed.
        print(f"--- last lines of {target.label}'s log ---\n{_tail(log_path)}", file=sys.stderr)
        raise
    finally:
        _stop(process)


@contextlib.contextmanager
def deployment(target: Target, *, peer: bool) -> Iterator[tuple[Server, Server | None]]:
    """The target in a fresh temporary data directory, plus a second process if asked.

    The peer shares the data directory (and so the database), for the row that appends
    through one process and reads through another.
    """
    with tempfile.TemporaryDirectory(prefix=f"dsbench-{target.key}-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        try:
            with start(target, data_dir, Path(tmp) / "server.log") as server:
                if not (peer and target.multi_process):
                    yield server, None
                    return
                with start(target, data_dir, Path(tmp) / "peer.log") as second:
                    yield server, second
        finally:
            if target.cleanup is not None:
                target.cleanup(data_dir)
