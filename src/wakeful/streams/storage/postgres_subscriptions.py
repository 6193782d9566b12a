"""Subscriptions on the PostgreSQL backend: not yet, and said so clearly.

Until subscription leases and wakes move into the database for this backend, every
subscription request gets 501 with a message, and the webhook dispatcher finds nothing
to do. Server settings (the signing key, the token secret) are real already: they live
in the ``settings`` table so every process of a deployment signs and verifies alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

from ..errors import StreamError
from ..subscriptions.model import SubscriptionRow, SubscriptionSpec, WakeRequest
from ..subscriptions.store import SubscriptionStore
from ..subscriptions.tokens import TokenClaims

if TYPE_CHECKING:
    from .postgres import PostgresStorage


class NotAvailable(StreamError):
    status = 501
    code = "NOT_IMPLEMENTED"


def refuse() -> NoReturn:
    raise NotAvailable("subscriptions are not available on the PostgreSQL backend yet")


class PostgresSubscriptionStore(SubscriptionStore):
    def __init__(self, storage: PostgresStorage) -> None:
        self._storage = storage

    async def put(
        self, subscription_id: str, spec: SubscriptionSpec, base_url: str
    ) -> tuple[SubscriptionRow, bool]:
        refuse()

    async def get(self, subscription_id: str) -> SubscriptionRow:
        refuse()

    async def delete(self, subscription_id: str) -> None:
        refuse()

    async def add_streams(self, subscription_id: str, paths: list[str]) -> None:
        refuse()

    async def remove_stream(self, subscription_id: str, path: str) -> None:
        refuse()

    async def claim(self, subscription_id: str, worker: str) -> SubscriptionRow:
        refuse()

    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        refuse()

    async def release(
        self, subscription_id: str, claims: TokenClaims, request: WakeRequest
    ) -> None:
        refuse()

    async def take_due_deliveries(self, now: float, limit: int = 32) -> list[SubscriptionRow]:
        return []

    async def delivery_succeeded(self, row: SubscriptionRow, done: bool) -> None:
        refuse()

    async def delivery_failed(self, row: SubscriptionRow, error: str) -> None:
        refuse()

    async def expire_leases(self, now: float) -> int:
        return 0

    async def next_deadline(self) -> float | None:
        return None

    async def outstanding_wakes(self, limit: int = 1000) -> list[str]:
        return []

    async def setting(self, key: str, create: Callable[[], bytes]) -> bytes:
        return await self._storage.setting(key, create)
