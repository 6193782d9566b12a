"""Entity operations for clients: spawn, send, signal, inspect, list and delete.

These write to entity streams like any other writer; the runtime reacts to what lands.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from pydantic import BaseModel

from ..errors import (
    Conflict,
    EntityExists,
    EntityTerminated,
    InvalidArguments,
    MessageRejected,
    NotFound,
    UnknownEntity,
    WakefulError,
)
from ..state import StateStore
from ..streams import batch
from ..streams.model import AppendRequest, AppendResult, ProducerClaim, StreamRecord
from ..streams.offsets import format_offset
from ..streams.storage import Storage
from . import events
from . import vocabulary as v
from .addressing import Address
from .context import JSON, creation_operations
from .definition import Registry
from .forking import fork_operations, fork_point
from .loading import read_messages


@dataclass(frozen=True, slots=True)
class EntityInfo:
    url: str
    type: str
    id: str
    status: str
    parent: str | None
    tags: dict[str, str]
    stream: str
    offset: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "type": self.type,
            "id": self.id,
            "status": self.status,
            "parent": self.parent,
            "tags": self.tags,
            "stream": self.stream,
            "offset": self.offset,
        }


def _info(address: Address, stream: StreamRecord, labels: Mapping[str, str]) -> EntityInfo:
    return EntityInfo(
        url=address.url,
        type=address.type,
        id=address.id,
        status=labels.get("status", v.IDLE),
        parent=labels.get("parent"),
        tags={name[4:]: value for name, value in labels.items() if name.startswith("tag:")},
        stream=address.stream,
        offset=format_offset(stream.tail),
    )


class EntityService:
    def __init__(self, storage: Storage, registry: Registry) -> None:
        self.storage = storage
        self.registry = registry

    async def spawn(
        self,
        type_name: str,
        entity_id: str | None = None,
        *,
        args: Any = None,
        message: Any = None,
        tags: Mapping[str, str] | None = None,
        owner: str | None = None,
    ) -> EntityInfo:
        """``owner``: the principal that spawns it, recorded for the access policy."""
        definition = await self.registry.resolve(type_name)
        address = Address(type_name, entity_id or events.new_id())
        validated = definition.validate_args(args)
        if message is not None:
            definition.validate_message(message)
        for name, value in (tags or {}).items():
            if not isinstance(name, str) or not isinstance(value, str) or not name:
                raise InvalidArguments("tags must map non-empty names to strings")
        dumped = (
            validated.model_dump(mode="json") if isinstance(validated, BaseModel) else validated
        )
        operations = creation_operations(
            address,
            args=dumped,
            parent=None,
            tags=dict(tags or {}),
            message=message,
            subscription=definition.subscription(address),
            owner=owner,
        )
        try:
            await self.storage.commit(operations)
        except Conflict as exc:
            raise EntityExists(f"entity {address.url} already exists") from exc
        return await self.get(address.url)

    async def fork(
        self,
        url: str,
        entity_id: str | None = None,
        *,
        at: str | None = None,
        owner: str | None = None,
    ) -> EntityInfo:
        """A new entity of the same type whose stream forks ``url``'s at the end of run
        ``at`` (or its last completed run): see :mod:`wakeful.entities.forking`."""
        source, _, _ = await self._live(url)
        definition = await self.registry.resolve(source.type)
        target = Address(source.type, entity_id or events.new_id())
        point = await fork_point(self.storage, source, at)
        operations = fork_operations(
            source, target, point, definition.subscription(target), owner=owner
        )
        try:
            await self.storage.commit(operations)
        except Conflict as exc:
            raise EntityExists(f"entity {target.url} already exists") from exc
        return await self.get(target.url)

    async def _live(self, url: str) -> tuple[Address, StreamRecord, dict[str, str]]:
        address = Address.parse(url)
        try:
            stream = await self.storage.head(address.stream)
        except WakefulError as exc:
            raise UnknownEntity(f"entity {address.url} does not exist") from exc
        labels = await self.storage.labels(address.stream)
        if labels.get("kind") != "entity":
            raise UnknownEntity(f"entity {address.url} does not exist")
        return address, stream, labels

    async def get(self, url: str) -> EntityInfo:
        address, stream, labels = await self._live(url)
        return _info(address, stream, labels)

    async def send(
        self,
        url: str,
        payload: Any,
        *,
        sender: str | None = None,
        request_id: str | None = None,
        in_reply_to: str | None = None,
        principal: str | None = None,
    ) -> str:
        """Append a message to the entity's inbox. ``in_reply_to`` answers a request the
        entity sent (``ctx.request``), waking it with the reply; ``request_id`` asks the
        entity for an answer, which goes to ``sender`` (an entity URL). ``principal``: who
        sends it, as the server authenticated them (charged for the run it starts)."""
        key, _ = await self._deliver(url, payload, sender, None, request_id, in_reply_to, principal)
        return key

    async def send_once(
        self,
        url: str,
        payload: Any,
        message_id: str,
        *,
        sender: str | None = None,
        principal: str | None = None,
    ) -> bool:
        """Send a message under the sender's own id, once: False (nothing appended) when a
        message with that id was sent before. Front ends post a conversation's history
        again on every turn; the database, not a read before the write, tells a new
        message from a repeated one, so two racing posts of one message append it once."""
        _, appended = await self._deliver(url, payload, sender, message_id, principal=principal)
        return appended

    async def _deliver(
        self,
        url: str,
        payload: Any,
        sender: str | None,
        message_id: str | None,
        request_id: str | None = None,
        in_reply_to: str | None = None,
        principal: str | None = None,
    ) -> tuple[str, bool]:
        address, _, labels = await self._live(url)
        if labels.get("status") in v.TERMINAL:
            raise EntityTerminated(f"entity {address.url} is {labels['status']}")
        if request_id is not None and in_reply_to is not None:
            raise InvalidArguments("a message is a request or a reply, not both")
        if request_id is not None and not (sender or "").startswith("/"):
            raise InvalidArguments("a request needs a sender entity URL (from) to reply to")
        definition = await self.registry.resolve(address.type)
        if in_reply_to is None:  # a reply answers the entity's own question: not its inbox
            definition.validate_message(payload)
        if getattr(definition, "on_message", "queue") == "reject" and await self._busy(address):
            raise MessageRejected(
                f"entity {address.url} is in a run and refuses messages until it ends"
            )
        event = events.inbox(
            payload,
            sender,
            message_id,
            request_id=request_id,
            in_reply_to=in_reply_to,
            principal=principal,
        )
        producer = ProducerClaim(f"inbox:{message_id}", 0, 0) if message_id else None
        request = AppendRequest(address.stream, JSON, [orjson.dumps(event)], producer=producer)
        (result,) = await self.storage.commit([batch.Append(request)])
        duplicate = isinstance(result, AppendResult) and result.duplicate
        return str(event["key"]), not duplicate

    async def _busy(self, address: Address) -> bool:
        """A pass of the entity holds its claim now (its lease has not run out).

        Read before the append, not in its transaction: a message that arrives as a pass
        is claimed may still be queued for the next pass rather than refused."""
        try:
            row = await self.storage.subscriptions.get(address.subscription_id)
        except NotFound:
            return False
        expires = row.lease_expires_at
        return row.holder is not None and expires is not None and expires > time.time()

    async def signal(self, url: str, name: str, payload: Any = None) -> str:
        address, _, labels = await self._live(url)
        if not name or len(name) > 100:
            raise InvalidArguments("a signal needs a name of 1-100 characters")
        if labels.get("status") in v.TERMINAL:
            raise EntityTerminated(f"entity {address.url} is {labels['status']}")
        event = events.signal(name, payload)
        await self._append(address, event)
        return str(event["key"])

    async def _append(self, address: Address, event: dict[str, Any]) -> None:
        request = AppendRequest(address.stream, JSON, [orjson.dumps(event)])
        await self.storage.commit([batch.Append(request)])

    async def delete(self, url: str, *, if_tail: int | None = None) -> None:
        """Erase the entity: its streams, subscription and schedules. With ``if_tail``,
        only if nothing was appended to its stream since it was at that tail (409 else)."""
        address, stream, _ = await self._live(url)
        operations: list[batch.Operation] = [
            batch.DeleteStream(address.stream, if_tail=if_tail),
            batch.DeleteStream(address.snapshots, missing_ok=True),
            *[batch.CancelSchedule(key) for key in await self._schedules(address, stream)],
        ]
        try:
            await self.storage.subscriptions.get(address.subscription_id)
            operations.insert(0, batch.DeleteSubscription(address.subscription_id))
        except NotFound:
            pass
        await self.storage.commit(operations)

    async def _schedules(self, address: Address, stream: StreamRecord) -> list[str]:
        """Keys of the entity's own timers, crons, timeouts and debounces, so that deleting it
        cancels them (otherwise they fire into a later entity with the same id)."""
        manifest = StateStore()
        async for message in read_messages(self.storage, address.stream, 0, stream.tail):
            if isinstance(message.value, dict) and message.value.get("type") == v.MANIFEST:
                manifest.apply(message.value)
        keys = []
        for key, _ in manifest.collection(v.MANIFEST).items():
            kind, _, rest = key.partition(":")
            if kind in ("timer", "cron", "request"):
                keys.append(f"{address.url}#{key}")
            elif kind == "observe":
                keys += [f"{address.url}#timeout:{rest}", f"{address.url}#debounce:{rest}"]
        return keys

    async def list(
        self,
        *,
        type_name: str | None = None,
        status: str | None = None,
        parent: str | None = None,
        tag: tuple[str, str] | None = None,
        owner: str | None = None,
        after: str = "",
        limit: int = 100,
    ) -> list[EntityInfo]:
        labels = {"kind": "entity"}
        if owner is not None:
            labels["owner"] = owner
        if type_name is not None:
            labels["type"] = type_name
        if status is not None:
            labels["status"] = status
        if parent is not None:
            labels["parent"] = parent
        if tag is not None:
            labels[f"tag:{tag[0]}"] = tag[1]
        prefix = f"{type_name}/" if type_name else ""
        after_path = Address.parse(after).stream if after else ""
        found = await self.storage.find_streams(
            labels, prefix=prefix, after=after_path, limit=limit
        )
        result = []
        for stream, stream_labels in found:
            address = Address.parse("/".join(stream.path.split("/")[:2]))
            result.append(_info(address, stream, stream_labels))
        return result
