"""What only a shared database has to get right: several storages over one schema.

Each ``PostgresStorage`` here has its own connection pool and its own listening
connection, exactly as separate processes would; the tests with real server processes
are in ``test_multiprocess.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from support.postgres import schema_url

from wakeful.errors import Conflict, StaleEpoch
from wakeful.streams import batch
from wakeful.streams.model import AppendRequest, CreateRequest, ProducerClaim
from wakeful.streams.storage.postgres import PostgresStorage, split_url
from wakeful.streams.storage.postgres_notify import MAX_PAYLOAD, decode, parse, payloads
from wakeful.streams.storage.postgres_reads import CountingHub, SharedReads

TEXT = "text/plain"


def create(path: str, content_type: str = TEXT) -> CreateRequest:
    return CreateRequest(path, content_type, None, None, False, b"")


def append(path: str, data: bytes, producer: ProducerClaim | None = None) -> AppendRequest:
    return AppendRequest(path, TEXT, [data], producer=producer)


@pytest.fixture
async def pair(
    postgres_url: str, new_schema: Callable[[], str]
) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    """Two storages on one fresh schema, as two processes would have."""
    url = schema_url(postgres_url, new_schema())
    first, second = PostgresStorage(url), PostgresStorage(url)
    await asyncio.gather(first.start(), second.start())
    try:
        yield first, second
    finally:
        await asyncio.gather(first.stop(), second.stop())


def test_url_schema_parameter() -> None:
    dsn, schema = split_url("postgresql://u@h:5/db?sslmode=disable&schema=tenant_a")
    assert dsn == "postgresql://u@h:5/db?sslmode=disable" and schema == "tenant_a"
    assert PostgresStorage("postgresql://h/db?schema=tenant_b").schema == "tenant_b"
    assert PostgresStorage("postgresql://h/db").schema == "wakeful"
    with pytest.raises(ValueError):
        PostgresStorage("postgresql://h/db?schema=Robert'); DROP TABLE x")


def test_notification_payloads_stay_under_the_limit() -> None:
    ids = set(range(10**12, 10**12 + 2000))
    chunks = payloads("origin", ids)
    assert len(chunks) > 1 and all(len(chunk) < MAX_PAYLOAD for chunk in chunks)
    assert {i for chunk in chunks for i in parse(chunk)[1]} == ids


def test_notification_payloads_carry_signals() -> None:
    (payload,) = payloads("origin", {3, 1}, {"wake", "schedule"})
    assert decode(payload) == ("origin", [1, 3], ["schedule", "wake"])
    assert parse(payload) == ("origin", [1, 3])


async def test_shared_reads_never_answer_from_before_a_publication() -> None:
    hub = CountingHub()
    shared = SharedReads(hub)
    gate = asyncio.Event()
    started: list[int] = []

    async def read() -> int:
        started.append(len(started) + 1)
        await gate.wait()
        return len(started)

    first = asyncio.ensure_future(shared.run("key", read))
    second = asyncio.ensure_future(shared.run("key", read))  # joins the first
    other = asyncio.ensure_future(shared.run("other key", read))
    await asyncio.sleep(0)
    hub.publish([1])
    third = asyncio.ensure_future(shared.run("key", read))  # after a change: its own read
    await asyncio.sleep(0)
    gate.set()
    results = await asyncio.gather(first, second, other, third)
    assert len(started) == 3  # three reads for four calls
    assert results[0] == results[1]


async def test_an_append_through_one_wakes_readers_of_the_other(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    writer, reader = pair
    created = await writer.create(create("live"))
    event = reader.hub.watch(created.stream.id)
    began = time.monotonic()
    await writer.append(append("live", b"hello"))
    assert await reader.hub.wait(event, 5), "no notification reached the other storage"
    assert time.monotonic() - began < 2
    stream = await reader.lookup_live(created.stream.id)
    assert stream is not None
    assert (await reader.read_from(stream, 0)).messages == [b"hello"]


async def test_a_lost_listening_connection_reconnects_and_wakes_everyone(
    pair: tuple[PostgresStorage, PostgresStorage], postgres_url: str
) -> None:
    writer, reader = pair
    created = await writer.create(create("resilient"))
    # Let the announcement of the create itself arrive first.
    await reader.hub.wait(reader.hub.watch(created.stream.id), 1)
    event = reader.hub.watch(created.stream.id)
    assert reader.relay.connections == 1
    admin = await asyncpg.connect(postgres_url)
    try:
        await admin.execute("SELECT pg_terminate_backend($1)", reader.relay.server_pid)
    finally:
        await admin.close()
    # Nothing was appended: the reconnect itself wakes readers, so that they re-check
    # for anything committed while no one listened.
    assert await reader.hub.wait(event, 10), "readers were not woken after a reconnect"
    assert reader.relay.connections == 2
    event = reader.hub.watch(created.stream.id)
    await writer.append(append("resilient", b"after"))
    assert await reader.hub.wait(event, 5), "notifications stopped after the reconnect"


async def test_concurrent_creates_of_one_path(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = pair
    for index in range(10):
        results = await asyncio.gather(
            first.create(create(f"race/{index}")), second.create(create(f"race/{index}"))
        )
        assert sorted(result.created for result in results) == [False, True]
        assert results[0].stream.id == results[1].stream.id


async def test_appends_through_both_are_serialized_per_stream(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = pair
    await first.create(create("shared"))

    async def writer(storage: PostgresStorage, name: str) -> None:
        for seq in range(25):
            claim = ProducerClaim(name, 0, seq)
            await storage.append(append("shared", f"{name}:{seq};".encode(), claim))

    await asyncio.gather(
        *(writer(storage, f"{label}{i}") for i in range(4) for label, storage in pair_items(pair))
    )
    read = await second.read("shared", 0)
    body = b"".join(read.messages).decode()
    items = body.rstrip(";").split(";")
    assert len(items) == 200 and len(set(items)) == 200
    for label, _ in pair_items(pair):
        for i in range(4):
            mine = [item for item in items if item.startswith(f"{label}{i}:")]
            assert mine == [f"{label}{i}:{seq}" for seq in range(25)]  # in producer order


def pair_items(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> list[tuple[str, PostgresStorage]]:
    return [("a", pair[0]), ("b", pair[1])]


async def test_a_producer_fenced_through_one_is_fenced_on_the_other(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = pair
    await first.create(create("fenced"))
    await first.append(append("fenced", b"a", ProducerClaim("w", 0, 0)))
    await second.append(append("fenced", b"b", ProducerClaim("w", 1, 0)))
    with pytest.raises(StaleEpoch) as refused:
        await first.append(append("fenced", b"c", ProducerClaim("w", 0, 1)))
    assert refused.value.current_epoch == 1


async def test_schemas_are_isolated(postgres_url: str, new_schema: Callable[[], str]) -> None:
    one = PostgresStorage(schema_url(postgres_url, new_schema()))
    other = PostgresStorage(schema_url(postgres_url, new_schema()))
    await one.start()
    await other.start()
    try:
        created = await one.create(create("same/path"))
        mirror = await other.create(create("same/path"))
        assert created.created and mirror.created
        event = other.hub.watch(mirror.stream.id)
        await one.append(append("same/path", b"x"))
        assert not await other.hub.wait(event, 0.5)
        assert (await other.head("same/path")).tail == 0
    finally:
        await one.stop()
        await other.stop()


async def test_a_batch_lands_whole_or_not_at_all(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    storage, _ = pair
    await storage.create(create("batch/a"))
    ok = batch.Append(append("batch/a", b"1"))
    bad = batch.Append(AppendRequest("batch/a", "application/json", [b"2"]))
    with pytest.raises(Conflict):
        await storage.commit([ok, bad])
    assert (await storage.head("batch/a")).tail == 0
    results = await storage.commit(
        [
            batch.CreateStream(create("batch/b"), labels={"kind": "chat"}),
            ok,
            batch.SetLabels("batch/a", {"kind": "chat", "owner": "ann"}),
        ]
    )
    assert len(results) == 3
    assert await storage.labels("batch/a") == {"kind": "chat", "owner": "ann"}
    found = await storage.find_streams({"kind": "chat"}, prefix="batch/")
    assert [(stream.path, labels) for stream, labels in found] == [
        ("batch/a", {"kind": "chat", "owner": "ann"}),
        ("batch/b", {"kind": "chat"}),
    ]
    assert [s.path for s, _ in await storage.find_streams({"owner": "ann"})] == ["batch/a"]
    await storage.commit([batch.SetLabels("batch/a", {"owner": None})])
    assert await storage.labels("batch/a") == {"kind": "chat"}


async def test_a_due_schedule_fires_once_across_processes(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    first, second = pair
    await first.create(create("timer"))
    now = time.time()
    await first.commit(
        [batch.ScheduleAppend(f"t{i}", "timer", f"{i};".encode(), now - 1) for i in range(20)]
    )
    await first.commit([batch.ScheduleAppend("later", "timer", b"later", now + 3600)])
    assert await second.next_schedule() == pytest.approx(now - 1)
    fired = await asyncio.gather(
        *(storage.fire_due_schedules(time.time(), limit=3) for storage in (*pair, *pair) * 4)
    )
    while await first.fire_due_schedules(time.time()) > 0:
        pass
    assert sum(fired) <= 20
    body = b"".join((await second.read("timer", 0)).messages).decode()
    assert sorted(body.rstrip(";").split(";")) == sorted(str(i) for i in range(20))
    assert await first.next_schedule() == pytest.approx(now + 3600)


async def test_a_producer_racing_itself_through_both_appends_once(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """The same (producer, epoch, seq) sent through both at once, as a retry would: the one
    that waited for the stream's lock must see the producer state the other committed."""
    first, second = pair
    await first.create(create("raced"))
    for index in range(20):
        claim = ProducerClaim(f"racer-{index}", 0, 0)
        results = await asyncio.gather(
            first.append(append("raced", f"{index};".encode(), claim)),
            second.append(append("raced", f"{index};".encode(), claim)),
        )
        assert sorted(result.duplicate for result in results) == [False, True]
        # A newer epoch racing a stale one: the stale one never lands after it.
        fence = ProducerClaim(f"racer-{index}", 1, 0)
        stale = ProducerClaim(f"racer-{index}", 0, 1)
        outcomes = await asyncio.gather(
            first.append(append("raced", b"new;", fence)),
            second.append(append("raced", b"stale;", stale)),
            return_exceptions=True,
        )
        assert not isinstance(outcomes[0], BaseException)
    body = b"".join((await second.read("raced", 0)).messages).decode()
    items = body.rstrip(";").split(";")
    assert [item for item in items if item not in ("new", "stale")] == [str(i) for i in range(20)]
    # A stale append lands only if it committed before the fence did.
    assert "new;stale;" not in body
