"""Load generators in helper processes, so the client side can use more than one core.

On a small machine one Python process driving a fast server runs out of CPU before the
server does, and the measured rate becomes the client's. Concurrent rows therefore run
their writers or subscribers in a few spawned processes, started before the measured
phase and released together. Sequential rows stay in the main process: one request at a
time leaves a client nowhere near saturation.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import queue
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from typing import Any, Generic, TypeVar

from .targets import die_with_parent

P = TypeVar("P")
R = TypeVar("R")
STOP_GRACE_SECONDS = 5.0


def run(coroutine: Coroutine[Any, Any, R]) -> R:
    """Run on uvloop when it is installed: a faster loop keeps the client out of the way."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


@dataclass(frozen=True, slots=True)
class Start:
    """The helper's side of the starting line."""

    _ready: multiprocessing.Queue[int]
    _go: multiprocessing.synchronize.Event
    _at: Any  # a shared double: the monotonic time at which to begin
    # This process's CPU seconds at the last mark (each helper has its own copy).
    _marks: list[float] = field(default_factory=list)

    def ready(self) -> None:
        """Report that setup (connections, subscriptions) is done."""
        self.mark()
        self._ready.put(os.getpid())

    def mark(self) -> None:
        """Start counting this helper's CPU from now (the beginning of the measured phase)."""
        self._marks[:] = [time.process_time()]

    def cpu_since_mark(self) -> float:
        return time.process_time() - (self._marks[0] if self._marks else 0.0)

    async def go(self) -> float:
        """Wait for the release; the monotonic start time, shared by every helper."""
        await asyncio.to_thread(self._go.wait)
        return float(self._at.value)


Job = Callable[[P, Start], Coroutine[Any, Any, R]]


def _helper(job: Job[P, R], payload: P, start: Start, results: multiprocessing.Queue[Any]) -> None:
    die_with_parent()
    try:
        value = run(job(payload, start))
    except BaseException as exc:
        results.put((False, f"{type(exc).__name__}: {exc}"))
        raise
    results.put((True, (value, start.cpu_since_mark())))


class Crew(Generic[P, R]):
    """Helper processes each running ``job(payload, start)``; stopped on exit, whatever happens."""

    def __init__(self, job: Job[P, R], payloads: list[P]) -> None:
        context = multiprocessing.get_context("spawn")
        self._ready: multiprocessing.Queue[int] = context.Queue()
        self._results: multiprocessing.Queue[Any] = context.Queue()
        self._go = context.Event()
        self._at = context.Value("d", 0.0)
        start = Start(self._ready, self._go, self._at)
        self._processes: list[SpawnProcess] = [
            context.Process(target=_helper, args=(job, payload, start, self._results), daemon=True)
            for payload in payloads
        ]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    def __enter__(self) -> Crew[P, R]:
        for process in self._processes:
            process.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for process in self._processes:
            if process.is_alive():
                process.terminate()
        for process in self._processes:
            process.join(STOP_GRACE_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()

    async def _get(self, source: multiprocessing.Queue[Any], seconds: float, what: str) -> Any:
        deadline = time.monotonic() + seconds
        while True:
            try:
                return await asyncio.to_thread(source.get, True, 0.2)
            except queue.Empty:
                pass
            failed = [p for p in self._processes if p.exitcode not in (None, 0)]
            if failed:
                raise RuntimeError(f"a load generator failed: {self._failure(failed[0])}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"load generators did not {what} within {seconds:g}s")

    def _failure(self, process: SpawnProcess) -> str:
        """The error a helper reported before dying, else its exit code."""
        try:
            while True:
                ok, value = self._results.get_nowait()
                if not ok:
                    return str(value)
        except queue.Empty:
            return f"exit code {process.exitcode}"

    async def ready(self, seconds: float) -> None:
        """Wait until every helper has finished its setup."""
        for _ in self._processes:
            await self._get(self._ready, seconds, "get ready")

    def go(self, at: float) -> None:
        """Release every helper, to begin at monotonic time ``at``."""
        self._at.value = at
        self._go.set()

    async def results(self, seconds: float) -> tuple[list[R], float]:
        """Every helper's result, and the CPU seconds they used since their last mark."""
        values: list[R] = []
        cpu_seconds = 0.0
        for _ in self._processes:
            ok, outcome = await self._get(self._results, seconds, "finish")
            if not ok:
                raise RuntimeError(f"a load generator failed: {outcome}")
            value, cpu = outcome
            values.append(value)
            cpu_seconds += cpu
        return values, cpu_seconds


def split(total: int, parts: int) -> list[int]:
    """``total`` spread as evenly as possible over ``parts`` (dropping empty parts)."""
    parts = max(1, min(parts, total))
    return [total // parts + (1 if index < total % parts else 0) for index in range(parts)]
