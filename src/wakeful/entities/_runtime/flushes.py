"""The flush pipeline: a pass committing its progress before its final commit.

What a flush commits is the context's ``progress`` (the agent loop's rows, and a tool's
writes moved there with its result), never the handler's own writes, which wait for the
commit that acknowledges the inputs (see :mod:`wakeful.entities.context`). Flushes go
through the pass's producer, fenced by the claim's generation.

Flushes commit in the order they were asked for, one after another, but the caller need
not wait: the agent loop records a tool's result and goes on to the next model call while
that commits. A flush not waited for waits :data:`DEFERRED_FLUSH_SECONDS` for company
(the next step's start), so one commit carries both. The first failure sticks: later
flushes and the final commit raise it, and the pass is retried from the stream.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson

from ...streams import batch
from ...streams.model import AppendRequest, AppendResult, ProducerClaim
from ...streams.storage.access import PassStorage
from ...streams.subscriptions.model import SubscriptionRow
from ..context import JSON, PassOutput

PRODUCER = "wakeful-runtime"
# How long a flush not waited for may wait for company before it commits on its own.
DEFERRED_FLUSH_SECONDS = 0.002


@dataclass(slots=True)
class Flushes:
    """The flushes of one attempt: producer sequence, where they ended (and whether only
    they were appended meanwhile), the latest one, and a failure."""

    storage: PassStorage
    row: SubscriptionRow
    stream: str  # the entity's stream
    # The attempt's ``ctx.progress``, set once its context is made. The buffer, not the
    # context: the context holds ``flush`` (a method of this), and a cycle between the
    # two would leave every pass's context and state to the garbage collector.
    progress: PassOutput | None
    seq: int  # the producer sequence of the next flush
    own_end: int
    contiguous: bool = True
    latest: asyncio.Future[None] | None = None
    failure: BaseException | None = None
    deferred: asyncio.TimerHandle | None = None  # a flush not waited for, due soon
    landed: int = -1  # the producer sequence after the last append that landed
    end: int = -1  # the stream's tail after the last append that landed
    open: bool = True  # False once the attempt is over: its final commit takes the rest

    def __post_init__(self) -> None:
        self.landed = self.seq
        self.end = max(self.end, self.own_end)

    def next_attempt(self) -> Flushes:
        """The flushes of the next attempt: they go on from where these landed (starting
        the producer sequence over would have them taken for duplicates and dropped)."""
        return Flushes(
            self.storage,
            self.row,
            self.stream,
            None,
            self.landed,
            self.own_end,
            self.contiguous,
            end=self.end,
        )

    async def settled(self) -> None:
        """Wait for every flush asked for so far; raise the first failure."""
        if self.latest is not None and not self.latest.done():
            await asyncio.wait({self.latest})
        if self.failure is not None:
            raise self.failure

    async def flush(self, wait: bool = True) -> None:
        """``ctx.flush()``: commit the progress so far (see :meth:`Context.flush`)."""
        if not self.open:
            return
        if self.failure is not None:
            raise self.failure
        if not wait:
            # Committed within DEFERRED_FLUSH_SECONDS, or sooner with the next flush that
            # waits: the agent loop's tool result and the next step's start then share one
            # commit, and nothing that waits on a flush runs before this one has landed.
            if self.deferred is None:
                self.deferred = asyncio.get_running_loop().call_later(
                    DEFERRED_FLUSH_SECONDS, self.start
                )
            return
        self.start()
        latest = self.latest
        if latest is not None:
            if not latest.done():
                # Shielded: a flush whose caller is cancelled still lands (or fails) in
                # order; the end of the pass waits for it.
                await asyncio.shield(latest)
            if self.failure is not None:
                raise self.failure

    def start(self) -> None:
        """Put what is buffered on its way to the database, after the flushes before it."""
        if self.deferred is not None:
            self.deferred.cancel()
            self.deferred = None
        if self.failure is not None or not self.open:
            return  # failed, or the attempt is over: its final commit takes the rest
        seq = self.seq
        operations, size = self._take()
        if operations:
            self.latest = asyncio.ensure_future(self._commit(operations, size, seq, self.latest))

    def close(self) -> asyncio.Future[None] | None:
        """End the attempt's flushing; returns a flush still landing, if any."""
        if self.deferred is not None:
            self.deferred.cancel()  # the final commit takes what is left
            self.deferred = None
        self.open = False
        return self.latest

    def _take(self) -> tuple[list[batch.Operation], int]:
        """The progress buffered so far as the operations of one flush (and the bytes it
        appends); the buffer starts over for the next flush."""
        assert self.progress is not None
        output = self.progress
        events, extra, labels = list(output.events), list(output.operations), dict(output.labels)
        output.events.clear()
        output.operations.clear()
        output.labels.clear()
        operations: list[batch.Operation] = []
        size = 0
        if events:
            body = [orjson.dumps(event) for event in events]
            size = sum(len(message) for message in body)
            producer = ProducerClaim(PRODUCER, self.row.generation, self.seq)
            self.seq += 1  # taken now: the next flush may be on its way before this lands
            request = AppendRequest(self.stream, JSON, body, producer=producer)
            operations.append(batch.Append(request))
        operations.extend(extra)
        if labels:
            operations.append(batch.SetLabels(self.stream, labels))
        return operations, size

    async def _commit(
        self,
        operations: list[batch.Operation],
        size: int,
        seq: int,
        previous: asyncio.Future[None] | None,
    ) -> None:
        in_order = self.storage.commits_in_order
        try:
            if previous is not None and not in_order and not previous.done():
                await asyncio.wait({previous})
            if self.failure is not None:
                raise self.failure  # nothing commits after a failed flush
            results = await self.storage.commit(operations)
            if previous is not None and in_order and not previous.done():
                await asyncio.wait({previous})  # landed first; let it record where it ended
        except Exception as exc:
            # Kept, not raised: the next flush or the end of the pass raises it.
            if self.failure is None:
                self.failure = exc
            return
        if size:
            self.landed = seq + 1
            appended = results[0]
            assert isinstance(appended, AppendResult)
            self.end = max(self.end, appended.tail)
            if appended.tail - size == self.own_end:
                self.own_end = appended.tail
            else:
                self.contiguous = False
