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
from .subscriptions.model import Ack, SubscriptionSpec, WakeRequest
from .subscriptions.tokens import TokenClaims
from .usage import UsageEntry


@dataclass(frozen=True, slots=True)
class CreateStream:
    """Create a stream (or accept an identical existing one), with optional labels."""

    request: CreateRequest
    labels: Mapping[str, str] = field(default_factory=dict)
    exclusive: bool = False  # fail with 409 if the stream already exists


@dataclass(frozen=True, slots=True)
class Append:
    request: AppendRequest
    optional: bool = False  # skip (instead of failing) when the stream is gone or closed


@dataclass(frozen=True, slots=True)
class DeleteStream:
    path: str
    missing_ok: bool = False
    # Delete only if the stream's tail is still this (409 otherwise): nothing was appended
    # since the caller looked, so nothing it did not see goes with the stream.
    if_tail: int | None = None


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


@dataclass(frozen=True, slots=True)
class RecordUsage:
    """Index one model call's usage (see :mod:`wakeful.streams.usage`), in the same
    transaction as the append that records the call; recording it again changes nothing."""

    entry: UsageEntry


def extend_acks(ack: AckWake, appended: Mapping[str, tuple[int, int]]) -> AckWake:
    """Acking the position where this batch's own append began also covers that append.

    A handler pass acks its inputs up to the tail it read; its own events then start at
    exactly that position. Covering them keeps the pass from waking itself, while anything
    another writer appended in between still counts as pending work."""
    acks = tuple(
        Ack(item.stream, appended[item.stream][1])
        if item.stream in appended and appended[item.stream][0] == item.position
        else item
        for item in ack.request.acks
    )
    request = WakeRequest(ack.request.wake_id, ack.request.generation, acks, ack.request.done)
    return AckWake(ack.subscription_id, ack.claims, request)


Operation = (
    CreateStream
    | Append
    | DeleteStream
    | SetLabels
    | ScheduleAppend
    | CancelSchedule
    | PutSubscription
    | LinkStreams
    | UnlinkStream
    | DeleteSubscription
    | AckWake
    | RecordUsage
)
