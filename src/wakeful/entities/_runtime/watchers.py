"""What watches a pass from the side: its lease, and the signals sent while it runs.

The lease is heartbeated from the start of the pass (before its state loads) until its
commit returns; losing it cancels the handler, and the pass commits nothing (another
worker may hold the wake by now). While the handler runs, interrupt, stop and kill
signals that arrive on the entity's stream set ``ctx.interrupted``; a kill also cancels
the handler.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from ...errors import WakefulError
from ...streams.follow import changes
from ...streams.storage.access import PassStorage
from ...streams.subscriptions.model import SubscriptionRow, WakeRequest
from ...streams.subscriptions.tokens import TokenClaims
from .. import vocabulary as v
from ..context import Context
from ..loading import read_messages
from .flushes import Flushes

log = logging.getLogger("wakeful.entities")
# How often, at most, a running pass looks for interrupt, stop and kill signals.
SIGNAL_CHECK_SECONDS = 0.05


@dataclass(slots=True)
class Lease:
    """The claim's lease, kept while :meth:`keep` runs."""

    storage: PassStorage
    row: SubscriptionRow
    claims: TokenClaims
    lost: bool = False
    handler: asyncio.Task[None] | None = None  # cancelled if the lease is lost

    async def keep(self) -> None:
        """Heartbeat until cancelled; if the lease is lost, say so and stop the handler."""
        row = self.row
        assert row.wake_id is not None
        interval = max(row.lease_seconds / 3, 0.2)
        request = WakeRequest(row.wake_id, row.generation)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.storage.subscriptions.ack(row.id, self.claims, request)
            except WakefulError as exc:
                log.warning("%s: lost the lease (%s); stopping the pass", row.id, exc.code)
                self.lost = True
                if self.handler is not None:
                    self.handler.cancel()
                return


async def watch_signals(
    storage: PassStorage,
    ctx: Context,
    position: int,
    flushes: Flushes,
    handler: asyncio.Task[None],
    killed: asyncio.Event,
) -> None:
    """Act on interrupt, stop and kill signals on the entity's stream after ``position``
    as they arrive, until cancelled (with the handler's end) or a kill, which sets
    ``killed`` and cancels the ``handler``.

    The stream changes at every flush of the pass itself, so this reads only what lies
    past the pass's own contiguous flushes, and at most every SIGNAL_CHECK_SECONDS."""
    interrupting = getattr(ctx.definition, "on_message", "queue") == "interrupt"
    async for head in changes(storage, ctx.address.stream):
        tail = head.tail
        # Let a flush that just committed (and woke us) record where it ended first.
        await asyncio.sleep(0)
        if flushes.contiguous:
            # Up to there the stream holds only this pass's own flushes: no signals.
            position = max(position, flushes.own_end)
        if position < tail:
            async for message in read_messages(storage, ctx.address.stream, position, tail):
                position = message.end
                value = message.value if isinstance(message.value, dict) else {}
                if value.get("type") == v.INBOX and interrupting:
                    # A message to an entity whose policy is "interrupt" ends the run in
                    # progress; the next pass starts one with the message.
                    ctx.interrupted.set()
                if value.get("type") != v.SIGNAL:
                    continue
                name = (value.get("value") or {}).get("name")
                if name in (v.INTERRUPT, v.STOP, v.KILL):
                    ctx.interrupted.set()
                if name == v.KILL:
                    killed.set()
                    handler.cancel()
                    return
        # Still sees an interrupt well within the second it is promised in.
        await asyncio.sleep(SIGNAL_CHECK_SECONDS)
