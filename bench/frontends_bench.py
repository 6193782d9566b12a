"""What a resumed chat costs: ``GET /v1/chat/{id}/stream`` on threads of growing history.

A refreshed ``useChat`` page reattaches to the answer in progress, which Wakeful replays
from the thread's durable stream: from the stream's start, since the stream keeps no index
of where a run began. This measures how long that replay takes to catch up with the live
answer (the time from the request to the last replayed text chunk of the running answer;
its next chunks arrive live), for threads that already hold 0 to N finished runs, each a
60-word answer of the instant scripted model.

A real server (``create_app`` under uvicorn, SQLite) on 127.0.0.1; the in-progress answer
is the scripted model streaming slowly. Median of ``--runs`` resumes per size.

``--output BENCHMARKS.md`` records the table in that file's "Front ends" section.

Usage: python bench/frontends_bench.py [--sizes 0,100,1000] [--runs 5] [--output BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime
import itertools
import platform
import shlex
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn

from wakeful import Registry, ThreadConfig, define_thread
from wakeful.agent.models import ModelRequest, Response, TestModel
from wakeful.server.app import ServerSettings, create_app

ANSWER = " ".join(f"word{i}" for i in range(60))
SLOW = "tell me slowly"
SLOW_ANSWER = " ".join(f"slow{i}" for i in range(20))


def script(request: ModelRequest) -> Response:
    """Instant answers, but a slow one to the message that the resumes reattach to."""
    last = str(request.messages[-1].content) if request.messages else ""
    return Response(text=SLOW_ANSWER, delay=0.1) if SLOW in last else Response(text=ANSWER)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def serving(database: str) -> AsyncIterator[httpx.AsyncClient]:
    registry = Registry()
    define_thread(registry, config=ThreadConfig(model=TestModel(itertools.repeat(script))))
    app = create_app(ServerSettings(database=database, long_poll_timeout=1.0), registry)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110 (uvicorn offers a flag, not an event)
        await asyncio.sleep(0.01)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
        yield client
    server.should_exit = True
    await task


async def chat(client: httpx.AsyncClient, thread: str, text: str, message_id: str) -> None:
    """One turn, read to its end."""
    parts = [{"type": "text", "text": text}]
    body = {"id": thread, "messages": [{"id": message_id, "role": "user", "parts": parts}]}
    async with client.stream("POST", "/v1/chat", json=body) as response:
        async for _ in response.aiter_lines():
            pass


async def time_to_live_text(client: httpx.AsyncClient, thread: str) -> float:
    """Seconds from the resume request to the first text delta sent after the replay
    reached the live answer (live deltas come every 0.1 s; the replay's arrive at once)."""
    started = time.perf_counter()
    last: float | None = None
    async with client.stream("GET", f"/v1/chat/{thread}/stream") as response:
        assert response.status_code == 200, response.status_code
        async for line in response.aiter_lines():
            now = time.perf_counter()
            if '"text-delta"' in line:
                if last is not None and now - last > 0.05:  # a gap: streamed live
                    return last - started
                last = now
    return (last or started) - started


async def measure(sizes: list[int], runs: int) -> list[tuple[int, int, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        async with serving(str(Path(directory) / "bench.db")) as client:
            for size in sizes:
                thread = f"bench-{size}"
                for index in range(size):
                    await chat(client, thread, f"question {index}", f"m{index}")
                head = await client.get(f"/v1/threads/{thread}") if size else None
                timings = []
                for attempt in range(runs):
                    turn = asyncio.create_task(
                        chat(client, thread, f"{SLOW} {attempt}", f"slow{attempt}")
                    )
                    await asyncio.sleep(0.5)  # the slow answer is streaming
                    timings.append(await time_to_live_text(client, thread))
                    await turn
                stream_bytes = 0
                if head is not None:
                    stream = head.json()["stream"]
                    info = await client.head(f"/v1/stream/{stream}")
                    stream_bytes = int(info.headers["Stream-Next-Offset"].split("_")[-1] or 0)
                rows.append((size, stream_bytes, statistics.median(timings), max(timings)))
    return rows


def table(rows: list[tuple[int, int, float, float]]) -> str:
    lines = [
        "| Finished runs before | Stream bytes | Catch-up ms (median) | Catch-up ms (max) |",
        "| --: | --: | --: | --: |",
    ]
    for size, stream_bytes, median, worst in rows:
        lines.append(f"| {size:,} | {stream_bytes:,} | {median * 1000:.1f} | {worst * 1000:.1f} |")
    return "\n".join(lines)


def record(path: Path, text: str, command: str) -> None:
    title = "## Front ends"
    body = (
        f"{title}\n\nMeasured on {datetime.date.today()} with `{command}` on Python"
        f" {platform.python_version()} ({platform.machine()}, {platform.system()}).\n\n"
        f"{text}\n\n{__doc__.split(chr(10) + chr(10))[1].strip().replace('``', '`')}\n"
    )
    content = path.read_text()
    start = content.find(title)
    if start < 0:
        path.write_text(content.rstrip() + "\n\n" + body)
        return
    end = content.find("\n## ", start + len(title))
    path.write_text(content[:start] + body + (content[end:] if end >= 0 else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="0,100,1000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, help="update the 'Front ends' section")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    text = table(asyncio.run(measure(sizes, options.runs)))
    print(text)
    if options.output is not None:
        command = "python " + shlex.join(sys.argv)
        record(options.output, text, command)


if __name__ == "__main__":
    main()
