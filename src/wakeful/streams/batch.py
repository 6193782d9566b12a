"""Operations that commit together: one transaction, all of them or none.

The entity runtime commits a handler pass as one batch: the entity's own events (through
its fenced producer), messages to other entities, child streams, labels, timers and the
acknowledgement of the inputs it consumed. If any operation fails (a stale producer epoch,
a fenced wake), nothing of the pass lands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .model import AppendRequest, CreateRequest
from .subscriptions.model import SubscriptionSpec, WakeRequest
from .subscriptions.tokens import TokenClaims


@dataclass(frozen=True, slots=True)
class CreateStream:
    """Create a stream (or accept an identical existing one), with optional labels."""

    request: CreateRequest
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Append:
    request: AppendRequest


@dataclass(frozen=True, slots=True)
class SetLabels:
    """Set (or, with None, remove) labels of a stream: indexed metadata for listing."""

    path: str
    labels: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class ScheduleAppend:
    """Append ``message`` to ``path`` at ``due_at`` (replacing any schedule with ``key``)."""

    key: str
    path: str
    message: bytes
    due_at: float


@dataclass(frozen=True, slots=True)
class CancelSchedule:
    key: str


@dataclass(frozen=True, slots=True)
class PutSubscription:
    subscription_id: str
    spec: SubscriptionSpec
    base_url: str


@dataclass(frozen=True, slots=True)
class LinkStreams:
    subscription_id: str
    paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UnlinkStream:
    subscription_id: str
    path: str


@dataclass(frozen=True, slots=True)
class DeleteSubscription:
    subscription_id: str


@dataclass(frozen=True, slots=True)
class AckWake:
    """Acknowledge inputs of the current wake, fenced by its token claims."""

    subscription_id: str
    claims: TokenClaims
    request: WakeRequest


Operation = (
    CreateStream
    | Append
    | SetLabels
    | ScheduleAppend
    | CancelSchedule
    | PutSubscription
    | LinkStreams
    | UnlinkStream
    | DeleteSubscription
    | AckWake
)
