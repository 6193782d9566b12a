"""The measured workloads. Each returns metric values keyed by :class:`Metric` keys.

Every workload runs its setup (creating streams, filling them, connecting subscribers)
outside the measured phase, so rows compare the operation named in the row and nothing
else. Each runs against a freshly started server, so stream names need no uniqueness.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import aiohttp
import orjson

from .client import (
    ProtocolError,
    StreamHandle,
    json_message,
    loopback_source,
    new_session,
    stream,
)
from .crew import Crew, Start, split
from .meter import Meter
from .stats import percentile
from .targets import Server

NS_PER_MS = 1_000_000


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each workload is; the defaults are the ones the published table uses."""

    message_bytes: int = 100
    warmup_appends: int = 200
    appends: int = 2000
    writers: int = 16
    write_streams: int = 100
    throughput_warmup_seconds: float = 1.0
    throughput_seconds: float = 6.0
    catchup_messages: int = 100_000
    catchup_batch: int = 1000
    catchup_reads: int = 3
    subscribers: int = 100
    sse_messages: int = 200
    sse_interval_ms: float = 20.0
    sse_grace_seconds: float = 10.0
    # Processes the concurrent rows spread their writers or subscribers over.
    client_processes: int = max(1, min(2, os.cpu_count() or 1))


QUICK = Sizes(
    warmup_appends=50,
    appends=500,
    throughput_warmup_seconds=0.5,
    throughput_seconds=2.0,
    catchup_messages=20_000,
    catchup_reads=1,
    sse_messages=50,
)


def bench_path(name: str) -> str:
    """Where the benchmark's streams live on every server."""
    return f"bench/{name}"


@dataclass(slots=True)
class Context:
    """What a workload gets: sizes, a client session, the server (and a peer, if any)."""

    sizes: Sizes
    session: aiohttp.ClientSession
    server: Server
    peer: Server | None
    meter: Meter

    def stream(self, name: str) -> StreamHandle:
        return stream(self.session, self.server.streams_url, bench_path(name))


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    # A format string over the sizes (``s``), so labels state the sizes actually run.
    label: str
    unit: str
    higher_is_better: bool
    digits: int = 2

    def title(self, sizes: Sizes) -> str:
        return f"{self.label.format(s=sizes)} ({self.unit})"


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    run: Callable[[Context], Awaitable[dict[str, float]]]
    metrics: tuple[Metric, ...]
    # How it measures, for the report: a format string over the sizes (``s``).
    method: str
    # Runs only when the target can serve one database from two processes.
    needs_peer: bool = False

    def describe(self, sizes: Sizes) -> str:
        return self.method.format(s=sizes)


async def append_latency(ctx: Context) -> dict[str, float]:
    """One writer, one stream, one request at a time: the floor of an append's cost."""
    sizes = ctx.sizes
    handle = ctx.stream("latency")
    await handle.create()
    for i in range(sizes.warmup_appends):
        await handle.append(json_message(sizes.message_bytes, i=i))
    bodies = [json_message(sizes.message_bytes, i=i) for i in range(sizes.appends)]
    samples: list[float] = []
    with ctx.meter.measure("append latency"):
        for body in bodies:
            started = time.perf_counter_ns()
            await handle.append(body)
            samples.append((time.perf_counter_ns() - started) / NS_PER_MS)
    return {"append_p50": percentile(samples, 50), "append_p99": percentile(samples, 99)}


@dataclass(frozen=True, slots=True)
class WriteJob:
    """One helper's share of the throughput run."""

    streams_url: str
    paths: list[str]
    writers: int
    first_writer: int
    all_writers: int
    message_bytes: int
    warmup_seconds: float
    seconds: float


async def write_for_window(job: WriteJob, start: Start) -> int:
    """Append as fast as the server answers; count the appends that finish in the window."""
    body = json_message(job.message_bytes, i=0)
    async with new_session(job.writers + 2) as session:
        handles = [stream(session, job.streams_url, path) for path in job.paths]
        start.ready()
        began = await start.go()
        window_start = began + job.warmup_seconds
        window_end = window_start + job.seconds
        await asyncio.sleep(max(0.0, began - time.monotonic()))
        asyncio.get_running_loop().call_later(window_start - time.monotonic(), start.mark)
        counted = 0

        async def writer(index: int) -> None:
            nonlocal counted
            turn = 0
            while True:
                handle = handles[(index + turn * job.all_writers) % len(handles)]
                turn += 1
                await handle.append(body)
                now = time.monotonic()
                if now >= window_end:
                    return
                if now >= window_start:
                    counted += 1

        first = job.first_writer
        await asyncio.gather(*(writer(n) for n in range(first, first + job.writers)))
    return counted


async def append_throughput(ctx: Context) -> dict[str, float]:
    """Concurrent writers over many streams, counted in a window after a warmup.

    The writers run in helper processes so that the client side is not limited to one
    core; each process takes a share of the writers, all over the same streams.
    """
    sizes = ctx.sizes
    names = [f"throughput/{n}" for n in range(sizes.write_streams)]
    await asyncio.gather(*(ctx.stream(name).create() for name in names))
    paths = [bench_path(name) for name in names]
    jobs, first = [], 0
    for writers in split(sizes.writers, sizes.client_processes):
        jobs.append(
            WriteJob(
                ctx.server.streams_url,
                paths,
                writers,
                first,
                sizes.writers,
                sizes.message_bytes,
                sizes.throughput_warmup_seconds,
                sizes.throughput_seconds,
            )
        )
        first += writers
    with Crew(write_for_window, jobs) as crew:
        await crew.ready(seconds=60)
        began = time.monotonic() + 0.05
        crew.go(began)
        await asyncio.sleep(max(0.0, began + sizes.throughput_warmup_seconds - time.monotonic()))
        with ctx.meter.measure("append throughput") as phase:
            counts, phase.helper_cpu_seconds = await crew.results(
                seconds=sizes.throughput_seconds + 60
            )
    appended = sum(counts)
    share = ctx.meter.phases["append throughput"]
    return {
        "throughput": appended / sizes.throughput_seconds,
        "server_us_per_append": share.server_cores * share.wall_seconds / appended * 1e6,
    }


async def _fill(handle: StreamHandle, sizes: Sizes) -> None:
    """Fill a stream with batched POSTs of JSON arrays (each flattened into messages)."""
    await handle.create()
    for first in range(0, sizes.catchup_messages, sizes.catchup_batch):
        last = min(first + sizes.catchup_batch, sizes.catchup_messages)
        batch = [json_message(sizes.message_bytes, i=i) for i in range(first, last)]
        await handle.append(b"[" + b",".join(batch) + b"]")


async def _read_all(handle: StreamHandle) -> int:
    """Messages read from the beginning, following offsets until the server says caught up."""
    offset, total = "-1", 0
    while True:
        page = await handle.read(offset)
        total += len(orjson.loads(page.body))
        if page.up_to_date:
            return total
        if page.next_offset == offset:
            raise ProtocolError("catch-up read made no progress without being up to date")
        offset = page.next_offset


async def catch_up(ctx: Context) -> dict[str, float]:
    """Reading a long stream from the start: the cost of a new reader joining late."""
    sizes = ctx.sizes
    handle = ctx.stream("catchup")
    await _fill(handle, sizes)
    durations: list[float] = []
    with ctx.meter.measure("catch-up reads"):
        for _ in range(sizes.catchup_reads):
            started = time.perf_counter()
            total = await _read_all(handle)
            durations.append(time.perf_counter() - started)
            if total != sizes.catchup_messages:
                raise ProtocolError(
                    f"catch-up read {total} messages, expected {sizes.catchup_messages}"
                )
    seconds = percentile(durations, 50)
    return {"catchup_seconds": seconds, "catchup_rate": sizes.catchup_messages / seconds}


# Subscribers per loopback source address: below the per-client cap on live reads.
SUBSCRIBERS_PER_ADDRESS = 25


@dataclass(frozen=True, slots=True)
class SubscribeJob:
    """One helper's share of the SSE subscribers."""

    streams_url: str
    path: str
    first_subscriber: int
    subscribers: int
    messages: int
    timeout_seconds: float


async def subscribe(job: SubscribeJob, start: Start) -> list[int]:
    """Subscribe from the tail; the delay (ns) of every timestamped message at every subscriber."""
    latencies: list[int] = []
    connected = 0
    all_connected = asyncio.Event()

    async def subscriber(handle: StreamHandle) -> None:
        nonlocal connected
        seen = 0
        first = True
        async for arrived, kind, data in handle.live():
            if kind == "control" and first:
                first = False
                connected += 1
                if connected == job.subscribers:
                    all_connected.set()
            elif kind == "data":
                for message in orjson.loads(data):
                    latencies.append(arrived - message["t"])
                    seen += 1
                if seen >= job.messages:
                    return

    async with contextlib.AsyncExitStack() as sessions:
        handles = []
        by_source: dict[str | None, aiohttp.ClientSession] = {}
        for index in range(job.first_subscriber, job.first_subscriber + job.subscribers):
            source = loopback_source(index, SUBSCRIBERS_PER_ADDRESS)
            if source not in by_source:
                session = new_session(SUBSCRIBERS_PER_ADDRESS + 2, source)
                by_source[source] = await sessions.enter_async_context(session)
            handles.append(stream(by_source[source], job.streams_url, job.path))
        tasks = [asyncio.create_task(subscriber(handle)) for handle in handles]
        try:
            await _connected(all_connected, tasks, lambda: connected)
            start.ready()
            await asyncio.wait(tasks, timeout=job.timeout_seconds)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            raise ProtocolError(f"an SSE subscriber failed: {task.exception()!r}")
    return latencies


async def _connected(
    everyone: asyncio.Event, tasks: list[asyncio.Task[None]], count: Callable[[], int]
) -> None:
    """Wait until every subscriber is live; fail at once if one of them fails first."""
    waiter = asyncio.create_task(everyone.wait())
    try:
        done, _ = await asyncio.wait(
            [waiter, *tasks], timeout=30, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        waiter.cancel()
    if waiter in done:
        return
    for task in done:
        if task.exception() is not None:
            raise ProtocolError(f"an SSE subscriber failed: {task.exception()!r}")
    raise ProtocolError(f"only {count()} of {len(tasks)} SSE subscribers got going within 30 s")


async def _fan_out(ctx: Context, *, on_peer: bool) -> tuple[float, float]:
    """Append timestamped messages at a steady pace; every subscriber times each arrival.

    Subscribers live in helper processes (timestamps use the system-wide monotonic
    clock), so one process reading a hundred sockets in turn does not add its own queue
    to the latency it measures.
    """
    sizes = ctx.sizes
    name = "fanout-peer" if on_peer else "fanout"
    writer = ctx.stream(name)
    await writer.create()
    reader_server = ctx.peer if on_peer and ctx.peer is not None else ctx.server
    interval = sizes.sse_interval_ms / 1000
    timeout = sizes.sse_messages * interval + sizes.sse_grace_seconds + 30
    jobs, first = [], 0
    for count in split(sizes.subscribers, sizes.client_processes):
        url = reader_server.streams_url
        jobs.append(SubscribeJob(url, bench_path(name), first, count, sizes.sse_messages, timeout))
        first += count
    with Crew(subscribe, jobs) as crew:
        await crew.ready(seconds=60)
        with ctx.meter.measure("SSE fan-out" + (" (peer)" if on_peer else "")) as phase:
            start = time.monotonic()
            for i in range(sizes.sse_messages):
                await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
                await writer.append(json_message(sizes.message_bytes, t=time.monotonic_ns(), i=i))
            shares, phase.helper_cpu_seconds = await crew.results(seconds=timeout)
    latencies = [latency for share in shares for latency in share]
    expected = sizes.subscribers * sizes.sse_messages
    if len(latencies) != expected:
        raise ProtocolError(f"SSE delivered {len(latencies)} of {expected} messages in time")
    samples = [latency / NS_PER_MS for latency in latencies]
    return percentile(samples, 50), percentile(samples, 99)


async def sse_fan_out(ctx: Context) -> dict[str, float]:
    p50, p99 = await _fan_out(ctx, on_peer=False)
    return {"sse_p50": p50, "sse_p99": p99}


async def cross_process_sse(ctx: Context) -> dict[str, float]:
    """Append through one server process, deliver over SSE from another on the same data."""
    if ctx.peer is None:
        return {}
    p50, p99 = await _fan_out(ctx, on_peer=True)
    return {"xproc_p50": p50, "xproc_p99": p99}


def _ms(key: str, label: str) -> Metric:
    return Metric(key, label, "ms", higher_is_better=False)


WORKLOADS: tuple[Workload, ...] = (
    Workload(
        "latency",
        append_latency,
        (
            _ms("append_p50", "Sequential append latency p50, {s.message_bytes} B JSON"),
            _ms("append_p99", "Sequential append latency p99, {s.message_bytes} B JSON"),
        ),
        "one writer sends {s.appends:,} appends of one {s.message_bytes}-byte JSON message,"
        " one at a time, after {s.warmup_appends} warmup appends; latency is measured"
        " around each request.",
    ),
    Workload(
        "throughput",
        append_throughput,
        (
            Metric(
                "throughput",
                "Append throughput, {s.writers} writers \u00d7 {s.write_streams} streams",
                "msg/s",
                True,
                0,
            ),
            Metric(
                "server_us_per_append",
                "Server CPU per append in that run",
                "\u00b5s",
                False,
                0,
            ),
        ),
        "{s.writers} writers, each cycling over the {s.write_streams} streams, run from"
        " {s.client_processes} load generator process(es); appends completed in"
        " {s.throughput_seconds:g} s after {s.throughput_warmup_seconds:g} s of warmup are"
        " counted. Server CPU per append is the server's CPU time in that window over"
        " the appends it completed.",
    ),
    Workload(
        "catch-up",
        catch_up,
        (
            Metric(
                "catchup_seconds", "Catch-up read of {s.catchup_messages:,} messages", "s", False, 3
            ),
            Metric("catchup_rate", "Catch-up read rate", "msg/s", True, 0),
        ),
        "a stream filled by {s.catchup_batch:,}-message JSON array appends is read from"
        " offset -1, following Stream-Next-Offset until Stream-Up-To-Date, parsing every"
        " page; median of {s.catchup_reads} read(s).",
    ),
    Workload(
        "sse",
        sse_fan_out,
        (
            _ms("sse_p50", "SSE fan-out latency p50, {s.subscribers} subscribers"),
            _ms("sse_p99", "SSE fan-out latency p99, {s.subscribers} subscribers"),
        ),
        "{s.subscribers} subscribers (spread over {s.client_processes} process(es)) read"
        " with offset=now&live=sse; {s.sse_messages} messages carrying their send time"
        " are appended one every {s.sse_interval_ms:g} ms, and each arrival is timed at"
        " every subscriber.",
    ),
    Workload(
        "cross-process-sse",
        cross_process_sse,
        (
            _ms("xproc_p50", "Append in one process → SSE in another, p50"),
            _ms("xproc_p99", "Append in one process → SSE in another, p99"),
        ),
        "as the SSE row, but appends go to one server process and subscribers read from"
        " a second process serving the same database.",
        needs_peer=True,
    ),
)
