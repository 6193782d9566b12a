"""Properties of materialized state, checked on random event sequences (hypothesis).

1. Materializing a stream equals folding its events: random State Protocol change and
   control events (and messages that are not events at all) are appended to a real
   SQLite stream, read back in small chunks, materialized with :class:`StateStore` and
   compared with the plain fold written below.
2. Snapshot + tail equals full replay: at a random cut, ``snapshot()`` (through JSON, as
   it is stored) → ``restore()`` → the rest of the stream gives the state a full replay
   gives.
3. An entity's state loaded through :class:`StateCache` (the snapshot its passes wrote,
   plus the tail) equals a full replay of its stream, after many passes with snapshots
   forced often.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import wakeful.entities.loading as loading
from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.loading import StateCache, models_of, read_messages
from wakeful.entities.runtime import Runtime
from wakeful.entities.service import EntityService
from wakeful.entities.wake import Wake
from wakeful.settings import Settings
from wakeful.state import StateStore
from wakeful.streams.model import AppendRequest, CreateRequest
from wakeful.streams.storage.sqlite import SqliteStorage

T = TypeVar("T")
JSON = "application/json"
TYPES = ["a", "b", "state:c"]
KEYS = ["k1", "k2", "k3", "k4", "k5"]
CONTROLS = ["snapshot-start", "snapshot-end", "reset"]
# Derandomized: the same examples on every run, and no example database to keep.
PROPERTY_SETTINGS = settings(
    max_examples=300,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class Typed(BaseModel):
    """The model of ``state:c``: values that do not fit it are kept raw, never dropped."""

    n: int
    label: str = ""


MODELS: dict[str, type[Any] | None] = {"state:c": Typed}


# --- the reference fold ----------------------------------------------------------------


@dataclass
class Folded:
    """What a stream's events mean, folded by the rules of the State Protocol."""

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_seen: dict[str, dict[str, int]] = field(default_factory=dict)
    events: int = 0


def _is_event(message: Any) -> bool:
    if not isinstance(message, dict) or not isinstance(message.get("headers"), dict):
        return False
    headers = message["headers"]
    if "control" in headers:
        return headers["control"] in CONTROLS
    kind, key = message.get("type"), message.get("key")
    return (
        headers.get("operation") in ("insert", "update", "delete")
        and isinstance(kind, str)
        and kind != ""
        and isinstance(key, str)
        and key != ""
        and (headers["operation"] == "delete" or "value" in message)
    )


def fold(messages: list[Any]) -> Folded:
    """Inserts and updates set a row, deletes remove it, a reset empties everything;
    snapshot-start / -end only mark boundaries; anything that is not an event is skipped.
    A row keeps its place (and the index of the event that created it) across updates."""
    state = Folded()
    for message in messages:
        if not _is_event(message):
            continue
        state.events += 1
        headers = message["headers"]
        if "control" in headers:
            if headers["control"] == "reset":
                state.tables.clear()
                state.first_seen.clear()
            continue
        table = state.tables.setdefault(message["type"], {})
        seen = state.first_seen.setdefault(message["type"], {})
        key = message["key"]
        if headers["operation"] == "delete":
            table.pop(key, None)
            seen.pop(key, None)
        else:
            if key not in table:
                seen[key] = state.events
            table[key] = message["value"]
    return state


def observed(store: StateStore) -> Folded:
    """The same view of a materialized store: rows in order, first-seen indexes, count."""
    tables = {name: rows for name, rows in store.as_dict().items()}
    first_seen = {
        name: {key: store.collection(name).first_seen(key) for key in rows}
        for name, rows in tables.items()
    }
    return Folded(tables, first_seen, store.events)


def in_order(folded: Folded) -> list[tuple[str, list[tuple[str, Any]]]]:
    """Tables and rows as ordered lists, so comparisons also check the order of rows."""
    return [(name, list(rows.items())) for name, rows in sorted(folded.tables.items()) if rows]


def assert_same(actual: Folded, expected: Folded) -> None:
    assert in_order(actual) == in_order(expected)
    assert {k: v for k, v in actual.first_seen.items() if v} == {
        k: v for k, v in expected.first_seen.items() if v
    }
    assert actual.events == expected.events


def assert_same_stores(actual: StateStore, expected: StateStore) -> None:
    assert_same(observed(actual), observed(expected))
    assert actual.position == expected.position
    for name in MODELS:
        # Typed rows come out as the same model instances (or the same raw values).
        assert list(actual.collection(name)) == list(expected.collection(name))


# --- random events ---------------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)
typed_values = st.builds(
    lambda n, label: {"n": n, "label": label}, st.integers(-100, 100), st.text(max_size=5)
)


def _headers(operation: str, txid: str | None, stamped: bool) -> dict[str, Any]:
    headers: dict[str, Any] = {"operation": operation}
    if txid is not None:
        headers["txid"] = txid
    if stamped:
        headers["timestamp"] = "2025-01-01T00:00:00.000Z"
    return headers


@st.composite
def changes(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    operation = draw(st.sampled_from(["insert", "update", "update", "delete"]))
    event: dict[str, Any] = {
        "type": kind,
        "key": draw(st.sampled_from(KEYS)),
        "headers": _headers(operation, draw(st.none() | st.text(max_size=3)), draw(st.booleans())),
    }
    if operation != "delete" or draw(st.booleans()):
        event["value"] = draw(
            typed_values if kind == "state:c" and draw(st.booleans()) else json_values
        )
    if draw(st.integers(0, 4)) == 0:
        event["old_value"] = draw(json_values)
    return event


controls = st.builds(
    lambda kind, offset: {"headers": {"control": kind, **({"offset": offset} if offset else {})}},
    st.sampled_from(CONTROLS),
    st.none() | st.just("0000000000000000_0000000000000000"),
)

# Messages a State Protocol reader must skip: not objects, no headers, unknown operation or
# control, a change without type / key, an insert without a value.
not_events = st.sampled_from(
    [
        1,
        "text",
        None,
        {},
        {"type": "a", "key": "k1", "value": 1},
        {"type": "a", "key": "k1", "value": 1, "headers": "insert"},
        {"type": "a", "key": "k1", "value": 1, "headers": {"operation": "upsert"}},
        {"type": "a", "key": "", "value": 1, "headers": {"operation": "insert"}},
        {"type": "", "key": "k1", "value": 1, "headers": {"operation": "insert"}},
        {"key": "k1", "value": 1, "headers": {"operation": "insert"}},
        {"type": "a", "key": 7, "value": 1, "headers": {"operation": "update"}},
        {"type": "a", "key": "k1", "headers": {"operation": "insert"}},
        {"headers": {"control": "rewind"}},
    ]
)

messages = st.lists(
    st.one_of(changes(), changes(), changes(), changes(), controls, not_events), max_size=60
)


# --- a real SQLite stream --------------------------------------------------------------


class Streams:
    """A started SQLite storage driven from synchronous hypothesis tests."""

    def __init__(self, directory: Path) -> None:
        self.runner = asyncio.Runner()
        self.storage = SqliteStorage(str(directory / "properties.db"))
        self.names = itertools.count(1)
        self.run(self.storage.start())

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return self.runner.run(wrapped())

    def close(self) -> None:
        self.run(self.storage.stop())
        self.runner.close()

    async def write(self, events: list[Any], batches: list[int]) -> str:
        """Append ``events`` to a new stream in batches of the given sizes."""
        path = f"props/{next(self.names)}"
        await self.storage.create(CreateRequest(path, JSON, None, None, False, b""))
        sizes = itertools.cycle(batches or [1])
        rest = [orjson.dumps(event) for event in events]
        while rest:
            size = next(sizes)
            await self.storage.append(AppendRequest(path, JSON, rest[:size]))
            rest = rest[size:]
        return path

    async def read(self, path: str, start: int, chunk: int) -> list[tuple[int, Any]]:
        """Every message from ``start`` with its position, in reads of about ``chunk`` bytes."""
        found = []
        position = start
        while True:
            result = await self.storage.read(path, position, chunk)
            for raw in result.messages:
                found.append((position, orjson.loads(raw)))
                position += len(raw)
            assert result.next_position == position
            if result.up_to_date:
                return found


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Streams]:
    instance = Streams(tmp_path_factory.mktemp("properties"))
    yield instance
    instance.close()


batch_sizes = st.lists(st.integers(1, 7), min_size=1, max_size=4)
chunk_sizes = st.integers(1, 300)


@PROPERTY_SETTINGS
@given(events=messages, batches=batch_sizes, chunk=chunk_sizes)
def test_materializing_a_stream_equals_folding_its_events(
    streams: Streams, events: list[Any], batches: list[int], chunk: int
) -> None:
    path = streams.run(streams.write(events, batches))
    read = streams.run(streams.read(path, 0, chunk))
    # Normalized through JSON, as every reader sees them.
    expected = [orjson.loads(orjson.dumps(event)) for event in events]
    assert [value for _, value in read] == expected
    store = StateStore(MODELS)
    for _, value in read:
        store.apply(value)
    assert_same(observed(store), fold(expected))


@PROPERTY_SETTINGS
@given(events=messages, batches=batch_sizes, chunk=chunk_sizes, cut=st.floats(0, 1))
def test_snapshot_plus_tail_equals_full_replay(
    streams: Streams, events: list[Any], batches: list[int], chunk: int, cut: float
) -> None:
    path = streams.run(streams.write(events, batches))
    read = streams.run(streams.read(path, 0, 1 << 20))
    tail = streams.run(streams.storage.head(path)).tail
    full = StateStore(MODELS)
    for _, value in read:
        full.apply(value)
    full.position = tail

    at = int(cut * len(read))
    position = read[at][0] if at < len(read) else tail
    before = StateStore(MODELS)
    for _, value in read[:at]:
        before.apply(value)
    before.position = position
    # A snapshot is stored as JSON on a stream; restore what a reader would get back.
    snapshot = orjson.loads(orjson.dumps(before.snapshot()))
    restored = StateStore.restore(snapshot, MODELS)
    assert_same_stores(restored, before)
    for _, value in streams.run(streams.read(path, position, chunk)):
        restored.apply(value)
    restored.position = tail
    assert_same_stores(restored, full)


# --- an entity's passes, snapshots and StateCache ----------------------------------------


class Row(BaseModel):
    id: str
    value: int
    note: str = ""


class Handled(BaseModel):
    id: str
    messages: int
    passes: int


keeper_registry = Registry()


# What each pass saw when its handler started: entity URL, position, state.
handler_views: list[tuple[str, int, Folded]] = []


@keeper_registry.entity("keeper", state={"rows": Row, "handled": Handled})
async def keeper(ctx: Context, wake: Wake) -> None:
    """Applies the row operations each message carries; counts messages and passes."""
    handler_views.append((ctx.url, ctx.store.position, observed(ctx.store)))
    for message in wake.messages:
        for operation, key, value in message.payload["ops"]:
            if operation == "put":
                ctx.state.rows.upsert(Row(id=key, value=value, note=message.id))
            elif operation == "delete" and key in ctx.state.rows:
                ctx.state.rows.delete(key)
            elif operation == "tag":
                ctx.set_tag(key, str(value))
            elif operation == "untag":
                ctx.remove_tag(key)
    handled = ctx.state.handled.get("total") or Handled(id="total", messages=0, passes=0)
    ctx.state.handled.upsert(
        Handled(
            id="total", messages=handled.messages + len(wake.messages), passes=handled.passes + 1
        )
    )


class EntityRig:
    """A runtime over SQLite with snapshots forced every few events."""

    def __init__(self, directory: Path) -> None:
        self.runner = asyncio.Runner()
        self.storage = SqliteStorage(str(directory / "entities.db"))
        self.runtime = Runtime(
            self.storage, keeper_registry, settings=Settings(worker_concurrency=4)
        )
        self.service = EntityService(self.storage, keeper_registry)
        self.ids = itertools.count(1)
        self.run(self.storage.start())
        self.run(self.runtime.start())

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return self.runner.run(wrapped())

    def close(self) -> None:
        self.run(self.runtime.stop())
        self.run(self.storage.stop())
        self.runner.close()

    async def handled(self, address: Address) -> int:
        store = await full_replay(self.storage, address)
        row = store.collection("state:handled").get("total")
        return row.messages if isinstance(row, Handled) else 0

    async def drive(self, address: Address, batches: list[list[list[Any]]]) -> None:
        """Send each batch of messages at once, then wait until the entity handled them."""
        sent = await self.handled(address)
        for messages in batches:
            for ops in messages:
                await self.service.send(address.url, {"ops": ops})
            sent += len(messages)
            deadline = time.monotonic() + 20
            while await self.handled(address) < sent:
                assert time.monotonic() < deadline, f"{address} did not handle {sent} messages"
                await asyncio.sleep(0.005)


async def full_replay(
    storage: SqliteStorage, address: Address, upto: int | None = None
) -> StateStore:
    definition = keeper_registry.get(address.type)
    store = StateStore(models_of(definition))
    tail = (await storage.head(address.stream)).tail if upto is None else upto
    async for message in read_messages(storage, address.stream, 0, tail):
        store.apply(message.value)
        store.position = message.end
    return store


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntityRig]:
    with pytest.MonkeyPatch.context() as patch:
        # A snapshot every few events, so every example loads from one.
        patch.setattr(loading, "SNAPSHOT_EVERY_EVENTS", 7)
        instance = EntityRig(tmp_path_factory.mktemp("entities"))
        yield instance
        instance.close()


operations = st.tuples(
    st.sampled_from(["put", "put", "put", "delete", "tag", "untag"]),
    st.sampled_from(["r1", "r2", "r3", "r4"]),
    st.integers(0, 1000),
)
message_batches = st.lists(
    st.lists(st.lists(operations, max_size=4), min_size=1, max_size=4), min_size=1, max_size=8
)


@settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(batches=message_batches)
def test_entity_state_from_snapshot_and_tail_equals_full_replay(
    rig: EntityRig, batches: list[list[list[Any]]]
) -> None:
    address = Address("keeper", f"k{next(rig.ids)}")
    definition = keeper_registry.get("keeper")
    rig.run(rig.service.spawn("keeper", address.id))
    rig.run(rig.drive(address, batches))

    storage = rig.storage
    full = rig.run(full_replay(storage, address))
    tail = rig.run(storage.head(address.stream)).tail
    labels = rig.run(storage.labels(address.stream))
    if full.events > 2 * loading.SNAPSHOT_EVERY_EVENTS:
        assert loading.SNAPSHOT_LABEL in labels, "passes wrote no snapshot"

    # A cold load (what waking an idle entity does): the latest snapshot plus the tail.
    cold = rig.run(StateCache(storage, 0).load(address, definition, tail))
    if loading.SNAPSHOT_LABEL in labels:
        assert cold.snapshot_events > 0
    assert_same_entity(cold.store, full)

    assert cold.snapshot_events <= full.events

    # Every handler started from the state a full replay gives at its position, whether the
    # runtime had it cached or loaded it from a snapshot.
    views = [(position, view) for url, position, view in handler_views if url == address.url]
    assert len(views) >= len(batches)
    for position, view in views:
        assert_same(view, observed(rig.run(full_replay(storage, address, position))))

    # A warm cache catching up on a tail it has not seen gives the same state too.
    cache = StateCache(storage, 10)
    half = rig.run(StateCache(storage, 0).load(address, definition, tail))
    cache.put(address.url, half)
    rig.run(rig.drive(address, [[[("put", "r9", 9)]]]))
    tail = rig.run(storage.head(address.stream)).tail
    warm = rig.run(cache.load(address, definition, tail))
    assert_same_entity(warm.store, rig.run(full_replay(storage, address)))


def assert_same_entity(actual: StateStore, expected: StateStore) -> None:
    assert_same(observed(actual), observed(expected))
    assert actual.position == expected.position
    for name in ("state:rows", "state:handled"):
        assert list(actual.collection(name)) == list(expected.collection(name))
