"""A wake as the server hands it out: from a pull-wake claim or a webhook's body.

Both carry the same things: the subscription, the wake and its generation, the callback
token, and each linked stream's acked and tail offsets. :class:`ClaimedWake` reads either
into the :class:`~wakeful.streams.subscriptions.model.SubscriptionRow` a pass runs on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..entities.addressing import WAKE_STREAM, Address, from_subscription_id
from ..errors import BadRequest, ErrorCode
from ..streams.offsets import parse_offset
from ..streams.subscriptions.model import DEFAULT_LEASE_MS, Link, SubscriptionRow, SubscriptionSpec


@dataclass(frozen=True, slots=True)
class ClaimedWake:
    subscription_id: str
    wake_id: str
    generation: int
    token: str
    links: tuple[Link, ...]
    lease_ms: int = DEFAULT_LEASE_MS

    @property
    def address(self) -> Address | None:
        """The entity the wake is for (None for a subscription that is no entity's)."""
        return from_subscription_id(self.subscription_id)

    @classmethod
    def parse(cls, subscription_id: str, body: Any, *, token_field: str = "token") -> ClaimedWake:
        """A claim's answer, or (``token_field="callback_token"``) a webhook's body."""
        if not isinstance(body, dict):
            raise BadRequest("a wake is a JSON object", code=ErrorCode.INVALID_BODY)
        wake_id, generation, token = (
            body.get("wake_id"),
            body.get("generation"),
            body.get(token_field),
        )
        streams = body.get("streams")
        if (
            not isinstance(wake_id, str)
            or not isinstance(generation, int)
            or not isinstance(token, str)
            or not isinstance(streams, list)
        ):
            raise BadRequest(
                "a wake needs wake_id, generation, a token and streams",
                code=ErrorCode.INVALID_BODY,
            )
        links = []
        for item in streams:
            if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                raise BadRequest("each stream of a wake has a path", code=ErrorCode.INVALID_BODY)
            explicit = item.get("link_type", "explicit") == "explicit"
            links.append(
                Link(
                    item["path"],
                    explicit,
                    not explicit,
                    parse_offset(str(item.get("acked_offset"))),
                    parse_offset(str(item.get("tail_offset"))),
                )
            )
        lease = body.get("lease_ttl_ms")
        lease_ms = lease if isinstance(lease, int) and lease > 0 else DEFAULT_LEASE_MS
        return cls(subscription_id, wake_id, generation, token, tuple(links), lease_ms)

    def row(self) -> SubscriptionRow:
        """The subscription as the pass reads it: its id, wake, generation, links, lease."""
        address = self.address
        streams = [address.stream] if address is not None else []
        spec = SubscriptionSpec(
            type="pull-wake", streams=streams, wake_stream=WAKE_STREAM, lease_ttl_ms=self.lease_ms
        )
        return SubscriptionRow(
            id=self.subscription_id,
            spec=spec,
            config_hash="",
            base_url="",
            created_at=0.0,
            generation=self.generation,
            wake_id=self.wake_id,
            links=list(self.links),
        )
