"""Defining entity types: the registry, handlers, typed state and message schemas."""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import InvalidArguments, InvalidMessage, UnknownEntityType
from .addressing import Address, check_type
from .subscription import EntitySubscription, pull_wake

if TYPE_CHECKING:
    from .context import Context
    from .remote_types import RemoteTypes
    from .wake import Signal, Wake

M = TypeVar("M", bound=BaseModel)
Handler = Callable[["Context", "Wake"], Awaitable[None]]
SignalHandler = Callable[["Context", "Signal"], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class CollectionSpec(Generic[M]):
    """A typed state collection: rows are ``model`` instances keyed by their ``key`` field."""

    model: type[M]
    key: str = "id"

    def key_of(self, row: M) -> str:
        value = getattr(row, self.key, None)
        if value is None:
            raise ValueError(f"{self.model.__name__} row has no {self.key!r} to key it by")
        return str(value)


def collection(model: type[M], *, key: str = "id") -> CollectionSpec[M]:
    """Declare a state collection whose primary key is the field ``key``."""
    if key not in model.model_fields:
        raise TypeError(f"{model.__name__} has no field {key!r} to use as primary key")
    return CollectionSpec(model, key)


def _as_spec(value: type[BaseModel] | CollectionSpec[Any]) -> CollectionSpec[Any]:
    if isinstance(value, CollectionSpec):
        return value
    return collection(value)


def _validate(schema: type[BaseModel] | None, raw: Any, error: type[Exception], what: str) -> Any:
    if schema is None:
        return raw
    try:
        return schema.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or what}: {item['msg']}"
            for item in exc.errors()[:5]
        )
        raise error(f"invalid {what}: {problems}") from None


class TypeDefinition(Protocol):
    """What spawning and messaging need of a type, wherever its handler runs: a Python
    :class:`EntityType` here, or a :class:`~wakeful.entities.remote.RemoteType` elsewhere."""

    @property
    def name(self) -> str: ...

    @property
    def lease_seconds(self) -> float: ...

    def validate_args(self, raw: Any) -> Any: ...

    def validate_message(self, raw: Any) -> Any: ...

    def subscription(self, address: Address) -> EntitySubscription: ...

    def describe(self) -> dict[str, Any]: ...


#: What a message does that arrives while a pass of the entity runs: ``queue`` waits for
#: the next pass; ``interrupt`` ends the run in progress (aborted, ``interrupted``) so the
#: next pass starts one with the message; ``reject`` refuses it (409 ``MESSAGE_REJECTED``).
MessagePolicy = Literal["queue", "interrupt", "reject"]
MESSAGE_POLICIES: frozenset[str] = frozenset({"queue", "interrupt", "reject"})


@dataclass(slots=True)
class EntityType:
    """One kind of entity: what it is called, what it keeps, and what runs when it wakes."""

    name: str
    handler: Handler
    description: str = ""
    state: dict[str, CollectionSpec[Any]] = field(default_factory=dict)
    args: type[BaseModel] | None = None
    inbox: type[BaseModel] | None = None
    on_signal: SignalHandler | None = None
    max_attempts: int = 3
    retry_seconds: float = 0.5
    lease_seconds: float = 30.0  # how long a crashed worker's claim blocks this entity
    # An entity nothing was appended to for this long, with no wake pending, is deleted.
    idle_ttl: float | None = None
    #: What a message does that arrives while a pass of the entity runs (see MessagePolicy).
    on_message: MessagePolicy = "queue"

    def signal_handler(self, handler: SignalHandler) -> SignalHandler:
        """Decorator: handle custom signals (any name but the runtime's own)."""
        self.on_signal = handler
        return handler

    def validate_args(self, raw: Any) -> Any:
        return _validate(self.args, raw if raw is not None else {}, InvalidArguments, "args")

    def validate_message(self, raw: Any) -> Any:
        return _validate(self.inbox, raw, InvalidMessage, "message")

    def subscription(self, address: Address) -> EntitySubscription:
        return pull_wake(address, self.lease_seconds)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "local",
            "description": self.description,
            "state": {
                name: {"key": spec.key, "schema": spec.model.model_json_schema()}
                for name, spec in self.state.items()
            },
            "args_schema": self.args.model_json_schema() if self.args else None,
            "inbox_schema": self.inbox.model_json_schema() if self.inbox else None,
        }


class Registry:
    """The entity types a server or worker can run. The only global state is what you put here.

    :meth:`get`, iteration and ``in`` see the types defined in Python, the ones this process
    can run; :meth:`find` and :meth:`resolve` also see remote types, for spawning and
    messaging entities whose handlers run elsewhere."""

    def __init__(self) -> None:
        self._types: dict[str, EntityType] = {}
        self.remote: RemoteTypes | None = None

    def with_remote(self, remote: RemoteTypes) -> Registry:
        """A view of these Python types plus the remote types of one database. The view
        shares the definitions, so types defined on either later are seen by both."""
        view = Registry()
        view._types = self._types
        view.remote = remote
        return view

    def define(
        self,
        name: str,
        handler: Handler,
        *,
        description: str = "",
        state: Mapping[str, type[BaseModel] | CollectionSpec[Any]] | None = None,
        args: type[BaseModel] | None = None,
        inbox: type[BaseModel] | None = None,
        max_attempts: int = 3,
        retry_seconds: float = 0.5,
        lease_seconds: float = 30.0,
        idle_ttl: float | None = None,
        on_message: MessagePolicy = "queue",
    ) -> EntityType:
        check_type(name)
        if name in self._types:
            raise ValueError(f"entity type {name!r} is already defined")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 1 <= lease_seconds <= 600:
            raise ValueError("lease_seconds must be between 1 and 600")
        if idle_ttl is not None and idle_ttl <= 0:
            raise ValueError("idle_ttl must be a positive number of seconds")
        if on_message not in MESSAGE_POLICIES:
            raise ValueError(f"on_message must be one of {', '.join(sorted(MESSAGE_POLICIES))}")
        entity_type = EntityType(
            name=name,
            handler=handler,
            description=description or (handler.__doc__ or "").strip(),
            state={key: _as_spec(value) for key, value in (state or {}).items()},
            args=args,
            inbox=inbox,
            max_attempts=max_attempts,
            retry_seconds=retry_seconds,
            lease_seconds=lease_seconds,
            idle_ttl=idle_ttl,
            on_message=on_message,
        )
        self._types[name] = entity_type
        return entity_type

    def entity(
        self,
        name: str,
        *,
        description: str = "",
        state: Mapping[str, type[BaseModel] | CollectionSpec[Any]] | None = None,
        args: type[BaseModel] | None = None,
        inbox: type[BaseModel] | None = None,
        max_attempts: int = 3,
        retry_seconds: float = 0.5,
        lease_seconds: float = 30.0,
        idle_ttl: float | None = None,
        on_message: MessagePolicy = "queue",
    ) -> Callable[[Handler], EntityType]:
        """Decorator form of :meth:`define`::

        @registry.entity("counter", state={"counts": Count})
        async def counter(ctx, wake): ...
        """

        def register(handler: Handler) -> EntityType:
            return self.define(
                name,
                handler,
                description=description,
                state=state,
                args=args,
                inbox=inbox,
                max_attempts=max_attempts,
                retry_seconds=retry_seconds,
                lease_seconds=lease_seconds,
                idle_ttl=idle_ttl,
                on_message=on_message,
            )

        return register

    def get(self, name: str) -> EntityType:
        found = self._types.get(name)
        if found is None:
            raise UnknownEntityType(f"no entity type {name!r} is registered")
        return found

    def find(self, name: str) -> TypeDefinition:
        """A Python type, else a remote type known to this process (no I/O)."""
        local = self._types.get(name)
        if local is not None:
            return local
        remote = self.remote.get(name) if self.remote is not None else None
        if remote is None:
            raise UnknownEntityType(f"no entity type {name!r} is registered")
        return remote

    async def resolve(self, name: str) -> TypeDefinition:
        """Like :meth:`find`, but a miss first catches up with types registered elsewhere."""
        try:
            return self.find(name)
        except UnknownEntityType:
            if self.remote is None:
                raise
        await self.remote.refresh()
        return self.find(name)

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[EntityType]:
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    @staticmethod
    def load(spec: str) -> Registry:
        """Import ``module:attribute`` (e.g. ``myapp.agents:registry``)."""
        module_name, _, attribute = spec.partition(":")
        if not module_name or not attribute:
            raise ValueError(f"registry {spec!r} must look like module:attribute")
        module = importlib.import_module(module_name)
        registry = getattr(module, attribute, None)
        if not isinstance(registry, Registry):
            raise TypeError(f"{spec} is not a wakeful Registry")
        return registry
