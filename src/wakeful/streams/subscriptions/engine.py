"""The wake / lease state machine of one subscription, as functions on its stored row.

Backends load a :class:`SubscriptionRow` inside a transaction, call these, and store the
result, so every backend fences, leases and retries identically.

* idle: no ``wake_id``. Pending work (a linked stream's tail past its acked offset)
  starts a wake: a new ``generation`` and ``wake_id``.
* webhook: a started wake is due for delivery at once and holds a lease from then;
  failed deliveries are retried with backoff; ``done`` (in the response or a callback)
  acks and ends the wake. A wake is never out twice at once: sending it again (after a
  failed or timed-out request, or a sender that died) takes a new generation, which
  fences the earlier delivery's acks and, through its producer, its appends.
* pull-wake: a started wake is announced on the wake stream; a worker claims it (which
  starts the lease), heartbeats with acks, and ends it with ``done`` or a release.
* a lease that runs out ends the wake; pending work then starts the next one.
"""

from __future__ import annotations

import random
import secrets

from ...errors import AlreadyClaimed, Conflict, ErrorCode, Fenced, NoPendingWork, NotFound, excerpt
from .model import Ack, Link, SubscriptionRow, WakeRequest
from .tokens import TokenClaims

MAX_RETRY_SECONDS = 60.0
# The holder of a webhook wake once it has been sent: a later send is a redelivery.
DELIVERED = "webhook"
# A request in flight is not sent again by anyone until its timeout and this much more
# have passed (then its sender is taken to have died).
IN_FLIGHT_MARGIN_SECONDS = 5.0


def fenced(message: str = "this wake is no longer current") -> Fenced:
    return Fenced(message)


def has_pending(links: list[Link]) -> bool:
    return any(link.pending for link in links)


def start_wake(row: SubscriptionRow, now: float) -> None:
    row.generation += 1
    row.wake_id = "w_" + secrets.token_hex(12)
    row.holder = None
    if row.spec.type == "webhook":
        row.lease_expires_at = now + row.lease_seconds
        if row.attempts == 0 or row.next_attempt_at is None:
            row.next_attempt_at = now
    else:
        row.lease_expires_at = None
        row.next_attempt_at = None


def end_wake(row: SubscriptionRow) -> None:
    row.wake_id = None
    row.holder = None
    row.lease_expires_at = None
    row.next_attempt_at = None
    row.attempts = 0
    row.last_error = None


def wake_if_pending(row: SubscriptionRow, now: float) -> bool:
    """Start a wake if the subscription is idle and has work; True if it did."""
    if row.wake_id is None and has_pending(row.links):
        start_wake(row, now)
        return True
    return False


def check_current(row: SubscriptionRow, claims: TokenClaims, request: WakeRequest) -> None:
    """Refuse a request for any wake but the current one (409 FENCED)."""
    current = row.wake_id
    if (
        current is None
        or claims.generation != row.generation
        or request.generation != row.generation
        or claims.wake_id != current
        or request.wake_id != current
    ):
        raise fenced()
    if row.spec.type == "pull-wake" and row.holder is None:
        raise fenced("this wake is not claimed")


def apply_acks(row: SubscriptionRow, acks: tuple[Ack, ...]) -> list[Link]:
    """Advance cursors (never backwards); returns the changed links.

    An ack past a stream's tail is refused, not clamped: it names data nobody has read,
    so the worker sending it has confused its offsets, and accepting it would hide that."""
    by_path = {link.path: link for link in row.links}
    for ack in acks:
        link = by_path.get(ack.stream)
        if link is None:
            raise NotFound(f"stream {excerpt(ack.stream)} is not linked to this subscription")
        if link.exists and ack.position > link.tail:
            raise Conflict(
                f"ack offset for {excerpt(ack.stream)} is past the stream's tail",
                code=ErrorCode.ACK_PAST_TAIL,
            )
    changed = []
    for ack in acks:
        link = by_path[ack.stream]
        position = min(ack.position, link.tail)
        if position > link.acked:
            link.acked = position
            changed.append(link)
    return changed


def claim(row: SubscriptionRow, worker: str, now: float) -> None:
    if row.holder is not None:
        raise AlreadyClaimed(
            f"subscription is claimed by {row.holder}",
            details={"current_holder": row.holder, "generation": row.generation},
        )
    if row.wake_id is None and not wake_if_pending(row, now):
        raise NoPendingWork("nothing to claim: no pending work")
    row.holder = worker
    row.lease_expires_at = now + row.lease_seconds


def heartbeat(row: SubscriptionRow, now: float) -> None:
    row.lease_expires_at = now + row.lease_seconds


def request_timeout(row: SubscriptionRow) -> float:
    """How long one webhook request may run: the subscription's own timeout, else the
    lease (a request-bound handler has the whole lease, as a claimed one would)."""
    webhook = row.spec.webhook
    if webhook is not None and webhook.timeout_ms is not None:
        return webhook.timeout_ms / 1000
    return row.lease_seconds


def take_delivery(row: SubscriptionRow, now: float) -> None:
    """Mark a due webhook wake as sent, with a fresh lease; a wake sent before goes out
    as a new generation and wake id. The backend then fences the subscription's producer
    at this generation on the linked streams, in the same step, so whatever an older
    delivery still appends through it is refused (403 stale epoch)."""
    if row.holder is not None:
        row.generation += 1
        row.wake_id = "w_" + secrets.token_hex(12)
    row.holder = DELIVERED
    row.lease_expires_at = now + row.lease_seconds
    row.next_attempt_at = now + request_timeout(row) + IN_FLIGHT_MARGIN_SECONDS


def delivery_failed(row: SubscriptionRow, error: str, now: float) -> None:
    row.attempts += 1
    row.last_error = error[:500]
    delay = min(MAX_RETRY_SECONDS, 2.0 ** (row.attempts - 1))
    row.next_attempt_at = now + delay * random.uniform(0.8, 1.2)


def lease_expired(row: SubscriptionRow, now: float) -> bool:
    return row.lease_expires_at is not None and row.lease_expires_at <= now


def expire_lease(row: SubscriptionRow, now: float) -> bool:
    """End a wake whose lease ran out; start the next if work remains. True if a new wake."""
    attempts, next_attempt, error = row.attempts, row.next_attempt_at, row.last_error
    end_wake(row)
    if row.spec.type == "webhook" and attempts:
        # Keep the retry schedule: a failing endpoint is not hammered on every new lease.
        row.attempts, row.next_attempt_at, row.last_error = attempts, next_attempt, error
    return wake_if_pending(row, now)
