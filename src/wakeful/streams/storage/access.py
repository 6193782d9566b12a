"""What a handler pass needs of storage, and nothing more: :class:`PassStorage`.

A pass reads streams (head, messages, the snapshot label), commits batches and
heartbeats its wake. Every :class:`~.base.Storage` does all of that against its database;
an HTTP client of the server does it too (``wakeful.serverless``), so the same pass runs
in a process that never touches the database. Kept a protocol, not a base class, so the
database backends need not know it exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from ..batch import Operation
from ..hub import ChangeHub
from ..model import ReadResult, StreamRecord
from ..subscriptions.model import WakeRequest
from ..subscriptions.tokens import TokenClaims


class Heartbeats(Protocol):
    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        """Heartbeat (or ack) the wake ``claims`` name; raises if it is no longer theirs."""
        ...


class PassStorage(Protocol):
    @property
    def hub(self) -> ChangeHub:
        """Announces changes to streams this process follows."""
        ...

    @property
    def commits_in_order(self) -> bool: ...

    @property
    def subscriptions(self) -> Heartbeats: ...

    async def head(self, path: str) -> StreamRecord: ...

    async def read_from(
        self, stream: StreamRecord, position: int, max_bytes: int = ...
    ) -> ReadResult: ...

    async def labels(self, path: str) -> dict[str, str]: ...

    async def commit(self, operations: Sequence[Operation]) -> list[object]: ...
