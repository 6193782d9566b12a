"""Plain data the client returns: entity types, entities, threads and the events of an
entity's stream.

They are frozen dataclasses built from the server's JSON, so callers get attribute access
and type checking without depending on the server's Pydantic models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class EntityType:
    """An entity type the server knows: ``kind`` is ``local`` (defined in Python by the
    server's code) or ``remote`` (run by the webhook service at ``webhook_url``).

    ``state`` maps the type's collections to their JSON schemas; ``args_schema`` and
    ``inbox_schema`` are the JSON Schemas spawn arguments and messages must satisfy (``None``
    when anything goes). ``lease_seconds`` is how long a remote service has to ack a wake;
    ``request_timeout_seconds`` how long one wake request may run (``None``: the lease).
    """

    name: str
    kind: str
    description: str
    state: dict[str, Any]
    args_schema: dict[str, Any] | None
    inbox_schema: dict[str, Any] | None
    webhook_url: str | None = None
    lease_seconds: float | None = None
    request_timeout_seconds: float | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EntityType:
        """Build from the API's type object."""
        webhook = data.get("webhook")
        lease = data.get("lease_seconds")
        timeout = data.get("request_timeout_seconds")
        return cls(
            name=str(data["name"]),
            kind=str(data.get("kind") or "local"),
            description=str(data.get("description") or ""),
            state=dict(data.get("state") or {}),
            args_schema=data.get("args_schema"),
            inbox_schema=data.get("inbox_schema"),
            webhook_url=str(webhook["url"]) if isinstance(webhook, dict) else None,
            lease_seconds=float(lease) if lease is not None else None,
            request_timeout_seconds=float(timeout) if timeout is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity as the server last reported it; ``offset`` is its stream's tail then."""

    url: str
    type: str
    id: str
    status: str
    parent: str | None
    tags: dict[str, str]
    stream: str
    offset: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Entity:
        """Build from the API's entity object."""
        return cls(
            url=str(data["url"]),
            type=str(data["type"]),
            id=str(data["id"]),
            status=str(data["status"]),
            parent=data.get("parent"),
            tags=dict(data.get("tags") or {}),
            stream=str(data["stream"]),
            offset=str(data["offset"]),
        )


@dataclass(frozen=True, slots=True)
class Thread:
    """A chat thread; ``status`` is streaming, awaiting_tool_results, completed, failed or
    stopped."""

    id: str
    url: str
    status: str
    title: str | None
    metadata: dict[str, Any]
    stream: str
    offset: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Thread:
        """Build from the API's thread object."""
        return cls(
            id=str(data["id"]),
            url=str(data["url"]),
            status=str(data["status"]),
            title=data.get("title"),
            metadata=dict(data.get("metadata") or {}),
            stream=str(data["stream"]),
            offset=str(data["offset"]),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One change event of an entity's stream.

    ``offset`` is the stream offset just after this event: observing again from it yields
    exactly the events that follow, which is how an observer resumes without duplicates or
    gaps. ``caught_up`` marks the last event of a read that reached the end of the stream
    (as far as the server knew), so a reader replaying history can tell when it is live.
    ``message`` is the event as it appears on the stream, for
    :meth:`wakeful.state.StateStore.apply`.
    """

    type: str
    key: str
    operation: str
    value: Any
    offset: str
    timestamp: str | None = None
    caught_up: bool = False
    message: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The fields as plain JSON (what ``wakeful observe --json`` prints per line)."""
        return {
            "type": self.type,
            "key": self.key,
            "operation": self.operation,
            "value": self.value,
            "offset": self.offset,
            "timestamp": self.timestamp,
        }

    @classmethod
    def from_message(cls, message: dict[str, Any], offset: str) -> Event | None:
        """The event a stream message holds, or ``None`` for a message that is not a change
        (a State Protocol control message, or anything else a writer appended)."""
        headers = message.get("headers")
        kind, key = message.get("type"), message.get("key")
        if not isinstance(headers, dict) or not isinstance(kind, str) or not isinstance(key, str):
            return None
        operation = headers.get("operation")
        if not isinstance(operation, str):
            return None
        timestamp = headers.get("timestamp")
        return cls(
            type=kind,
            key=key,
            operation=operation,
            value=message.get("value"),
            offset=offset,
            timestamp=timestamp if isinstance(timestamp, str) else None,
            message=message,
        )
