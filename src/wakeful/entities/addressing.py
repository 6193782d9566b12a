"""Entity addresses: ``/{type}/{id}``, and the streams that belong to an entity."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidAddress, InvalidEntityURL

TYPE_PATTERN = re.compile(r"\A[a-z][a-z0-9_-]{0,63}\Z")
ID_PATTERN = re.compile(r"\A[A-Za-z0-9._-]{1,128}\Z")
WAKE_STREAM = "_wakeful/wakes"
SHARED_PREFIX = "_shared/"


def check_type(name: str) -> str:
    if TYPE_PATTERN.match(name) is None:
        raise InvalidAddress(
            f"entity type {name!r} must be 1-64 lowercase letters, digits, '_' or '-',"
            " starting with a letter"
        )
    return name


def check_id(entity_id: str) -> str:
    if ID_PATTERN.match(entity_id) is None or entity_id in {".", ".."}:
        raise InvalidAddress(
            f"entity id {entity_id!r} must be 1-128 letters, digits, '.', '_' or '-'"
        )
    return entity_id


@dataclass(frozen=True, slots=True)
class Address:
    type: str
    id: str

    def __post_init__(self) -> None:
        # Every address names a valid entity, so no caller can create a stream like
        # ``type/a/b/main`` that later parses as another entity (or not at all).
        check_type(self.type)
        check_id(self.id)

    @classmethod
    def parse(cls, url: str) -> Address:
        """``/chat/42`` (or ``chat/42``) → Address("chat", "42")."""
        parts = url.strip("/").split("/")
        if len(parts) != 2:
            raise InvalidEntityURL(f"entity URL {url!r} must look like /type/id")
        return cls(check_type(parts[0]), check_id(parts[1]))

    @property
    def url(self) -> str:
        return f"/{self.type}/{self.id}"

    @property
    def stream(self) -> str:
        """The main stream's path under the streams mount."""
        return f"{self.type}/{self.id}/main"

    @property
    def snapshots(self) -> str:
        return f"{self.type}/{self.id}/snapshots"

    @property
    def subscription_id(self) -> str:
        # Subscription ids cannot contain '/'; types cannot contain '~'.
        return f"e~{self.type}~{self.id}"

    def __str__(self) -> str:
        return self.url


def shared_stream(name: str) -> str:
    check_id(name)
    return f"{SHARED_PREFIX}{name}"


def from_subscription_id(subscription_id: str) -> Address | None:
    if not subscription_id.startswith("e~"):
        return None
    kind, _, entity_id = subscription_id[2:].partition("~")
    try:
        return Address(check_type(kind), check_id(entity_id))
    except InvalidAddress:
        return None
