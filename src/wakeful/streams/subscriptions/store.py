"""The interface a storage backend offers for subscriptions.

Every method is one transaction. Backends load rows, apply :mod:`.engine`, and store the
result; pull-wake events are appended to the wake stream in that same transaction.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from .model import SubscriptionRow, SubscriptionSpec, WakeRequest
from .tokens import TokenClaims


class SubscriptionStore(ABC):
    # Called after a commit that made a webhook delivery due, to wake the dispatcher.
    on_wake: Callable[[], None] = staticmethod(lambda: None)

    @abstractmethod
    async def put(
        self, subscription_id: str, spec: SubscriptionSpec, base_url: str
    ) -> tuple[SubscriptionRow, bool]:
        """Create (True) or re-confirm an identical subscription (False); 409 otherwise."""

    @abstractmethod
    async def get(self, subscription_id: str) -> SubscriptionRow:
        """The subscription with its links, or 404."""

    @abstractmethod
    async def delete(self, subscription_id: str) -> None:
        """Remove it; later callbacks, acks and releases for it fail."""

    @abstractmethod
    async def add_streams(self, subscription_id: str, paths: list[str]) -> None:
        """Link streams explicitly at their current tails (idempotent)."""

    @abstractmethod
    async def remove_stream(self, subscription_id: str, path: str) -> None:
        """Drop an explicit link; a glob link for the same stream stays."""

    @abstractmethod
    async def claim(self, subscription_id: str, worker: str) -> SubscriptionRow:
        """Take the lease of the current (or a new) pull-wake wake for ``worker``."""

    @abstractmethod
    async def ack(self, subscription_id: str, claims: TokenClaims, request: WakeRequest) -> bool:
        """Apply acks for the current wake (heartbeat, or end it with ``done``).

        Returns whether a next wake was started."""

    @abstractmethod
    async def release(
        self, subscription_id: str, claims: TokenClaims, request: WakeRequest
    ) -> None:
        """End the current wake without acking; pending work gets a new wake."""

    @abstractmethod
    async def take_due_deliveries(self, now: float, limit: int = 32) -> list[SubscriptionRow]:
        """Webhook wakes due for (re)delivery, marked in flight so no one else sends them."""

    @abstractmethod
    async def delivery_succeeded(self, row: SubscriptionRow, done: bool) -> None:
        """A webhook answered 2xx; with ``done`` its snapshot is acked and the wake ends."""

    @abstractmethod
    async def delivery_failed(self, row: SubscriptionRow, error: str) -> None:
        """A webhook delivery failed; schedule the retry (persisted)."""

    @abstractmethod
    async def expire_leases(self, now: float) -> int:
        """End wakes whose lease ran out, re-waking those with pending work."""

    @abstractmethod
    async def next_deadline(self) -> float | None:
        """The earliest moment a delivery is due or a lease runs out."""

    @abstractmethod
    async def outstanding_wakes(self, limit: int = 1000) -> list[str]:
        """Pull-wake subscriptions with a wake announced but not claimed (for restarts)."""

    @abstractmethod
    async def setting(self, key: str, create: Callable[[], bytes]) -> bytes:
        """A persistent server secret, created once (atomically) on first use."""
