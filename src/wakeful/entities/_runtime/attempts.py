"""Trying the handler: attempts with backoff, each from the stream, until one succeeds.

Each attempt gets a fresh context over state loaded from the stream, up to the end of
what this pass flushed (so that an agent run the failed attempt advanced is found and
continued, not started again; see :mod:`.handler_pass` for why). A failed
attempt's progress lands before the retry: the run's records are facts (a tool that
completed did run). Its handler writes do not: the retry makes them again. After
``max_attempts`` the entity is marked failed, its inputs unhandled until a resume.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from typing import TYPE_CHECKING

from ...errors import Fenced
from .. import vocabulary as v
from ..context import Context
from ..definition import EntityType
from ..wake import Wake
from .flushes import Flushes
from .watchers import watch_signals

if TYPE_CHECKING:
    from .handler_pass import Pass

log = logging.getLogger("wakeful.entities")


async def run_attempts(p: Pass) -> None:
    """Run ``p``'s handler until an attempt succeeds, a kill ends it, or the attempts run
    out; record the outcome on ``p``. Raises ``CancelledError`` when the pass must commit
    nothing (this worker stops, or lost its lease)."""
    definition = p.definition
    for attempt in range(1, definition.max_attempts + 1):
        p.attempts = attempt
        previous = p.flushes
        flushes = (
            previous.next_attempt()
            if previous is not None
            else Flushes(p.runner.storage, p.row, p.address.stream, None, 0, p.tail)
        )
        # The handler writes into a copy: the state as read from the stream stays clean,
        # for a retry (which must not see a failed attempt's writes) and for the cache.
        await p.runner.cache.catch_up(p.loaded, p.address, max(p.tail, flushes.end))
        store = p.loaded.store.copy()
        ctx = await p.context(store, flushes)
        flushes.progress = ctx.progress
        p.flushes = flushes
        if await _attempt(p, ctx, flushes):
            p.ctx, p.store, p.failure = ctx, store, None
            return
        if p.killed:
            return
        if attempt < definition.max_attempts:
            await asyncio.sleep(definition.retry_seconds * 2 ** (attempt - 1))
    p.new_status = v.FAILED


async def _attempt(p: Pass, ctx: Context, flushes: Flushes) -> bool:
    """One try of the handler; True if it succeeded."""
    task: asyncio.Task[None] = asyncio.ensure_future(call_handler(p.definition, ctx, p.wake))
    killed = asyncio.Event()
    p.lease.handler = task
    watcher = asyncio.ensure_future(
        watch_signals(p.runner.storage, ctx, p.tail, flushes, task, killed)
    )
    helpers: list[asyncio.Future[None]] = [watcher]
    try:
        await task
        await flushes.settled()  # the handler's flushes count as its work
        return True
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if not task.cancelled() or (current is not None and current.cancelling()):
            # This worker is stopping (the pass itself was cancelled, not just the
            # handler): commit nothing, so that the next claim resumes from the stream.
            raise
        if p.lease.lost:
            # Another worker may hold the wake by now: commit nothing either.
            raise Fenced(f"{p.row.id}: lost the lease; nothing commits") from None
        # A kill: over for good. What the run recorded lands, and the commit closes what
        # it left open.
        flushes.start()
        p.killed, p.new_status, p.failure = True, v.KILLED, None
        return False
    except Exception as exc:
        p.failure = exc
        log.warning("%s: handler attempt %d failed: %r", p.address, p.attempts, exc)
        flushes.start()  # the run's records land before the retry (see the module doc)
        return False
    finally:
        p.lease.handler = None
        watcher.cancel()
        latest = flushes.close()
        if latest is not None:
            helpers.append(latest)  # a flush still landing, if any
        # Not ``await helper`` under suppress(CancelledError): that would swallow a
        # cancellation of this pass (the worker stopping) arriving meanwhile.
        await asyncio.wait(helpers)
        for helper in helpers:
            if not helper.cancelled():
                helper.exception()


async def call_handler(definition: EntityType, ctx: Context, wake: Wake) -> None:
    """Custom signals go to the type's signal handler, when it has one; the handler runs
    for everything else (and for signals too, when there is no signal handler)."""
    ctx.wake = wake
    if definition.on_signal is not None and wake.signals:
        for signal in wake.signals:
            await definition.on_signal(ctx, signal)
        rest = dataclasses.replace(wake, signals=[])  # the wake, less what was handled
        if rest.is_empty():
            return
        wake = rest
    await definition.handler(ctx, wake)
