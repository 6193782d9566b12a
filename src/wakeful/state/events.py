"""State Protocol messages: change events and control events.

A change is ``{type, key, value, old_value?, headers: {operation, txid?, timestamp?}}``;
a control is ``{headers: {control: snapshot-start | snapshot-end | reset, offset?}}``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Literal, cast

Operation = Literal["insert", "update", "delete"]
ControlKind = Literal["snapshot-start", "snapshot-end", "reset"]
OPERATIONS: frozenset[str] = frozenset({"insert", "update", "delete"})
CONTROLS: frozenset[str] = frozenset({"snapshot-start", "snapshot-end", "reset"})
_ABSENT: Any = object()


class InvalidEvent(ValueError):
    """A message that is neither a valid change nor a valid control event."""


@dataclass(frozen=True, slots=True)
class Change:
    type: str
    key: str
    operation: Operation
    value: Any = None
    old_value: Any = _ABSENT
    txid: str | None = None
    timestamp: str | None = None

    @property
    def has_old_value(self) -> bool:
        return self.old_value is not _ABSENT

    def to_json(self) -> dict[str, Any]:
        headers: dict[str, Any] = {"operation": self.operation}
        if self.txid is not None:
            headers["txid"] = self.txid
        if self.timestamp is not None:
            headers["timestamp"] = self.timestamp
        message: dict[str, Any] = {"type": self.type, "key": self.key, "headers": headers}
        if self.operation != "delete" or self.value is not None:
            message["value"] = self.value
        if self.has_old_value:
            message["old_value"] = self.old_value
        return message


@dataclass(frozen=True, slots=True)
class Control:
    control: ControlKind
    offset: str | None = None

    def to_json(self) -> dict[str, Any]:
        headers: dict[str, Any] = {"control": self.control}
        if self.offset is not None:
            headers["offset"] = self.offset
        return {"headers": headers}


def now_timestamp() -> str:
    """The time as ISO 8601 UTC with milliseconds. Every event carries one, so the
    formatting of the whole seconds is reused while the second lasts."""
    global _formatted_second
    now = time.time()
    second = int(now)
    cached = _formatted_second  # one tuple, so that threads never mix two seconds
    if cached[0] != second:
        cached = _formatted_second = (
            second,
            time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)),
        )
    return f"{cached[1]}.{int((now - second) * 1000):03d}Z"


_formatted_second: tuple[int, str] = (-1, "")


def parse(message: Any) -> Change | Control:
    """A decoded JSON message as a typed event; ``InvalidEvent`` if it is neither kind."""
    if not isinstance(message, dict):
        raise InvalidEvent("an event must be a JSON object")
    headers = message.get("headers")
    if not isinstance(headers, dict):
        raise InvalidEvent("an event needs a headers object")
    if "control" in headers:
        kind = headers["control"]
        if kind not in CONTROLS:
            raise InvalidEvent(f"unknown control {kind!r}")
        offset = headers.get("offset")
        return Control(cast(ControlKind, kind), offset if isinstance(offset, str) else None)
    operation = headers.get("operation")
    if operation not in OPERATIONS:
        raise InvalidEvent(f"unknown operation {operation!r}")
    kind, key = message.get("type"), message.get("key")
    if not isinstance(kind, str) or not kind or not isinstance(key, str) or not key:
        raise InvalidEvent("a change needs a non-empty type and key")
    if operation != "delete" and "value" not in message:
        raise InvalidEvent(f"an {operation} needs a value")
    txid, timestamp = headers.get("txid"), headers.get("timestamp")
    return Change(
        type=kind,
        key=key,
        operation=cast(Operation, operation),
        value=message.get("value"),
        old_value=message.get("old_value", _ABSENT),
        txid=txid if isinstance(txid, str) else None,
        timestamp=timestamp if isinstance(timestamp, str) else None,
    )


def change(
    kind: str,
    key: str,
    value: Any,
    operation: Operation = "insert",
    *,
    old_value: Any = _ABSENT,
    txid: str | None = None,
) -> dict[str, Any]:
    """A change event ready to append, stamped with the current time."""
    return Change(kind, key, operation, value, old_value, txid, now_timestamp()).to_json()


def insert(kind: str, key: str, value: Any, *, txid: str | None = None) -> dict[str, Any]:
    return change(kind, key, value, "insert", txid=txid)


def update(
    kind: str, key: str, value: Any, *, old_value: Any = _ABSENT, txid: str | None = None
) -> dict[str, Any]:
    return change(kind, key, value, "update", old_value=old_value, txid=txid)


def delete(
    kind: str, key: str, *, old_value: Any = _ABSENT, txid: str | None = None
) -> dict[str, Any]:
    return change(kind, key, None, "delete", old_value=old_value, txid=txid)
