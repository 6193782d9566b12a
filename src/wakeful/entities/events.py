"""Builders for the events the runtime writes, so every writer spells them the same way."""

from __future__ import annotations

import uuid
from typing import Any

from ..state.events import delete, insert, update
from . import vocabulary as v


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def entity_created(
    url: str,
    type_name: str,
    entity_id: str,
    args: Any,
    parent: str | None,
    tags: dict[str, str],
    owner: str | None = None,
) -> dict[str, Any]:
    value = {
        "url": url,
        "type": type_name,
        "id": entity_id,
        "args": args,
        "parent": parent,
        "tags": tags,
    }
    if owner is not None:
        # Recorded on the stream too, so the entity's children can belong to the same owner.
        value["owner"] = owner
    return insert(v.ENTITY_CREATED, "entity", value)


def inbox(
    payload: Any,
    sender: str | None,
    message_id: str | None = None,
    *,
    request_id: str | None = None,
    in_reply_to: str | None = None,
    principal: str | None = None,
) -> dict[str, Any]:
    """An inbox message; a request carries its ``request_id``, a reply the ``in_reply_to``
    of the request it answers (each left out when unset, as older readers expect).
    ``sender`` is free text (an entity's URL, a name a client gives); ``principal`` is who
    the server authenticated, recorded so that what the message costs is charged to them
    (docs/usage.md)."""
    key = message_id or new_id()
    value: dict[str, Any] = {"id": key, "payload": payload, "from": sender}
    if request_id is not None:
        value["request_id"] = request_id
    if in_reply_to is not None:
        value["in_reply_to"] = in_reply_to
    if principal is not None:
        value["principal"] = principal
    return insert(v.INBOX, key, value)


def signal(name: str, payload: Any = None) -> dict[str, Any]:
    key = new_id()
    return insert(v.SIGNAL, key, {"id": key, "name": name, "payload": payload})


def child_status(
    url: str, status: str, response: Any = None, error: str | None = None
) -> dict[str, Any]:
    return update(
        v.CHILD_STATUS, url, {"url": url, "status": status, "response": response, "error": error}
    )


def timer(name: str, kind: str, payload: Any = None) -> dict[str, Any]:
    return insert(v.TIMER, new_id(), {"name": name, "kind": kind, "payload": payload})


def manifest(key: str, value: Any) -> dict[str, Any]:
    return update(v.MANIFEST, key, value)


def manifest_removed(key: str) -> dict[str, Any]:
    return delete(v.MANIFEST, key)


def tag(name: str, value: str | None) -> dict[str, Any]:
    if value is None:
        return delete(v.TAGS, name)
    return update(v.TAGS, name, {"name": name, "value": value})


def stopped(status: str, reason: str | None = None) -> dict[str, Any]:
    return insert(v.ENTITY_STOPPED, "entity", {"status": status, "reason": reason})


def error(message: str, kind: str, attempts: int, key: str | None = None) -> dict[str, Any]:
    return insert(
        v.ERROR, key or new_id(), {"message": message, "kind": kind, "attempts": attempts}
    )


def wake_record(value: dict[str, Any]) -> dict[str, Any]:
    return insert(v.WAKE, new_id(), value)
