"""How an entity's wakes reach its handler.

Every entity is a subscription over its own stream. A type defined in Python is run by
this runtime's workers, so its wakes are announced on the wake stream (pull-wake); a type
registered over HTTP is run by an outside service, so its wakes are signed webhooks that
the service acknowledges through a callback on this server.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..streams.subscriptions.model import SubscriptionSpec, WebhookConfig
from .addressing import WAKE_STREAM, Address


@dataclass(frozen=True, slots=True)
class EntitySubscription:
    spec: SubscriptionSpec
    # The streams root that webhook callbacks go to; pull-wake wakes need none.
    base_url: str = ""


def pull_wake(address: Address, lease_seconds: float) -> EntitySubscription:
    spec = SubscriptionSpec(
        type="pull-wake",
        streams=[address.stream],
        wake_stream=WAKE_STREAM,
        lease_ttl_ms=round(lease_seconds * 1000),
    )
    return EntitySubscription(spec)


def webhook(
    address: Address,
    url: str,
    callback_root: str,
    lease_seconds: float,
    timeout_seconds: float | None = None,
) -> EntitySubscription:
    timeout_ms = round(timeout_seconds * 1000) if timeout_seconds is not None else None
    spec = SubscriptionSpec(
        type="webhook",
        streams=[address.stream],
        webhook=WebhookConfig(url=url, timeout_ms=timeout_ms),
        lease_ttl_ms=round(lease_seconds * 1000),
    )
    return EntitySubscription(spec, callback_root)
