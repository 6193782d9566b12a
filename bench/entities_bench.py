"""Benchmark the entity runtime: wake latency, memory of idle entities, pass throughput.

* Wake latency: from the moment ``EntityService.send`` is called to the moment the
  handler starts, one message at a time to an idle entity (p50 / p99). Measured with the
  runtime in the same process as the sender, and with the handler in a separate
  ``wakeful worker`` process, on SQLite and on PostgreSQL.
* Memory: resident set (RSS) of a ``wakeful serve`` process on an empty database and on
  one holding 100,000 idle entities (created, woken once, asleep since).
* Throughput: handler passes per second with 1,000 entities active at once, each getting
  its next message as soon as its handler started on the previous one.

``--output BENCHMARKS.md`` records the table, the machine and the command in that file's
"Entity runtime" section.

Usage: python bench/entities_bench.py [--quick] [--postgres URL] [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from wakeful.background import Background
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context, creation_operations
from wakeful.entities.definition import Registry
from wakeful.entities.loading import read_messages
from wakeful.entities.runtime import Runtime
from wakeful.entities.service import EntityService
from wakeful.entities.wake import Wake
from wakeful.settings import Settings
from wakeful.streams.storage import Storage, open_storage

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SECTION = "## Entity runtime"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REGISTRY_SPEC = "entities_bench:registry"

# --- the entity types measured (also imported by the worker and server processes) ------

registry = Registry()
# Handler start times by entity URL, for the in-process measurements.
started: dict[str, list[float]] = {}
woken: dict[str, asyncio.Event] = {}


class Started(BaseModel):
    id: str
    at: float  # time.time() when the handler started
    seq: int


@registry.entity("pinged", state={"started": Started})
async def pinged(ctx: Context, wake: Wake) -> None:
    """Notes when it started; the state row lets another process read that time back."""
    now = time.time()
    started.setdefault(ctx.url, []).append(now)
    event = woken.get(ctx.url)
    if event is not None:
        event.set()
    if wake.messages:
        previous = ctx.state.started.get("last")
        seq = previous.seq + 1 if previous else 1
        ctx.state.started.upsert(Started(id="last", at=now, seq=seq))


class Count(BaseModel):
    id: str
    n: int


@registry.entity("active", state={"counts": Count})
async def active(ctx: Context, wake: Wake) -> None:
    """Counts its messages: a small pass with one state write, like a real handler's."""
    event = woken.get(ctx.url)
    if event is not None:
        event.set()
    found = ctx.state.counts.get("n")
    ctx.state.counts.upsert(Count(id="n", n=(found.n if found else 0) + len(wake.messages)))


@registry.entity("sleeper")
async def sleeper(ctx: Context, wake: Wake) -> None:
    """Does nothing: it is woken once at spawn and then sleeps."""


# --- helpers ---------------------------------------------------------------------------


@dataclass(slots=True)
class Row:
    measure: str
    values: dict[str, str] = field(default_factory=dict)  # backend → shown value


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def schema_url(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def start_process(command: str, *arguments: str) -> subprocess.Popen[bytes]:
    """``wakeful <command>`` running this module's registry, in its own process."""
    path = os.environ.get("PYTHONPATH")
    env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{path}" if path else str(HERE)}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wakeful",
            command,
            REGISTRY_SPEC,
            *arguments,
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@contextlib.asynccontextmanager
async def runtime(database: str, *, workers: bool = True) -> AsyncIterator[Background]:
    """Storage plus what ``wakeful serve`` runs beside HTTP: runtime, scheduler, dispatcher."""
    settings = Settings(database=database, run_workers=workers)
    storage = open_storage(database)
    await storage.start()
    background = Background(storage, registry, settings)
    await background.start()
    try:
        yield background
    finally:
        await background.stop()
        await storage.stop()


async def passes_reach(runner: Runtime, count: int) -> None:
    while True:
        if runner.passes_run >= count:
            return
        await asyncio.sleep(0.05)


async def wait_until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


# --- wake latency ----------------------------------------------------------------------


async def latency_in_process(database: str, count: int, warmup: int) -> list[float]:
    """Milliseconds from send() to handler start, the runtime in this process."""
    async with runtime(database) as background:
        storage = background.storage
        service = EntityService(storage, registry)
        url = Address("pinged", f"latency-{secrets.token_hex(4)}").url
        woken[url] = asyncio.Event()  # before the spawn, whose wake may run at once
        await service.spawn("pinged", Address.parse(url).id)
        await asyncio.wait_for(woken[url].wait(), 10)  # the spawn wake
        samples = []
        runs = started.setdefault(url, [])
        for index in range(warmup + count):
            await idle(storage, url)
            woken[url].clear()
            before = len(runs)
            sent_at = time.time()
            await service.send(url, {"i": index})
            await asyncio.wait_for(woken[url].wait(), 10)
            if index >= warmup:
                samples.append((runs[before] - sent_at) * 1000)
        return samples


async def idle(storage: Storage, url: str) -> None:
    """Wait until the entity's subscription has no wake in flight: it is asleep."""
    subscription = Address.parse(url).subscription_id

    async def asleep() -> bool:
        row = await storage.subscriptions.get(subscription)
        return row.wake_id is None

    await wait_until(asleep, 10, f"{url} to go idle")


async def latency_cross_process(database: str, count: int, warmup: int) -> list[float]:
    """The same, with the handler in a ``wakeful worker`` process; the handler's start time
    is read back from the state it writes."""
    process = start_process("worker", "--database", database)
    try:
        async with runtime(database, workers=False) as background:
            storage = background.storage
            service = EntityService(storage, registry)
            url = (await service.spawn("pinged", "remote")).url
            address = Address.parse(url)
            samples = []
            for index in range(warmup + count):
                await idle(storage, url)
                sent_at = time.time()
                await service.send(url, {"i": index})
                row = await last_start(storage, address, index + 1)
                if index >= warmup:
                    samples.append((row - sent_at) * 1000)
            return samples
    finally:
        process.terminate()
        process.wait(10)


async def last_start(storage: Storage, address: Address, seq: int) -> float:
    """When the handler started for message number ``seq``, from the entity's stream."""
    deadline = time.monotonic() + 20
    position = 0
    found: float | None = None
    while True:
        tail = (await storage.head(address.stream)).tail
        async for message in read_messages(storage, address.stream, position, tail):
            position = message.end
            value = message.value
            if isinstance(value, dict) and value.get("type") == "state:started":
                row = value.get("value") or {}
                if row.get("seq") == seq:
                    found = float(row["at"])
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{address} never started on message {seq}")
        await asyncio.sleep(0.002)


# --- throughput ------------------------------------------------------------------------


async def throughput(database: str, entities: int, seconds: float) -> tuple[float, float]:
    """Passes per second, and messages per second, with ``entities`` active at once."""
    async with runtime(database) as background:
        storage = background.storage
        service = EntityService(storage, registry)
        urls = []
        for start in range(0, entities, 500):
            batch = [f"a{index}" for index in range(start, min(entities, start + 500))]
            operations = []
            for name in batch:
                address = Address("active", name)
                woken[address.url] = asyncio.Event()
                operations += creation_operations(address, args=None, parent=None, tags={})
                urls.append(address.url)
            await storage.commit(operations)
        await asyncio.gather(*(woken[url].wait() for url in urls))  # every spawn wake ran
        stop = asyncio.Event()
        sent = 0

        async def drive(url: str) -> None:
            nonlocal sent
            while not stop.is_set():
                woken[url].clear()
                await service.send(url, {"n": sent})
                sent += 1
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken[url].wait(), 30)

        drivers = [asyncio.create_task(drive(url)) for url in urls]
        await asyncio.sleep(1.0)  # ramp up
        runner = background.runtime
        passes_before, sent_before, began = runner.passes_run, sent, time.perf_counter()
        await asyncio.sleep(seconds)
        passes = runner.passes_run - passes_before
        messages = sent - sent_before
        elapsed = time.perf_counter() - began
        stop.set()
        for task in drivers:
            task.cancel()
        await asyncio.gather(*drivers, return_exceptions=True)
        return passes / elapsed, messages / elapsed


# --- memory ----------------------------------------------------------------------------


async def populate(database: str, entities: int, console: Console) -> float:
    """Create ``entities`` sleepers and let each handle its spawn wake; seconds taken."""
    began = time.perf_counter()
    async with runtime(database) as background:
        storage, backend = background.storage, background.runtime
        for start in range(0, entities, 1000):
            operations = []
            for index in range(start, min(entities, start + 1000)):
                address = Address("sleeper", f"s{index}")
                operations += creation_operations(address, args=None, parent=None, tags={})
            await storage.commit(operations)
            # Keep the backlog bounded, as a steady stream of spawns would.
            await passes_reach(backend, start - 2000)
            if start and start % 20_000 == 0:
                console.log(f"  {start:,} entities created, {backend.passes_run:,} woken")

        async def all_asleep() -> bool:
            return backend.passes_run >= entities and not (
                await storage.subscriptions.outstanding_wakes(1)
            )

        await wait_until(all_asleep, 3600, "every sleeper to handle its spawn wake")
    return time.perf_counter() - began


def server_rss(database: str, settle: float) -> int:
    port = free_port()
    process = start_process("serve", "--port", str(port), "--database", database)
    try:
        deadline = time.monotonic() + 60
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        # Touch the entity API once, then let background tasks settle.
        httpx.get(f"http://127.0.0.1:{port}/v1/entities", params={"limit": 10}, timeout=30)
        time.sleep(settle)
        return rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(30)


# --- the run ---------------------------------------------------------------------------


@dataclass(slots=True)
class Sizes:
    latency_samples: int = 500
    latency_warmup: int = 50
    idle_entities: int = 100_000
    active_entities: int = 1_000
    throughput_seconds: float = 15.0
    settle_seconds: float = 5.0


QUICK = Sizes(
    latency_samples=100,
    latency_warmup=10,
    idle_entities=5_000,
    active_entities=200,
    throughput_seconds=5.0,
    settle_seconds=2.0,
)


async def postgres_reachable(url: str) -> str | None:
    """Why the PostgreSQL database cannot be used, or None."""
    try:
        storage = open_storage(schema_url(url, "wakeful_bench_probe_" + secrets.token_hex(3)))
        await storage.start()
        await storage.stop()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


async def postgres_version(url: str) -> str:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def drop_schemas(url: str, schemas: list[str]) -> None:
    import asyncpg

    connection = await asyncpg.connect(url)
    try:
        for schema in schemas:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        for (name,) in await connection.fetch(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'wakeful_bench_probe_%'"
        ):
            await connection.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    finally:
        await connection.close()


async def run(
    args: argparse.Namespace, sizes: Sizes, console: Console, facts: dict[str, str]
) -> list[Row]:
    """Every measurement; adds what it learns about the software measured to ``facts``."""
    directory = Path(tempfile.mkdtemp(prefix="wakeful-entities-bench-"))
    backends = ["SQLite"]
    schemas: list[str] = []
    postgres = args.postgres
    if postgres:
        problem = await postgres_reachable(postgres)
        if problem:
            console.log(f"[yellow]PostgreSQL skipped: {problem}")
            postgres = None
        else:
            backends.append("PostgreSQL")
            version = await postgres_version(postgres)
            facts["PostgreSQL"] = f"{version} at {urlsplit(postgres).hostname or 'a local socket'}"

    def database(kind: str, name: str) -> str:
        if kind == "SQLite":
            return str(directory / f"{name}.db")
        schema = f"wakeful_bench_{name}_{secrets.token_hex(3)}"
        schemas.append(schema)
        return schema_url(postgres, schema)

    latency_p50 = Row("Wake latency p50, send → handler start (ms)")
    latency_p99 = Row("Wake latency p99 (ms)")
    remote_p50 = Row("Wake latency p50, handler in another process (ms)")
    remote_p99 = Row("Wake latency p99, handler in another process (ms)")
    passes = Row(f"Handler passes per second, {sizes.active_entities:,} active entities")
    messages = Row("Messages handled per second, same run")
    rows = [latency_p50, latency_p99, remote_p50, remote_p99, passes, messages]
    try:
        for kind in backends:
            console.log(f"[bold]{kind}[/bold]: wake latency")
            samples = await latency_in_process(
                database(kind, "latency"), sizes.latency_samples, sizes.latency_warmup
            )
            latency_p50.values[kind] = f"{statistics.median(samples):.2f}"
            latency_p99.values[kind] = f"{percentile(samples, 0.99):.2f}"
            console.log(f"[bold]{kind}[/bold]: wake latency, worker process")
            samples = await latency_cross_process(
                database(kind, "remote"), sizes.latency_samples, sizes.latency_warmup
            )
            remote_p50.values[kind] = f"{statistics.median(samples):.2f}"
            remote_p99.values[kind] = f"{percentile(samples, 0.99):.2f}"
            console.log(f"[bold]{kind}[/bold]: throughput")
            rate, handled = await throughput(
                database(kind, "throughput"), sizes.active_entities, sizes.throughput_seconds
            )
            passes.values[kind] = f"{rate:,.0f}"
            messages.values[kind] = f"{handled:,.0f}"

        console.log(f"[bold]SQLite[/bold]: {sizes.idle_entities:,} idle entities")
        empty = database("SQLite", "empty")
        async with runtime(empty):
            pass  # an initialized, empty database
        full = database("SQLite", "idle")
        took = await populate(full, sizes.idle_entities, console)
        console.log(f"  created and woke {sizes.idle_entities:,} entities in {took:.0f}s")
        size = (await asyncio.to_thread(Path(full).stat)).st_size
        rss_empty = server_rss(empty, sizes.settle_seconds)
        rss_full = server_rss(full, sizes.settle_seconds)
        per_entity = (rss_full - rss_empty) / sizes.idle_entities
        rows += [
            Row("Server RSS, empty database (MB)", {"SQLite": f"{rss_empty / 1e6:.1f}"}),
            Row(
                f"Server RSS, {sizes.idle_entities:,} idle entities (MB)",
                {"SQLite": f"{rss_full / 1e6:.1f}"},
            ),
            Row("RSS per idle entity (bytes)", {"SQLite": f"{per_entity:,.0f}"}),
            Row(
                f"Database file, {sizes.idle_entities:,} idle entities (MB)",
                {"SQLite": f"{size / 1e6:.1f}"},
            ),
        ]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        if postgres and schemas:
            await drop_schemas(postgres, schemas)
    return [row for row in rows if row.values]


# --- output ----------------------------------------------------------------------------


def machine(load: float) -> dict[str, str]:
    cpu = platform.processor() or "unknown CPU"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                ram = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
                break
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    edited = subprocess.run(
        ["git", "status", "--porcelain", "--", "src"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    from wakeful import __version__

    version = f"{__version__} (commit {commit}{' with uncommitted changes' if edited else ''})"
    return {
        "CPU": f"{os.cpu_count()} cores, {cpu}",
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Wakeful": version if commit else __version__,
        "Load average when the run started": f"{load:.2f}",
    }


def columns(rows: list[Row]) -> list[str]:
    names: list[str] = []
    for row in rows:
        names += [name for name in row.values if name not in names]
    return names


def rich_table(rows: list[Row]) -> Table:
    table = Table(title="Entity runtime", title_justify="left")
    table.add_column("Measure")
    names = columns(rows)
    for name in names:
        table.add_column(name, justify="right")
    for row in rows:
        table.add_row(row.measure, *(row.values.get(name, "n/a") for name in names))
    return table


def markdown(rows: list[Row], facts: dict[str, str], command: str, date: str, sizes: Sizes) -> str:
    names = columns(rows)
    lines = [
        "| Measure | " + " | ".join(names) + " |",
        "| :-- | " + " | ".join("--:" for _ in names) + " |",
    ]
    lines += [
        f"| {row.measure} | " + " | ".join(row.values.get(n, "n/a") for n in names) + " |"
        for row in rows
    ]
    machine_lines = "\n".join(f"- {name}: {value}" for name, value in facts.items())
    table = "\n".join(lines)
    return f"""{SECTION}

Measured on {date} with `{command}` on:

{machine_lines}

{table}

How each row is measured (`bench/entities_bench.py`):

- Wake latency: one entity, {sizes.latency_samples} messages one at a time (after
  {sizes.latency_warmup} unmeasured ones), each sent once the entity is asleep again (no
  wake in flight). The time runs from calling `EntityService.send` to the first line of
  the handler: the append with its wake in one transaction, the wake announced on the
  wake stream, the runtime claiming it, loading state (cached) and gathering the inputs.
  "In another process": the handler runs in a `wakeful worker` process and reports its
  start time through the state it writes; both processes share the machine's clock.
- Throughput: {sizes.active_entities:,} entities, each sent its next message as soon as its
  handler started on the previous one, for {sizes.throughput_seconds:.0f} s after a 1 s
  ramp-up; sender and runtime share one process (default runtime concurrency, 64 passes
  at once). A pass may handle more than one message when the next one lands before the
  pass commits, so messages per second can exceed passes per second.
- Memory: resident set (VmRSS) of a `wakeful serve` process {sizes.settle_seconds:.0f} s
  after it answered its first requests, on a fresh empty database and on one with
  {sizes.idle_entities:,} idle entities. Those were created in batches of 1,000 through
  `storage.commit` of their creation operations, each woke once and went back to sleep;
  an idle entity holds no task and no state in memory, so the difference is what the
  process keeps per entity (nothing, ideally).
"""


def update_file(path: Path, text: str) -> None:
    """Replace this section of ``path`` (up to the next ``## `` heading), or add it."""
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE)
    replacement = text.rstrip("\n") + "\n\n"
    if pattern.search(existing):
        updated = pattern.sub(lambda _: replacement, existing, count=1)
    else:
        updated = existing.rstrip("\n") + "\n\n" + replacement
    path.write_text(updated.rstrip("\n") + "\n")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("WAKEFUL_BENCH_DATABASE_URL", DEFAULT_POSTGRES),
        help="PostgreSQL URL to measure too ('' to skip); each run uses fresh schemas",
    )
    parser.add_argument("--idle-entities", type=int, help="entities in the memory run")
    parser.add_argument("--active-entities", type=int, help="entities in the throughput run")
    parser.add_argument("--output", type=Path, help="update the 'Entity runtime' section")
    return parser.parse_args(argv)


def _terminate(signum: int, frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    sizes = QUICK if args.quick else Sizes()
    if args.idle_entities:
        sizes.idle_entities = args.idle_entities
    if args.active_entities:
        sizes.active_entities = args.active_entities
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    load = os.getloadavg()[0]
    if load > 0.5:
        console.log(f"[yellow]load average {load:.2f}: other work on this machine skews results")
    facts = machine(load)
    rows = asyncio.run(run(args, sizes, console, facts))
    console.print(rich_table(rows))
    if args.output is not None:
        command = shlex.join(["python", "bench/entities_bench.py", *argv])
        date = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
        update_file(args.output, markdown(rows, facts, command, date, sizes))
        console.log(f"wrote the 'Entity runtime' section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
