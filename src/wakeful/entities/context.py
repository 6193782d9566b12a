"""The handler context: what a handler can read and do during one pass.

Everything a handler does is buffered in ``ctx.output`` and committed with the pass's
final commit, the one that acknowledges its inputs: its state changes, the children it
spawns, the messages it sends, the streams it starts observing, its timers and tags. So
each lands exactly once, with the inputs that caused it. A pass that fails (or whose
worker lost its lease) leaves none of them, and its retry starts from the same inputs.

The agent loop keeps a second buffer, ``ctx.progress``: its own rows (runs, steps, text,
tool calls), and the writes a tool made through its context (:meth:`Context.for_tool`),
moved there with the tool call's result. Only that buffer is committed by
:meth:`Context.flush`, so a crash resumes the run where it stopped without committing a
handler write ahead of its acknowledgement.
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

import orjson
from croniter import croniter
from pydantic import BaseModel

from ..errors import InvalidArguments
from ..state import Collection, StateStore
from ..state.events import Change as StateChange
from ..state.events import delete, insert, parse, update
from ..streams import batch
from ..streams.model import AppendRequest, CreateRequest
from ..streams.storage.access import PassStorage
from . import events
from . import vocabulary as v
from .addressing import Address, shared_stream
from .definition import CollectionSpec, EntityType, Registry
from .resources import AgentFactory, MissingResource, Resources
from .subscription import EntitySubscription, pull_wake
from .wake import Message, Wake

if TYPE_CHECKING:
    # Typing only: the agent layer sits above this one and imports it. At run time the
    # agent comes from the runtime's resources (an ``AgentFactory``), so no import runs
    # upward; these names only give ``ctx.use_agent`` and ``ctx.agent`` their types.
    from ..agent.loop import Agent
    from ..agent.options import AgentOptions
    from ..agent.sources import ContextSource

M = TypeVar("M", bound=BaseModel)
P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")
JSON = "application/json"


def _signature_of(
    options: Callable[P, Any],
) -> Callable[[Callable[..., R]], Callable[Concatenate[S, P], R]]:
    """Give a method the parameters of ``options`` (for the type checker), so that the
    agent's options are declared once, on ``AgentOptions``, and checked where passed."""

    def decorate(method: Callable[..., R]) -> Callable[Concatenate[S, P], R]:
        return method

    return decorate


if TYPE_CHECKING:
    _takes_agent_options = _signature_of(AgentOptions)
else:

    def _takes_agent_options(method):  # the options are checked by AgentOptions itself
        return method


@dataclass(slots=True)
class PassOutput:
    """What a pass will commit besides acknowledging its inputs."""

    events: list[dict[str, Any]] = field(default_factory=list)
    operations: list[batch.Operation] = field(default_factory=list)
    labels: dict[str, str | None] = field(default_factory=dict)
    completion: dict[str, Any] | None = None

    def move_to(self, other: PassOutput) -> None:
        """Append what this buffer holds to ``other``, and empty it."""
        other.events.extend(self.events)
        other.operations.extend(self.operations)
        other.labels.update(self.labels)
        if self.completion is not None:
            other.completion = self.completion
        self.events.clear()
        self.operations.clear()
        self.labels.clear()
        self.completion = None


class StateCollection(Generic[M]):
    """A typed view of one ``state:<name>`` collection with buffered, validated writes."""

    def __init__(self, name: str, spec: CollectionSpec[M], rows: Collection[Any], out: PassOutput):
        self.name = name
        self.spec = spec
        self._rows = rows
        self._out = out
        self._type = v.state_type(name)

    def _row(self, value: M | Mapping[str, Any]) -> M:
        if isinstance(value, self.spec.model):
            return value
        return self.spec.model.model_validate(value)

    def _emit(self, event: dict[str, Any]) -> None:
        self._out.events.append(event)
        parsed = parse(event)
        assert isinstance(parsed, StateChange)
        self._rows.apply(parsed)

    def get(self, key: str) -> M | None:
        found = self._rows.get(key)
        return found if found is None or isinstance(found, self.spec.model) else None

    def __getitem__(self, key: str) -> M:
        found = self.get(key)
        if found is None:
            raise KeyError(key)
        return found

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Any:
        return iter(self.all())

    def all(self) -> list[M]:
        return [row for row in self._rows if isinstance(row, self.spec.model)]

    def where(self, **equals: Any) -> list[M]:
        return [row for row in self._rows.where(**equals) if isinstance(row, self.spec.model)]

    def query(self, predicate: Any = None, **options: Any) -> list[M]:
        return [r for r in self._rows.query(predicate, **options) if isinstance(r, self.spec.model)]

    def insert(self, value: M | Mapping[str, Any]) -> M:
        row = self._row(value)
        key = self.spec.key_of(row)
        if key in self._rows:
            raise KeyError(f"{self.name} already has a row {key!r}; use update or upsert")
        self._emit(insert(self._type, key, row.model_dump(mode="json")))
        return row

    def update(self, value: M | Mapping[str, Any]) -> M:
        row = self._row(value)
        key = self.spec.key_of(row)
        if key not in self._rows:
            raise KeyError(f"{self.name} has no row {key!r} to update")
        old = self._rows.raw(key)
        self._emit(update(self._type, key, row.model_dump(mode="json"), old_value=old))
        return row

    def upsert(self, value: M | Mapping[str, Any]) -> M:
        row = self._row(value)
        return self.update(row) if self.spec.key_of(row) in self._rows else self.insert(row)

    def delete(self, key: str) -> None:
        if key not in self._rows:
            raise KeyError(f"{self.name} has no row {key!r} to delete")
        self._emit(delete(self._type, key, old_value=self._rows.raw(key)))


class State:
    """``ctx.state.<name>`` (or ``ctx.state["name"]``) for each declared collection."""

    def __init__(self, collections: dict[str, StateCollection[Any]]) -> None:
        self._collections = collections

    def __getattr__(self, name: str) -> StateCollection[Any]:
        try:
            return self._collections[name]
        except KeyError:
            raise AttributeError(f"no state collection {name!r}") from None

    def __getitem__(self, name: str) -> StateCollection[Any]:
        return self._collections[name]

    def __iter__(self) -> Any:
        return iter(self._collections)


class SharedState:
    """A shared-state stream joined by this entity: read its collections, buffer writes."""

    def __init__(self, name: str, store: StateStore, out: PassOutput) -> None:
        self.name = name
        self.stream = shared_stream(name)
        self._store = store
        self._out = out
        self._pending: list[dict[str, Any]] = []

    def collection(self, name: str) -> Collection[Any]:
        return self._store.collection(v.state_type(name))

    def _write(self, event: dict[str, Any]) -> None:
        self._store.apply(event)
        self._out.operations.append(
            batch.Append(AppendRequest(self.stream, JSON, [orjson.dumps(event)]))
        )

    def insert(self, collection: str, key: str, value: Any) -> None:
        self._write(insert(v.state_type(collection), key, value))

    def update(self, collection: str, key: str, value: Any) -> None:
        self._write(update(v.state_type(collection), key, value))

    def delete(self, collection: str, key: str) -> None:
        self._write(delete(v.state_type(collection), key))


@dataclass(frozen=True, slots=True)
class ContextBudget:
    """What :meth:`Context.use_context` declared: named sources within a total budget."""

    budget: int
    sources: Mapping[str, ContextSource]


class Context:
    """Passed to a handler with the :class:`~wakeful.entities.wake.Wake` that woke it."""

    def __init__(
        self,
        *,
        address: Address,
        definition: EntityType,
        registry: Registry,
        store: StateStore,
        args: Any,
        parent: str | None,
        tags: dict[str, str],
        first_wake: bool,
        shared: dict[str, StateStore],
        known: set[str],
        resources: Resources | None = None,
        flusher: Callable[[bool], Awaitable[None]] | None = None,
        shared_loader: Callable[[str], Awaitable[StateStore]] | None = None,
        storage: PassStorage | None = None,
    ) -> None:
        self.address = address
        self.definition = definition
        self.args = args
        self.parent = parent
        self.first_wake = first_wake
        #: The handler's writes: held until the pass's final commit.
        self.output = PassOutput()
        #: The agent loop's rows (and its tools' writes): what :meth:`flush` commits.
        self.progress = PassOutput()
        self._runs = 0  # runs of the agent asked for in this pass, for their wake keys
        self.interrupted = asyncio.Event()
        self._registry = registry
        self.store = store
        self._tags = dict(tags)
        self._shared_stores = shared
        self._private_shared: set[str] = set()
        self._known = known
        #: What the runtime provides to handlers, by class (the agent loop among them).
        self.resources = resources or Resources()
        self._flusher = flusher
        self._shared_loader = shared_loader
        self._storage = storage  # read by fork() (the committed stream it forks)
        self._agent: Agent | None = None
        #: The sources the agent's messages are composed of, if ``use_context`` set them.
        self.context_sources: ContextBudget | None = None
        #: The wake this pass handles.
        self.wake: Wake | None = None
        self.state = self._state_view()

    def _state_view(self) -> State:
        return State(
            {
                name: StateCollection(
                    name, spec, self.store.collection(v.state_type(name)), self.output
                )
                for name, spec in self.definition.state.items()
            }
        )

    def for_tool(self) -> Context:
        """A view of this context for one tool call: the same entity, state, progress and
        flushes, but writes buffered apart, so that they can land with the call's result
        (the agent loop moves them into :attr:`progress` when it records the result)."""
        view = copy.copy(self)
        view.output = PassOutput()
        view.state = view._state_view()
        return view

    def run_key(self) -> str | None:
        """The key of the next agent run asked for in this pass: the same in every retry
        and re-claim of the same inputs (None outside a wake from the runtime)."""
        key = self.wake.key if self.wake is not None else ""
        if not key:
            return None
        self._runs += 1
        return f"{key}#{self._runs}"

    # --- identity --------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.address.url

    @property
    def type(self) -> str:
        return self.address.type

    @property
    def id(self) -> str:
        return self.address.id

    @property
    def tags(self) -> dict[str, str]:
        return dict(self._tags)

    def collection(self, name: str) -> Collection[Any]:
        """Any collection of this entity's stream, built-in ones included (``inbox``, ...)."""
        return self.store.collection(name)

    # --- tags ------------------------------------------------------------------------

    def set_tag(self, name: str, value: str) -> None:
        self._tags[name] = value
        self.output.events.append(events.tag(name, value))
        self.output.labels[f"tag:{name}"] = value

    def remove_tag(self, name: str) -> None:
        self._tags.pop(name, None)
        self.output.events.append(events.tag(name, None))
        self.output.labels[f"tag:{name}"] = None

    # --- coordination ----------------------------------------------------------------

    @property
    def owner(self) -> str | None:
        """The principal who owns this entity (who spawned it, or its parent's owner)."""
        return self._owner()

    def _owner(self) -> str | None:
        """Who owns this entity: its children belong to them too."""
        created = self.store.collection(v.ENTITY_CREATED).get("entity")
        owner = created.get("owner") if isinstance(created, dict) else None
        return owner if isinstance(owner, str) else None

    def spawn(
        self,
        type_name: str,
        entity_id: str | None = None,
        *,
        args: Any = None,
        message: Any = None,
        wake_on_finish: bool = True,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Create a child entity (when this pass commits); returns its URL.

        With ``wake_on_finish`` the child's ``complete(...)`` (or failure) wakes this entity
        with a :class:`~wakeful.entities.wake.ChildStatus` carrying its response."""
        definition = self._registry.find(type_name)
        address = Address(type_name, entity_id or events.new_id())
        validated = definition.validate_args(args)
        if message is not None:
            definition.validate_message(message)
        self.output.operations.extend(
            creation_operations(
                address,
                args=_dump(validated),
                parent=self.url if wake_on_finish else None,
                tags=dict(tags or {}),
                message=message,
                sender=self.url,
                subscription=definition.subscription(address),
                owner=self._owner(),
            )
        )
        self.output.events.append(
            events.manifest(
                f"child:{address.url}",
                {"url": address.url, "type": type_name, "wake_on_finish": wake_on_finish},
            )
        )
        self._known.add(address.url)
        return address.url

    async def fork(
        self, entity_id: str | None = None, *, source: str | None = None, at: str | None = None
    ) -> str:
        """Create (when this pass commits) a new entity that is a fork of ``source`` (this
        entity by default) at the end of its run ``at`` or its last completed run: the same
        type, state and agent history as there, going on on its own. Returns its URL.

        It forks what is committed: this pass's own writes are not in it."""
        from .forking import fork_operations, fork_point  # forking builds on this module

        if self._storage is None:
            raise MissingResource("fork needs the runtime's storage (a pass of the runtime)")
        origin = Address.parse(source) if source is not None else self.address
        target = Address(origin.type, entity_id or events.new_id())
        point = await fork_point(self._storage, origin, at)
        definition = self._registry.find(origin.type)
        self.output.operations.extend(
            fork_operations(origin, target, point, definition.subscription(target))
        )
        self._known.add(target.url)
        return target.url

    def send(self, url: str, payload: Any, *, delay: float | None = None) -> str:
        """Send a message to another entity's inbox, now or after ``delay`` seconds."""
        target = Address.parse(url)
        self._registry.find(target.type).validate_message(payload)
        event = events.inbox(payload, self.url)
        message = orjson.dumps(event)
        if delay is not None and delay > 0:
            self.output.operations.append(
                batch.ScheduleAppend(
                    f"send:{event['key']}", target.stream, message, time.time() + delay
                )
            )
        else:
            self.output.operations.append(
                batch.Append(AppendRequest(target.stream, JSON, [message]), optional=True)
            )
        return str(event["key"])

    def request(self, url: str, payload: Any, *, timeout: float | None = None) -> str:
        """Send ``payload`` to another entity as a request; returns its ``request_id``.

        The target answers with :meth:`reply`, which wakes this entity with a
        :class:`~wakeful.entities.wake.Reply` in ``wake.replies``. With ``timeout`` a
        durable timer (it outlives this process) wakes it instead, with the reply marked
        ``timed_out``, if no answer came first; a later answer is dropped."""
        target = Address.parse(url)
        self._registry.find(target.type).validate_message(payload)
        request_id = events.new_id()
        event = events.inbox(payload, self.url, request_id=request_id)
        self.output.operations.append(
            batch.Append(AppendRequest(target.stream, JSON, [orjson.dumps(event)]), optional=True)
        )
        pending: dict[str, Any] = {"request_id": request_id, "target": target.url}
        if timeout is not None:
            due_at = time.time() + timeout
            pending["due_at"] = due_at
            self._schedule(f"request:{request_id}", v.REQUEST_TIMEOUT, due_at, pending)
        self.output.events.append(events.manifest(f"request:{request_id}", pending))
        return request_id

    def reply(self, message: Message, payload: Any) -> str:
        """Answer a request (a message with a ``request_id``) in its sender's inbox.

        The answer is not checked against the sender's inbox schema: it answers the
        sender's own question, which the sender validates as it sees fit."""
        if message.request_id is None or message.sender is None:
            raise InvalidArguments(f"message {message.id} is not a request: nothing to reply to")
        sender = Address.parse(message.sender)
        event = events.inbox(payload, self.url, in_reply_to=message.request_id)
        self.output.operations.append(
            batch.Append(AppendRequest(sender.stream, JSON, [orjson.dumps(event)]), optional=True)
        )
        return str(event["key"])

    def observe(
        self,
        target: str,
        *,
        collections: Iterable[str] | None = None,
        operations: Iterable[str] | None = None,
        debounce: float | None = None,
        timeout: float | None = None,
    ) -> None:
        """Wake on changes to another entity (``/type/id``) or a shared state (``name``).

        ``collections`` and ``operations`` filter which changes wake; ``debounce`` waits for
        that many quiet seconds first; ``timeout`` wakes with a timer if nothing changed."""
        stream = Address.parse(target).stream if target.startswith("/") else shared_stream(target)
        registration = {
            "stream": stream,
            "target": target,
            "collections": sorted(collections) if collections is not None else None,
            "operations": sorted(operations) if operations is not None else None,
            "debounce": debounce,
            "timeout": timeout,
        }
        self.output.events.append(events.manifest(f"observe:{stream}", registration))
        self.output.operations.append(batch.LinkStreams(self.address.subscription_id, (stream,)))
        if timeout is not None:
            self._schedule(
                f"timeout:{stream}", "timeout", time.time() + timeout, {"target": target}
            )

    def unobserve(self, target: str) -> None:
        stream = Address.parse(target).stream if target.startswith("/") else shared_stream(target)
        self.output.events.append(events.manifest_removed(f"observe:{stream}"))
        self.output.operations.append(batch.UnlinkStream(self.address.subscription_id, stream))
        self._cancel(f"timeout:{stream}")

    def shared(self, name: str) -> SharedState:
        """Create (if needed) and join the shared state ``name``; changes to it wake this entity.

        Once joined, every pass sees the shared state's content. The pass that joins it
        sees only its own writes there; ``await ctx.join_shared(name)`` also reads what
        the shared state already holds."""
        store = self._shared_stores.get(name)
        if store is None:
            store = self._shared_stores[name] = StateStore()
            self._join(name)
        elif name not in self._private_shared:
            # This pass reads and writes its own copy: the runtime's cached store is read by
            # other entities' passes and must only ever hold committed events.
            store = self._shared_stores[name] = StateStore.restore(store.snapshot())
        self._private_shared.add(name)
        return SharedState(name, store, self.output)

    async def join_shared(self, name: str) -> SharedState:
        """:meth:`shared`, reading what the shared state already holds even in the pass
        that joins it (a first join costs a read of the shared stream)."""
        if name not in self._shared_stores and self._shared_loader is not None:
            committed = await self._shared_loader(shared_stream(name))
            if name not in self._shared_stores:  # not joined meanwhile (a parallel call)
                # A private copy: the loaded store is the runtime's, shared across passes.
                self._shared_stores[name] = StateStore.restore(committed.snapshot())
                self._private_shared.add(name)
                self._join(name)
        return self.shared(name)

    def _join(self, name: str) -> None:
        """Create the shared state if it is new, and subscribe this entity to it."""
        stream = shared_stream(name)
        self.output.operations.append(
            batch.CreateStream(
                CreateRequest(stream, JSON, None, None, False, b""), {"kind": "shared"}
            )
        )
        self.output.operations.append(batch.LinkStreams(self.address.subscription_id, (stream,)))
        self.output.events.append(
            events.manifest(f"shared:{name}", {"name": name, "stream": stream})
        )

    # --- time ------------------------------------------------------------------------

    def _schedule(self, name: str, kind: str, due_at: float, payload: Any) -> None:
        message = orjson.dumps(events.timer(name, kind, payload))
        self.output.operations.append(
            batch.ScheduleAppend(f"{self.url}#{name}", self.address.stream, message, due_at)
        )

    def timer(self, name: str, delay: float, payload: Any = None) -> None:
        """Wake once after ``delay`` seconds (replacing a timer of the same name)."""
        self._schedule(f"timer:{name}", "timer", time.time() + delay, payload)
        self.output.events.append(
            events.manifest(f"timer:{name}", {"name": name, "due_at": time.time() + delay})
        )

    def _cancel(self, name: str) -> None:
        self.output.operations.append(batch.CancelSchedule(f"{self.url}#{name}"))

    def cancel_timer(self, name: str) -> None:
        """Cancel the timer ``name`` set by :meth:`timer` (if it has not fired yet)."""
        self._cancel(f"timer:{name}")
        self.output.events.append(events.manifest_removed(f"timer:{name}"))

    def cron(self, name: str, expression: str, payload: Any = None) -> None:
        """Wake on a cron schedule (``*/5 * * * *``) until :meth:`cancel_cron`."""
        if not croniter.is_valid(expression):
            raise InvalidArguments(f"invalid cron expression {expression!r}")
        due = next_cron(expression, time.time())
        self._schedule(f"cron:{name}", "cron", due, {"name": name, "payload": payload})
        self.output.events.append(
            events.manifest(
                f"cron:{name}",
                {"name": name, "expression": expression, "payload": payload, "next_at": due},
            )
        )

    def cancel_cron(self, name: str) -> None:
        self._cancel(f"cron:{name}")
        self.output.events.append(events.manifest_removed(f"cron:{name}"))

    # --- lifecycle -------------------------------------------------------------------

    def complete(self, response: Any = None) -> None:
        """Report that this entity's run finished, waking a parent that waits for it."""
        self.output.completion = {"status": "completed", "response": response}

    @_takes_agent_options
    def use_agent(self, *args: Any, **kwargs: Any) -> Agent:
        """Configure the LLM agent loop for this pass; then ``await ctx.agent.run()``.

        Takes the arguments of :class:`wakeful.agent.AgentOptions`. The loop comes from
        :mod:`wakeful.agent`, which the server provides to the runtime as a resource."""
        return self._install_agent(*args, **kwargs)

    def use_agent_options(self, options: AgentOptions) -> Agent:
        """:meth:`use_agent` with options declared once elsewhere (a thread's, say)."""
        return self._install_agent(options)

    def _install_agent(self, *args: Any, **kwargs: Any) -> Agent:
        factory = self.resources.get(AgentFactory)
        if factory is None:
            raise MissingResource(
                "no agent loop is installed in this runtime; give the Runtime"
                " resources=wakeful.agent.agent_resources()"
            )
        self._agent = factory(self, *args, **kwargs)
        return self._agent

    def use_context(self, *, budget: int, sources: Mapping[str, ContextSource]) -> None:
        """Compose the agent's messages from ``sources`` (``wakeful.ContextSource``, by
        name) within ``budget`` tokens, instead of sending the whole conversation; see
        the agents doc, "Context". Put ``wakeful.conversation`` in a source to keep it."""
        if isinstance(budget, bool) or not isinstance(budget, int) or budget < 1:
            raise ValueError("use_context needs a budget of at least one token")
        if not sources:
            raise ValueError("use_context needs at least one source")
        for name, source in sources.items():
            if not all(hasattr(source, part) for part in ("content", "max", "cache")):
                raise TypeError(f"context source {name!r} is not a ContextSource")
        self.context_sources = ContextBudget(budget, dict(sources))

    @property
    def agent(self) -> Agent:
        """The agent configured by :meth:`use_agent` for this pass."""
        if self._agent is None:
            raise MissingResource("no agent in this pass: call ctx.use_agent(...) first")
        return self._agent

    async def flush(self, *, wait: bool = True) -> None:
        """Commit the agent loop's progress so far (:attr:`progress`), without ending the
        pass; the handler's own writes (:attr:`output`) wait for the final commit.

        The agent loop flushes after each step and tool result so that a crash resumes
        where it stopped. Writes still go through the pass's fenced producer. Flushes land
        in the order they were asked for. ``wait=False`` returns at once: the writes commit
        within milliseconds, or with the next flush that waits (which also raises if they
        failed), or with the end of the pass, whichever comes first."""
        if self._flusher is not None:
            await self._flusher(wait)


def _dump(value: Any) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


def next_cron(expression: str, after: float) -> float:
    return float(croniter(expression, after).get_next(float))


def creation_operations(
    address: Address,
    *,
    args: Any,
    parent: str | None,
    tags: dict[str, str],
    message: Any = None,
    sender: str | None = None,
    lease_seconds: float = 30.0,
    subscription: EntitySubscription | None = None,
    owner: str | None = None,
) -> list[batch.Operation]:
    """The operations that create an entity: its subscription, then its stream and labels.

    ``subscription`` says how its wakes are delivered (the type's
    :meth:`~wakeful.entities.definition.TypeDefinition.subscription`); without one, they
    go to this runtime's workers with a lease of ``lease_seconds``. ``owner`` is the
    principal that spawned it, as the access policy reads it."""
    initial = [
        events.entity_created(address.url, address.type, address.id, args, parent, tags, owner)
    ]
    initial += [events.tag(name, value) for name, value in tags.items()]
    if message is not None:
        initial.append(events.inbox(message, sender))
    labels = {"kind": "entity", "type": address.type, "status": v.IDLE}
    if parent is not None:
        labels["parent"] = parent
    if owner is not None:
        labels["owner"] = owner
    labels.update({f"tag:{name}": value for name, value in tags.items()})
    subscription = subscription or pull_wake(address, lease_seconds)
    body = b"[" + b",".join(orjson.dumps(event) for event in initial) + b"]"
    return [
        batch.PutSubscription(address.subscription_id, subscription.spec, subscription.base_url),
        batch.CreateStream(
            CreateRequest(address.stream, JSON, None, None, False, body), labels, exclusive=True
        ),
    ]
