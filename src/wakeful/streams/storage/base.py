"""The storage interface every backend implements.

Backends own transactions: each method is one atomic unit, and the protocol decisions
inside it come from :mod:`wakeful.streams.rules` so that backends agree. After a commit a
backend publishes the ids of changed streams to :attr:`Storage.hub`, which wakes live
readers in this process (a shared-database backend also relays changes from others).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence

from ..batch import Operation
from ..hub import ChangeHub
from ..model import (
    AppendRequest,
    AppendResult,
    CreateRequest,
    CreateResult,
    ReadResult,
    StreamRecord,
)
from ..subscriptions.store import SubscriptionStore
from ..usage import UsageQuery, UsageTotal

DEFAULT_CHUNK_BYTES = 1 << 20


class Storage(ABC):
    """Durable streams: create, append, read, delete, and stream metadata."""

    subscriptions: SubscriptionStore
    # True when commits apply in the order ``commit`` is first awaited (one writer with a
    # queue), so a caller may start the next commit before the previous one returns.
    commits_in_order: bool = False

    def __init__(self) -> None:
        self.hub = ChangeHub()
        # Called after a commit that scheduled an append, to wake the scheduler early.
        self.on_schedule: Callable[[], None] = lambda: None

    @abstractmethod
    async def start(self) -> None:
        """Open connections and apply schema migrations."""

    @abstractmethod
    async def stop(self) -> None:
        """Flush pending writes and close connections."""

    @abstractmethod
    async def create(self, request: CreateRequest) -> CreateResult:
        """Create a stream (or a fork), or confirm an identical existing one."""

    @abstractmethod
    async def append(self, request: AppendRequest) -> AppendResult:
        """Append messages and/or close, with producer and sequence checks."""

    @abstractmethod
    async def delete(self, path: str) -> None:
        """Delete a stream; one with live forks is soft-deleted until they are gone."""

    @abstractmethod
    async def head(self, path: str) -> StreamRecord:
        """A stream's metadata, without refreshing its TTL."""

    @abstractmethod
    async def read(
        self, path: str, position: int | None, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        """Messages from ``position`` (None: the tail; ``EARLIEST``: the earliest retained
        message), up to about ``max_bytes``; ``OffsetGone`` for a position trimmed away."""

    @abstractmethod
    async def trim(
        self, path: str, *, before: int | None = None, keep_last: int | None = None
    ) -> int:
        """Drop the stream's messages before ``before`` and/or all but its last
        ``keep_last`` (counting the messages it stores, not those a fork inherits);
        returns the new retained position.

        A trim removes whole messages only (the position is rounded down to a message
        boundary) and never what a live fork still reads (it stops at the lowest position
        a fork reads from); reads before the retained position then get ``OffsetGone``."""

    @abstractmethod
    async def lookup_live(self, stream_id: int) -> StreamRecord | None:
        """The stream's current record by id, or None once it is gone (for live readers)."""

    @abstractmethod
    async def read_from(
        self, stream: StreamRecord, position: int, max_bytes: int = DEFAULT_CHUNK_BYTES
    ) -> ReadResult:
        """Like :meth:`read` for an already resolved stream, without touching its TTL."""

    @abstractmethod
    async def list_paths(self, prefix: str = "", limit: int = 1000) -> list[str]:
        """Paths of live streams, in order."""

    @abstractmethod
    async def expire(self) -> int:
        """Remove streams past their TTL or expiry time; returns how many."""

    @abstractmethod
    async def commit(self, operations: Sequence[Operation]) -> list[object]:
        """Apply operations in one transaction, all or none; one result per operation."""

    @abstractmethod
    async def labels(self, path: str) -> dict[str, str]:
        """A stream's labels (empty for an unknown stream)."""

    @abstractmethod
    async def find_streams(
        self,
        labels: Mapping[str, str],
        *,
        prefix: str = "",
        after: str = "",
        limit: int = 100,
    ) -> list[tuple[StreamRecord, dict[str, str]]]:
        """Live streams carrying all ``labels``, ordered by path, starting after ``after``."""

    @abstractmethod
    async def fire_due_schedules(self, now: float, limit: int = 100) -> int:
        """Append every scheduled message that is due; returns how many fired."""

    @abstractmethod
    async def next_schedule(self) -> float | None:
        """When the earliest scheduled append is due."""

    @abstractmethod
    async def usage_totals(self, query: UsageQuery) -> list[UsageTotal]:
        """The usage index added up (:mod:`wakeful.streams.usage`): one total per group,
        in group order; without grouping, one total (of nothing, if nothing matched)."""
