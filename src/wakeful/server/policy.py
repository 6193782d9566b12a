"""What a principal may do: the policy every route consults, and the default one.

The server asks one question everywhere: may this principal take this action on this
target? Entity streams, threads (entities of the thread type), tool-call answers and
subscriptions over entity streams all come down to an :class:`EntityTarget`, so a policy
decides once per entity, however it is reached. Two rules hold whatever the policy says:
system streams (``_wakeful/*``) and the runtime's own entity subscriptions are the
admin's alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from .principals import Principal

#: spawn: create an entity (a thread); list: see every entity of a type (without it, a
#: listing shows only the principal's own); read: the entity, its streams, its tool calls;
#: send: an inbox message; signal: pause, resume, stop, interrupt, custom signals; kill:
#: delete it; answer: a waiting tool call; write: append to or create its streams directly.
EntityAction = Literal["spawn", "list", "read", "send", "signal", "kill", "answer", "write"]
#: Streams that belong to no entity, by path (a subscription's pattern is checked as one).
StreamAction = Literal["read", "append", "create", "delete"]
#: read: list and describe types; register: register, update or remove a remote type.
TypesAction = Literal["read", "register"]
Action = EntityAction | StreamAction | TypesAction


@dataclass(frozen=True, slots=True)
class EntityTarget:
    type: str | None  # None: a listing across every type
    id: str | None = None  # None when spawning without an id, or listing
    owner: str | None = None  # who spawned it; None if nobody recorded (or it is not there)

    def describe(self) -> str:
        if self.type is None:
            return "entities"
        return f"entity /{self.type}/{self.id}" if self.id else f"entities of type {self.type!r}"


@dataclass(frozen=True, slots=True)
class StreamTarget:
    path: str
    pattern: bool = False  # a subscription's glob, standing for every stream it matches

    def describe(self) -> str:
        return f"streams matching {self.path!r}" if self.pattern else f"stream {self.path!r}"


@dataclass(frozen=True, slots=True)
class TypesTarget:
    name: str | None = None

    def describe(self) -> str:
        return f"type {self.name!r}" if self.name else "types"


Target = EntityTarget | StreamTarget | TypesTarget


class Policy(Protocol):
    def allows(
        self, principal: Principal, action: Action, target: Target
    ) -> bool | Awaitable[bool]:
        """Whether ``principal`` may take ``action`` on ``target``; may be async."""


class OwnerPolicy:
    """The default: the admin may do anything; everyone else may read the types, spawn
    entities, act on the entities they spawned (and read and write those entities'
    streams), and use the streams that belong to no entity, which they share."""

    def allows(self, principal: Principal, action: Action, target: Target) -> bool:
        if principal.admin:
            return True
        if isinstance(target, TypesTarget):
            return action == "read"
        if isinstance(target, EntityTarget):
            if action == "spawn":
                return True
            if action == "list":
                return False  # listings then show only what they own
            return target.owner is not None and target.owner == principal.name
        return True
