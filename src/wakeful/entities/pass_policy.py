"""What a pass run outside the server may commit: the checks on a remote pass's batch.

A pass run in a web app, a function or an HTTP-only worker (``wakeful.serverless``) ends
exactly as one run here, in one commit of :mod:`wakeful.streams.batch` operations; it
sends them to the server, which applies them with the same ``Storage.commit``. The
server trusts the pass no more than the public API trusts a client, and the wake's token
is its only credential, so each operation must be one that entity's own pass could make:

- its own stream, only through the runtime's producer at the claim's generation (so a
  stale pass can never write: a newer claim's first append fences the older epoch);
- its snapshots; a shared state's stream; a message to another entity's inbox, or the
  report to its parent, each sent as that entity (``from`` / ``url`` are its own);
- a child it spawns in the same batch, whose subscription the server makes itself from
  its own definition of the child's type (a pass cannot choose where a wake goes);
- its own timers, labels and subscription links; the ack of its own wake, fenced by the
  token's claims (never by claims in the body).

A batch with no ack (a flush of an agent run) gets a heartbeat of the wake added, in the
same transaction, so a flush whose claim was taken over fails as the final commit would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..errors import ErrorCode, Forbidden, WakefulError, excerpt
from ..streams import batch
from ..streams.subscriptions.model import WakeRequest
from ..streams.subscriptions.tokens import TokenClaims
from . import vocabulary as v
from ._runtime.flushes import PRODUCER
from .addressing import SHARED_PREFIX, Address, from_subscription_id
from .definition import Registry


def _refuse(message: str) -> Forbidden:
    return Forbidden(f"a pass may not {message}", code=ErrorCode.NOT_ALLOWED)


def _entity_stream(path: str) -> Address | None:
    kind, _, rest = path.partition("/")
    entity_id, _, tail = rest.partition("/")
    if tail != "main":
        return None
    try:
        return Address(kind, entity_id)
    except WakefulError:
        return None


def _events(messages: Sequence[bytes]) -> list[dict[str, Any]]:
    found = [orjson.loads(message) for message in messages]
    return [event if isinstance(event, dict) else {} for event in found]


class PassPolicy:
    """Checks one remote pass's batch for the entity its token's claims name."""

    def __init__(self, registry: Registry, claims: TokenClaims) -> None:
        address = from_subscription_id(claims.subscription_id)
        if address is None:
            raise _refuse("act for a subscription that is no entity's")
        self.registry = registry
        self.claims = claims
        self.address = address

    def check(self, operations: Sequence[batch.Operation]) -> list[batch.Operation]:
        """The batch to commit: ``operations`` checked, the ack's claims the token's, and
        the subscriptions of spawned children the server's own (``Forbidden`` otherwise)."""
        children = self._children(operations)
        checked: list[batch.Operation] = []
        acked = False
        for operation in operations:
            match operation:
                case batch.Append(request=request):
                    self._append(request.path, request.messages, request.producer, children)
                case batch.CreateStream(request=request, labels=labels):
                    self._create(request.path, labels, children)
                case batch.SetLabels(path=path):
                    if path != self.address.stream:
                        raise _refuse(f"label another stream ({excerpt(path)})")
                case batch.ScheduleAppend(key=key, path=path, message=message):
                    self._schedule(key, path, message)
                case batch.CancelSchedule(key=key):
                    if not key.startswith(f"{self.address.url}#"):
                        raise _refuse(f"cancel another entity's timer ({excerpt(key)})")
                case batch.PutSubscription(subscription_id=sid):
                    child = from_subscription_id(sid)
                    if child is None or child not in children:
                        raise _refuse(f"subscribe anything but a child it spawns ({excerpt(sid)})")
                    subscription = self.registry.find(child.type).subscription(child)
                    operation = batch.PutSubscription(sid, subscription.spec, subscription.base_url)
                case (
                    batch.LinkStreams(subscription_id=sid)
                    | batch.UnlinkStream(subscription_id=sid)
                    | batch.DeleteSubscription(subscription_id=sid)
                ):
                    self._own_subscription(sid)
                case batch.AckWake(subscription_id=sid, request=request):
                    self._own_subscription(sid)
                    operation = batch.AckWake(sid, self.claims, request)
                    acked = True
                case batch.RecordUsage(entry=entry):
                    # Its own model calls only, under keys of its own stream: a pass cannot
                    # charge, or overwrite, another entity's usage.
                    address = self.address
                    own = (address.url, address.type)
                    if (entry.entity, entry.entity_type) != own or not entry.key.startswith(
                        f"{address.stream}#"
                    ):
                        raise _refuse(f"record another entity's usage ({excerpt(entry.key)})")
                case _:
                    raise _refuse(f"commit {type(operation).__name__}")
            checked.append(operation)
        if not acked:
            heartbeat = WakeRequest(self.claims.wake_id, self.claims.generation)
            checked.append(batch.AckWake(self.claims.subscription_id, self.claims, heartbeat))
        return checked

    def _own_subscription(self, sid: str) -> None:
        if sid != self.claims.subscription_id:
            raise _refuse(f"change another entity's subscription ({excerpt(sid)})")

    def _children(self, operations: Sequence[batch.Operation]) -> set[Address]:
        """The entities this batch creates (exclusively: a child that exists fails it)."""
        found = set()
        for operation in operations:
            if isinstance(operation, batch.CreateStream) and operation.exclusive:
                child = _entity_stream(operation.request.path)
                if child is not None:
                    found.add(child)
        return found

    def _append(
        self,
        path: str,
        messages: Sequence[bytes],
        producer: Any,
        children: set[Address],
    ) -> None:
        me = self.address
        if path == me.stream:
            if (
                producer is None
                or producer.producer_id != PRODUCER
                or producer.epoch != self.claims.generation
            ):
                raise _refuse("append to its stream but through its claim's producer")
            return
        if path == me.snapshots or path.startswith(SHARED_PREFIX):
            return
        target = _entity_stream(path)
        if target is None:
            raise _refuse(f"append to {excerpt(path)}")
        for event in _events(messages):
            self._sent_as_me(event, target)

    def _sent_as_me(self, event: dict[str, Any], target: Address) -> None:
        value = event.get("value") if isinstance(event.get("value"), dict) else {}
        assert isinstance(value, dict)
        kind = event.get("type")
        if kind == v.INBOX and value.get("from") == self.address.url:
            return
        if kind == v.CHILD_STATUS and value.get("url") == self.address.url:
            return
        raise _refuse(f"append {excerpt(str(kind))} to {target.url} but as itself")

    def _create(self, path: str, labels: Any, children: set[Address]) -> None:
        me = self.address
        if path == me.snapshots:
            return
        if path.startswith(SHARED_PREFIX) and labels.get("kind") == "shared":
            return
        child = _entity_stream(path)
        if child is not None and child in children and labels.get("type") == child.type:
            self.registry.find(child.type)  # a type the server knows (UnknownEntityType)
            return
        raise _refuse(f"create the stream {excerpt(path)}")

    def _schedule(self, key: str, path: str, message: bytes) -> None:
        me = self.address
        if path == me.stream and key.startswith(f"{me.url}#"):
            return
        target = _entity_stream(path)
        if target is not None and key.startswith("send:"):
            self._sent_as_me(_events([message])[0], target)
            return
        raise _refuse(f"schedule an append to {excerpt(path)}")
