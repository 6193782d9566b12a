"""A Python executor: runs the calls of tools declared ``@tool(executor=...)``, in this
process, for agents on a server it reaches over HTTP.

It lists the queue of each executor name its tools have, claims a call, heartbeats while
the tool runs and gives the result (or the failure). Any number of executors may serve one
name, on any machines: the server's database decides which one holds a call. One that
loses its claim (its lease ran out, the run ended) stops the call's tool and drops what it
would have sent; the server would refuse it anyway.

``wakeful executor module:tools --server URL`` runs one from the command line; in a
program, ``await Executor(tools, client).run()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterable
from typing import Any

from ..agent.executor_rows import ExecutorCall
from ..agent.tools import Tool, ToolArgumentsError, jsonable
from ..errors import CallClaimed, CallFenced, CallNotClaimable, WakefulError
from .async_client import AsyncClient

log = logging.getLogger("wakeful.executor")


class Executor:
    """Runs claimed calls of ``tools`` (each with an ``executor`` name) until stopped.

    ``holder`` names this executor in claims (host and process id by default);
    ``lease_seconds`` is how long a claim holds without a heartbeat (heartbeats go every
    third of it); ``concurrency`` bounds the calls run at once; ``poll_seconds`` is the
    pause between looks at an empty queue."""

    def __init__(
        self,
        tools: Iterable[Tool],
        client: AsyncClient,
        *,
        holder: str | None = None,
        lease_seconds: float = 15.0,
        concurrency: int = 4,
        poll_seconds: float = 0.5,
    ) -> None:
        self.tools: dict[tuple[str, str], Tool] = {}
        for found in tools:
            if found.executor is None:
                raise ValueError(f"tool {found.name!r} has no executor: give it executor=...")
            self.tools[(found.executor, found.name)] = found
        if not self.tools:
            raise ValueError("an executor needs at least one tool")
        self.names = sorted({name for name, _ in self.tools})
        self.client = client
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}"
        self.lease_seconds = lease_seconds
        self.poll_seconds = poll_seconds
        self._slots = asyncio.Semaphore(concurrency)
        self._running: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Claim and run calls until ``stop`` is set; calls in progress then finish."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                started = await self.run_once()
                if not started:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.poll_seconds)
        finally:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)

    async def run_once(self) -> int:
        """Claim what is pending now (as free slots allow) and start running it; returns
        how many calls were claimed."""
        claimed = 0
        for name in self.names:
            try:
                pending = await self.client.executor_calls(name)
            except WakefulError as exc:
                log.warning("executor %s: listing failed: %s", name, exc)
                continue
            for call in pending:
                if (call.executor, call.tool) not in self.tools or call.key in self._busy:
                    continue
                if self._slots.locked():
                    return claimed
                await self._slots.acquire()
                try:
                    held = await self.client.claim_call(
                        name, call.key, self.holder, lease_seconds=self.lease_seconds
                    )
                except (CallClaimed, CallNotClaimable):
                    self._slots.release()
                    continue  # another executor was first, or the call ended
                except BaseException:
                    self._slots.release()
                    raise
                claimed += 1
                self._busy.add(held.key)
                task = asyncio.create_task(self._serve(held))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
        return claimed

    async def _serve(self, call: ExecutorCall) -> None:
        try:
            await self._execute(call)
        except WakefulError as exc:
            log.warning("executor: call %s (%s) ended badly: %s", call.key, call.tool, exc)
        finally:
            self._busy.discard(call.key)
            self._slots.release()

    async def _execute(self, call: ExecutorCall) -> None:
        tool = self.tools[(call.executor, call.tool)]
        work = asyncio.create_task(self._attempt(tool, call))
        beats = asyncio.create_task(self._heartbeat(call, work))
        try:
            outcome = await work
        except asyncio.CancelledError:
            if beats.done() and not beats.cancelled() and beats.result():
                log.info("executor: lost the claim on %s; its result is dropped", call.key)
                return
            raise
        finally:
            beats.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await beats
        ok, value, retryable = outcome
        try:
            if ok:
                await self.client.complete_call(call, jsonable(value))
            else:
                await self.client.fail_call(call, str(value), retryable=retryable)
        except CallFenced as exc:
            log.info("executor: %s", exc)

    async def _attempt(self, tool: Tool, call: ExecutorCall) -> tuple[bool, Any, bool]:
        try:
            if tool.timeout is None:
                return True, await tool.call_claimed(call), False
            async with asyncio.timeout(tool.timeout):
                return True, await tool.call_claimed(call), False
        except Exception as exc:
            message = (
                "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"
            )
            retryable = not isinstance(exc, ToolArgumentsError) and tool.retry.retries(exc)
            return False, message, retryable

    async def _heartbeat(self, call: ExecutorCall, work: asyncio.Task[Any]) -> bool:
        """Extend the lease until cancelled; True (and the tool cancelled) once lost."""
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            try:
                await self.client.heartbeat_call(call, lease_seconds=self.lease_seconds)
            except CallFenced:
                work.cancel()
                return True
            except WakefulError as exc:  # the server is away: the lease may still hold
                log.warning("executor: heartbeat of %s failed: %s", call.key, exc)
