"""The queue of an executor: tool calls that run outside the handler, claimed with leases.

A tool declared ``@tool(executor="browser")`` does not run in the handler's process. The
agent loop records the call as waiting and, in the same commit, enqueues it on the
stream ``_wakeful/executors/browser``: a State Protocol stream with one row per call
(:class:`ExecutorCall`). Executors (a page, another process, any HTTP client) list the
queue, claim a call, heartbeat while they work, and complete or fail it.

Claim authority lives in the database, not in any process: every write to a call's row
goes through the idempotent producer ``executor-call:{key}``, whose epoch is the claim's
generation. A claim writes at epoch ``generation + 1``, sequence 0, so of two executors
claiming at once the database accepts one and reports the other's append as a duplicate
(it lost). Heartbeats and results write at the holder's epoch with the next sequence, so
once a newer claim (or a cancellation, at :data:`CANCEL_EPOCH`) has landed, the old
holder's writes are refused as stale by the same transaction that would apply them. A
result commits together with the ``tool_result`` that wakes the entity: both or neither.

Leases are read from the row and judged against this server's clock; the clock only
decides *when* a claim may be taken over, never *whether two* can hold it.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from typing import Any, Final

import orjson

from ..entities import vocabulary as v
from ..entities.addressing import Address
from ..entities.loading import read_messages
from ..errors import (
    BadRequest,
    CallClaimed,
    CallFenced,
    CallNotClaimable,
    ErrorCode,
    StaleEpoch,
    StreamNotFound,
    UnknownExecutorCall,
)
from ..state import StateStore
from ..state.events import insert, now_timestamp, update
from ..streams import batch
from ..streams.model import AppendRequest, AppendResult, CreateRequest, ProducerClaim
from ..streams.storage import Storage
from .executor_rows import DONE, ExecutorCall, Refusal, check_name
from .rows import ToolResultRow

JSON = "application/json"
QUEUE_PREFIX = "_wakeful/executors/"
#: The collections of a queue stream.
CALL, CANCELLED, REFUSED = "executor_call", "executor_cancelled", "executor_refused"
#: The producer epoch of a cancellation: above any claim's, so after it no claim, heartbeat
#: or result of the call can land (the column is a 32-bit integer on SQLite's side too).
CANCEL_EPOCH: Final = 2**31 - 1
DEFAULT_LEASE_SECONDS: Final = 30.0
MAX_LEASE_SECONDS: Final = 3600.0


def queue_path(name: str) -> str:
    return QUEUE_PREFIX + check_name(name)


def call_key(idempotency_key: str) -> str:
    """A call's key in its queue: short, URL-safe, and the same for every retry."""
    return hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Enqueue:
    """What the agent loop knows of a call when it records it as waiting."""

    executor: str
    entity: str
    call_id: str
    run_id: str
    tool: str
    args: dict[str, Any]
    idempotency_key: str
    max_attempts: int
    backoff_seconds: float


def _producer(key: str, epoch: int, seq: int) -> ProducerClaim:
    return ProducerClaim(f"executor-call:{key}", epoch, seq)


def _append(path: str, event: dict[str, Any], producer: ProducerClaim | None) -> batch.Append:
    return batch.Append(AppendRequest(path, JSON, [orjson.dumps(event)], producer=producer))


def _create(path: str) -> batch.CreateStream:
    return batch.CreateStream(CreateRequest(path, JSON, None, None, False, b""))


def enqueue_operations(call: Enqueue) -> list[batch.Operation]:
    """The operations that put ``call`` on its queue (created on first use); they commit
    with the agent loop's flush that records the call as waiting."""
    key = call_key(call.idempotency_key)
    row = ExecutorCall(
        key=key,
        executor=call.executor,
        entity=call.entity,
        call_id=call.call_id,
        run_id=call.run_id,
        tool=call.tool,
        args=call.args,
        idempotency_key=call.idempotency_key,
        max_attempts=max(1, call.max_attempts),
        backoff_seconds=call.backoff_seconds,
        created_at=now_timestamp(),
    )
    path = queue_path(call.executor)
    event = insert(CALL, key, row.model_dump(mode="json"))
    return [_create(path), _append(path, event, _producer(key, 0, 0))]


def cancel_operations(executor: str, idempotency_key: str, reason: str) -> list[batch.Operation]:
    """The operations that cancel a queued call: at the highest epoch, so every later
    write of an executor to it is refused by the database."""
    key = call_key(idempotency_key)
    path = queue_path(executor)
    event = insert(CANCELLED, key, {"key": key, "reason": reason, "at": now_timestamp()})
    return [_create(path), _append(path, event, _producer(key, CANCEL_EPOCH, 0))]


@dataclass(slots=True)
class _Queue:
    store: StateStore
    lock: asyncio.Lock


class ExecutorQueues:
    """The server's side of executors: list, claim, heartbeat, complete, fail.

    A queue's state is folded from its stream and caught up to the stream's tail before
    every decision; the cache only saves re-reading what was read before."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._queues: dict[str, _Queue] = {}

    async def _state(self, name: str) -> StateStore:
        path = queue_path(name)
        queue = self._queues.get(name)
        if queue is None:
            queue = self._queues[name] = _Queue(StateStore(), asyncio.Lock())
        async with queue.lock:
            try:
                head = await self.storage.head(path)
            except StreamNotFound:  # nothing was ever enqueued for this executor
                return queue.store
            async for message in read_messages(self.storage, path, queue.store.position, head.tail):
                queue.store.apply(message.value)
                queue.store.position = message.end
            return queue.store

    def _row(self, store: StateStore, key: str) -> ExecutorCall:
        raw = store.collection(CALL).get(key)
        if not isinstance(raw, dict):
            raise UnknownExecutorCall(f"no call {key!r} in this executor's queue")
        row = ExecutorCall.model_validate(raw)
        if row.status not in DONE and key in store.collection(CANCELLED):
            row = row.model_copy(update={"status": "cancelled"})
        return row

    async def get(self, name: str, key: str) -> ExecutorCall:
        return self._row(await self._state(name), key)

    async def pending(self, name: str, *, limit: int = 100) -> list[ExecutorCall]:
        """Calls an executor may claim now, oldest first."""
        store = await self._state(name)
        rows = store.collection(CALL)
        now = time.time()
        found: list[ExecutorCall] = []
        for key in sorted(rows.keys(), key=rows.first_seen):
            row = self._row(store, key)
            if row.claimable(now):
                found.append(row)
                if len(found) >= limit:
                    break
        return found

    async def refusals(self, name: str) -> list[Refusal]:
        store = await self._state(name)
        return [Refusal.model_validate(raw) for raw in store.collection(REFUSED)]

    async def claim(
        self, name: str, key: str, holder: str, lease_seconds: float = DEFAULT_LEASE_SECONDS
    ) -> ExecutorCall:
        """Claim ``key`` for ``holder``: the call with its new generation and lease."""
        lease_seconds = _lease(lease_seconds)
        row = await self.get(name, key)
        now = time.time()
        if row.status in DONE:
            raise CallNotClaimable(f"call {key!r} is {row.status}", details={"status": row.status})
        if not row.claimable(now):
            if row.status == "claimed":
                raise CallClaimed(
                    f"call {key!r} is held by {row.holder!r} (generation {row.generation})",
                    details={"holder": row.holder, "generation": row.generation},
                )
            raise CallNotClaimable(
                f"call {key!r} waits to be retried", details={"not_before": row.not_before}
            )
        generation = row.generation + 1
        if row.status == "claimed" and row.attempt >= row.max_attempts:
            # The last allowed attempt's executor vanished: the call fails for good.
            error = f"the executor holding it stopped answering, after {row.attempt} attempts"
            ended = row.model_copy(update={"status": "failed", "generation": generation, "seq": 0})
            await self._write(name, ended.model_copy(update={"error": error}), finish=True)
            raise CallNotClaimable(f"call {key!r} failed: {error}", details={"status": "failed"})
        claimed = row.model_copy(
            update={
                "status": "claimed",
                "generation": generation,
                "seq": 0,
                "attempt": row.attempt + 1,
                "holder": holder,
                "lease_until": now + lease_seconds,
                "not_before": None,
            }
        )
        try:
            landed = await self._write(name, claimed)
        except StaleEpoch:  # cancelled (or claimed again) since we read the row
            landed = False
        if not landed:
            now_row = await self.get(name, key)
            raise CallClaimed(
                f"call {key!r} was claimed by {now_row.holder!r} first",
                details={"holder": now_row.holder, "generation": now_row.generation},
            )
        return claimed

    async def heartbeat(
        self,
        name: str,
        key: str,
        generation: int,
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
    ) -> ExecutorCall:
        lease_seconds = _lease(lease_seconds)
        return await self._advance(
            name, key, generation, "heartbeat", {"lease_until": time.time() + lease_seconds}
        )

    async def complete(self, name: str, key: str, generation: int, result: Any) -> ExecutorCall:
        return await self._advance(
            name, key, generation, "complete", {"status": "completed"}, result=result
        )

    async def fail(
        self, name: str, key: str, generation: int, error: str, *, retryable: bool = True
    ) -> ExecutorCall:
        """Record a failed attempt: retried (after the policy's backoff) while attempts
        remain and the executor says the error may pass, failed for good otherwise."""
        row = await self.get(name, key)
        if retryable and row.attempt < row.max_attempts:
            delay = row.backoff_seconds * 2 ** max(0, row.attempt - 1)
            changes: dict[str, Any] = {
                "status": "pending",
                "holder": None,
                "lease_until": None,
                "not_before": time.time() + delay,
                "error": error,
            }
            return await self._advance(name, key, generation, "fail", changes, error=error)
        return await self._advance(
            name, key, generation, "fail", {"status": "failed", "error": error}, error=error
        )

    async def _advance(
        self,
        name: str,
        key: str,
        generation: int,
        operation: str,
        changes: dict[str, Any],
        *,
        result: Any = None,
        error: str | None = None,
    ) -> ExecutorCall:
        """Write the holder's next change to the call, at its generation: refused, and the
        refusal recorded, when the claim is no longer the current one."""
        for _ in range(5):
            row = await self.get(name, key)
            reason = None
            if row.status == "cancelled":
                reason = "the run that asked for the call ended"
            elif row.generation != generation or row.status != "claimed":
                reason = f"the claim was superseded (current generation {row.generation})"
            if reason is not None:
                await self._refuse(name, row, generation, operation, reason, result, error)
                raise CallFenced(
                    f"{operation} of call {key!r} refused: {reason}",
                    details={"generation": row.generation, "status": row.status},
                )
            finish = changes.get("status") in DONE
            updated = row.model_copy(update={**changes, "seq": row.seq + 1})
            try:
                if await self._write(name, updated, finish=finish, result=result):
                    return updated
            except StaleEpoch:
                continue  # a newer claim or a cancellation landed first: judged above
        raise CallFenced(f"{operation} of call {key!r} lost every race; try again")

    async def _write(
        self, name: str, row: ExecutorCall, *, finish: bool = False, result: Any = None
    ) -> bool:
        """Append ``row`` at its generation and sequence; True if it landed (False: another
        write took that place first). A finishing write carries the entity's answer."""
        path = queue_path(name)
        event = update(CALL, row.key, row.model_dump(mode="json"))
        operations: list[batch.Operation] = [
            _append(path, event, _producer(row.key, row.generation, row.seq))
        ]
        if finish:
            answer = ToolResultRow(
                call_id=row.call_id,
                status="completed" if row.status == "completed" else "failed",
                result=result if row.status == "completed" else None,
                error=row.error if row.status != "completed" else None,
            )
            request = AppendRequest(
                Address.parse(row.entity).stream,
                JSON,
                [orjson.dumps(insert(v.TOOL_RESULT, row.call_id, answer.wire()))],
                producer=ProducerClaim(f"tool-result:{row.call_id}", 0, 0),
            )
            operations.append(batch.Append(request, optional=True))
        results = await self.storage.commit(operations)
        landed = results[0]
        return not (isinstance(landed, AppendResult) and landed.duplicate)

    async def _refuse(
        self,
        name: str,
        row: ExecutorCall,
        generation: int,
        operation: str,
        reason: str,
        result: Any,
        error: str | None,
    ) -> None:
        if operation == "heartbeat":
            return  # a lost lease's heartbeat says nothing worth keeping
        refusal = Refusal(
            key=row.key,
            generation=generation,
            holder=row.holder if row.generation == generation else None,
            operation=operation,
            reason=reason,
            result=result,
            error=error,
            at=now_timestamp(),
        )
        count = len((await self._state(name)).collection(REFUSED))
        event = insert(REFUSED, f"{row.key}:{generation}:{count}", refusal.model_dump(mode="json"))
        await self.storage.commit([_append(queue_path(name), event, None)])


def _lease(seconds: float) -> float:
    if not 0 < seconds <= MAX_LEASE_SECONDS:
        raise BadRequest(
            f"a lease is between 0 and {MAX_LEASE_SECONDS:g} seconds", code=ErrorCode.INVALID_BODY
        )
    return seconds
