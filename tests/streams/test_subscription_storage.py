"""Subscriptions at the storage interface, on every backend, and across processes sharing
one PostgreSQL (each ``PostgresStorage`` of a pair has its own pool and listener, as
separate processes would).

The HTTP face is covered by the conformance suite; these pin down what the entity runtime
relies on underneath: wakes recorded in the append's own transaction, claims and fencing
decided by the database, and batches that ack atomically with their writes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import orjson
import pytest
from support.postgres import schema_url

from wakeful.errors import Conflict, NotFound, WakefulError
from wakeful.streams import batch
from wakeful.streams.model import AppendRequest, CreateRequest
from wakeful.streams.storage import Storage
from wakeful.streams.storage.postgres import PostgresStorage
from wakeful.streams.subscriptions.model import (
    Ack,
    SubscriptionRow,
    SubscriptionSpec,
    WakeRequest,
)
from wakeful.streams.subscriptions.tokens import TokenClaims

JSON = "application/json"


def create(path: str, body: bytes = b"") -> CreateRequest:
    return CreateRequest(path, JSON, None, None, False, body)


def append(path: str, n: int = 0) -> AppendRequest:
    return AppendRequest(path, JSON, [orjson.dumps({"n": n})])


def pull_wake(*streams: str, pattern: str | None = None) -> SubscriptionSpec:
    return SubscriptionSpec(
        type="pull-wake", streams=list(streams), pattern=pattern, wake_stream="wakes"
    )


def claims(row: SubscriptionRow) -> TokenClaims:
    assert row.wake_id is not None
    return TokenClaims(row.id, row.generation, row.wake_id)


def done(row: SubscriptionRow, **positions: int) -> WakeRequest:
    """Ack ``positions`` (stream → offset; every link's tail by default) and end the wake."""
    assert row.wake_id is not None
    acks = tuple(Ack(link.path, positions.get(link.path, link.tail)) for link in row.links)
    return WakeRequest(row.wake_id, row.generation, acks, done=True)


async def wake_events(storage: Storage) -> list[dict[str, object]]:
    read = await storage.read("wakes", 0)
    return [orjson.loads(message) for message in read.messages]


async def setup(storage: Storage, *streams: str) -> None:
    for path in ("wakes", *streams):
        await storage.create(create(path))


async def claimed(storage: Storage) -> SubscriptionRow:
    """Subscription ``s`` on ``jobs/a``, woken by one append and claimed by worker ``w``."""
    await setup(storage, "jobs/a")
    await storage.subscriptions.put("s", pull_wake("jobs/a"), "")
    await storage.append(append("jobs/a"))
    return await storage.subscriptions.claim("s", "w")


# --- every backend -----------------------------------------------------------------------


async def test_an_append_wakes_an_idle_subscription_in_its_own_transaction(
    storage: Storage,
) -> None:
    await setup(storage, "jobs/a")
    row, created = await storage.subscriptions.put("s", pull_wake("jobs/a"), "")
    assert created and row.wake_id is None and row.links[0].acked == 0
    assert await wake_events(storage) == []
    await storage.append(append("jobs/a"))
    # Visible as soon as the append returns: recorded by the append's transaction.
    events = await wake_events(storage)
    assert [(event["subscription_id"], event["stream"]) for event in events] == [("s", "jobs/a")]
    assert await storage.subscriptions.outstanding_wakes() == ["s"]
    # Further appends while the wake is pending announce nothing more.
    await storage.append(append("jobs/a", 1))
    assert len(await wake_events(storage)) == 1


async def test_claim_ack_and_fencing(storage: Storage) -> None:
    store = storage.subscriptions
    await setup(storage, "jobs/a")
    await store.put("s", pull_wake("jobs/a"), "")
    with pytest.raises(Conflict, match="no pending work"):
        await store.claim("s", "w1")
    await storage.append(append("jobs/a"))
    row = await store.claim("s", "w1")
    with pytest.raises(Conflict) as taken:
        await store.claim("s", "w2")
    assert taken.value.code == "ALREADY_CLAIMED"
    heartbeat = WakeRequest(row.wake_id or "", row.generation)
    assert await store.ack("s", claims(row), heartbeat) is False
    assert await store.ack("s", claims(row), done(row)) is False
    assert (await store.get("s")).links[0].acked == row.links[0].tail
    with pytest.raises(Conflict) as stale:
        await store.ack("s", claims(row), done(row))
    assert stale.value.code == "FENCED"
    # New work: a new wake with a higher generation; the old token cannot touch it.
    await storage.append(append("jobs/a", 1))
    fresh = await store.claim("s", "w2")
    assert fresh.generation > row.generation
    with pytest.raises(Conflict) as fenced:
        await store.release("s", claims(row), done(row))
    assert fenced.value.code == "FENCED"
    await store.release("s", claims(fresh), WakeRequest(fresh.wake_id or "", fresh.generation))
    # Released with work left: woken again at once.
    assert (await store.get("s")).wake_id is not None


async def test_an_ack_past_the_tail_is_refused(storage: Storage) -> None:
    store = storage.subscriptions
    row = await claimed(storage)
    tail = row.links[0].tail
    for position in (tail + 1, tail + (1 << 40)):
        with pytest.raises(Conflict) as refused:
            await store.ack("s", claims(row), done(row, **{"jobs/a": position}))
        assert refused.value.code == "ACK_PAST_TAIL"
    after = await store.get("s")
    assert after.links[0].acked == 0 and after.wake_id == row.wake_id  # nothing moved
    assert await store.ack("s", claims(row), done(row)) is False  # the tail itself is fine


async def test_an_ack_of_a_deleted_stream_is_clamped(storage: Storage) -> None:
    store = storage.subscriptions
    row = await claimed(storage)
    await storage.delete("jobs/a")
    # What the worker read before the delete may still be acked, to end its wake.
    assert await store.ack("s", claims(row), done(row, **{"jobs/a": row.links[0].tail})) is False


async def test_a_batch_acks_atomically_and_covers_its_own_append(storage: Storage) -> None:
    store = storage.subscriptions
    row = await claimed(storage)
    tail = row.links[0].tail
    # The handler's own append starts where it read up to: acking that position covers it.
    results = await storage.commit(
        [
            batch.Append(append("jobs/a", 1)),
            batch.AckWake("s", claims(row), done(row, **{"jobs/a": tail})),
        ]
    )
    assert results[1] is False  # no next wake
    after = await store.get("s")
    assert after.wake_id is None and after.links[0].acked == after.links[0].tail > tail

    # Another writer's append in between still counts as work.
    await storage.append(append("jobs/a", 2))
    row = await store.claim("s", "w")
    tail = row.links[0].tail
    await storage.append(append("jobs/a", 3))
    results = await storage.commit(
        [
            batch.Append(append("jobs/a", 4)),
            batch.AckWake("s", claims(row), done(row, **{"jobs/a": tail})),
        ]
    )
    assert results[1] is True
    assert (await store.get("s")).wake_id is not None

    # A batch that fails leaves everything, its acks included, as it was.
    row = await store.claim("s", "w")
    before = await store.get("s")
    with pytest.raises(WakefulError):
        await storage.commit(
            [
                batch.AckWake("s", claims(row), done(row)),
                batch.Append(append("missing")),
            ]
        )
    assert await store.get("s") == before


async def test_subscription_operations_in_a_batch(storage: Storage) -> None:
    store = storage.subscriptions
    await setup(storage, "a", "b")
    await storage.commit(
        [
            batch.PutSubscription("s", pull_wake("a"), ""),
            batch.CreateStream(create("c", b'[{"n": 0}]')),
            batch.LinkStreams("s", ("b", "c")),
        ]
    )
    row = await store.get("s")
    assert [(link.path, link.acked, link.tail) for link in row.links] == [
        ("a", 0, 0),
        ("b", 0, 0),
        ("c", 7, 7),
    ]
    await storage.commit([batch.UnlinkStream("s", "b"), batch.Append(append("b"))])
    assert [link.path for link in (await store.get("s")).links] == ["a", "c"]
    assert await wake_events(storage) == []  # b was unlinked before its append
    await storage.commit([batch.DeleteSubscription("s")])
    with pytest.raises(NotFound):
        await store.get("s")


async def test_pattern_subscriptions_link_new_streams(storage: Storage) -> None:
    store = storage.subscriptions
    await setup(storage, "jobs/old", "other/x")
    await storage.append(append("jobs/old"))
    row, _ = await store.put("p", pull_wake(pattern="jobs/*"), "")
    assert [(link.path, link.glob, link.pending) for link in row.links] == [
        ("jobs/old", True, False)
    ]
    # A stream created later, with a body, is linked from offset 0 and wakes it.
    await storage.create(create("jobs/new", b'[{"n": 0}]'))
    await storage.append(append("other/x"))
    row = await store.get("p")
    assert [(link.path, link.acked) for link in row.links] == [("jobs/new", 0), ("jobs/old", 7)]
    assert row.wake_id is not None
    assert [event["stream"] for event in await wake_events(storage)] == ["jobs/new"]


async def test_webhook_deliveries_are_taken_once(storage: Storage) -> None:
    store = storage.subscriptions
    await setup(storage, "hooked")
    pokes: list[int] = []
    store.on_wake = lambda: pokes.append(1)
    spec = SubscriptionSpec(
        type="webhook", streams=["hooked"], webhook={"url": "https://example.com/hook"}
    )
    await store.put("h", spec, "http://wakeful.test/v1/stream")
    await storage.append(append("hooked"))
    assert pokes, "the dispatcher was not poked after the commit"
    now = time.time()
    assert await store.next_deadline() == pytest.approx(now, abs=5)
    due = await store.take_due_deliveries(now + 1)
    assert [row.id for row in due] == ["h"]
    assert await store.take_due_deliveries(now + 1) == []  # in flight
    await store.delivery_failed(due[0], "HTTP 500")
    failed = await store.get("h")
    assert failed.attempts == 1 and failed.last_error == "HTTP 500"
    again = await store.take_due_deliveries(now + 120)
    assert [row.id for row in again] == ["h"]
    await store.delivery_succeeded(again[0], done=True)
    assert (await store.get("h")).wake_id is None


# --- several processes on one PostgreSQL --------------------------------------------------


@pytest.fixture
async def pair(
    postgres_url: str, new_schema: Callable[[], str]
) -> AsyncIterator[tuple[PostgresStorage, PostgresStorage]]:
    url = schema_url(postgres_url, new_schema())
    first, second = PostgresStorage(url), PostgresStorage(url)
    await asyncio.gather(first.start(), second.start())
    try:
        yield first, second
    finally:
        await asyncio.gather(first.stop(), second.stop())


async def test_a_claim_through_one_process_is_acked_or_fenced_through_another(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    one, other = pair
    await setup(one, "jobs/a")
    await one.subscriptions.put("s", pull_wake("jobs/a"), "")
    await other.append(append("jobs/a"))
    row = await one.subscriptions.claim("s", "w1")
    with pytest.raises(Conflict, match="claimed by w1"):
        await other.subscriptions.claim("s", "w2")
    await other.subscriptions.ack("s", claims(row), WakeRequest(row.wake_id or "", row.generation))
    await other.subscriptions.ack("s", claims(row), done(row))
    with pytest.raises(Conflict) as stale:
        await one.subscriptions.ack("s", claims(row), done(row))
    assert stale.value.code == "FENCED"


async def test_due_deliveries_are_shared_out_never_sent_twice(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    one = pair[0]
    spec = SubscriptionSpec(
        type="webhook", streams=["hooked"], webhook={"url": "https://example.com/hook"}
    )
    await setup(one, "hooked")
    for index in range(20):
        await one.subscriptions.put(f"h{index}", spec, "http://wakeful.test/v1/stream")
    await one.append(append("hooked"))
    now = time.time() + 1
    taken = await asyncio.gather(
        *(storage.subscriptions.take_due_deliveries(now, limit=3) for storage in pair * 5)
    )
    ids = [row.id for rows in taken for row in rows]
    assert len(ids) == len(set(ids)) == 20


async def test_pokes_reach_the_other_process(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    one, other = pair
    scheduled, woken = asyncio.Event(), asyncio.Event()
    other.on_schedule = scheduled.set
    other.subscriptions.on_wake = woken.set
    await setup(one, "hooked")
    await one.commit([batch.ScheduleAppend("t", "hooked", b'{"n": 1}', time.time() + 60)])
    async with asyncio.timeout(5):
        await scheduled.wait()
    spec = SubscriptionSpec(
        type="webhook", streams=["hooked"], webhook={"url": "https://example.com/hook"}
    )
    await one.subscriptions.put("h", spec, "http://wakeful.test/v1/stream")
    await one.append(append("hooked"))
    async with asyncio.timeout(5):
        await woken.wait()


async def test_no_wake_is_lost_when_appends_race_acks_across_processes(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    """An append through one process while the wake ends through the other: either the
    ack sees the append, or the append starts the next wake. Never pending and asleep."""
    writer, worker = pair
    await setup(writer, "jobs/a")
    await writer.subscriptions.put("s", pull_wake("jobs/a"), "")
    await writer.append(append("jobs/a"))
    for round_ in range(40):
        row = await worker.subscriptions.claim("s", "w")
        await asyncio.gather(
            writer.append(append("jobs/a", round_)),
            worker.subscriptions.ack("s", claims(row), done(row)),
        )
        state = await writer.subscriptions.get("s")
        assert state.wake_id is not None, f"round {round_}: work is pending but nothing woke"


async def test_pattern_subscriptions_made_or_dropped_elsewhere_are_seen_at_once(
    pair: tuple[PostgresStorage, PostgresStorage],
) -> None:
    one, other = pair
    await setup(one, "jobs/warm")
    await other.append(append("jobs/warm"))  # nothing to link yet, whatever is cached
    await one.subscriptions.put("p", pull_wake(pattern="jobs/*"), "")
    await other.create(create("jobs/a", b'[{"n": 0}]'))
    assert [link.path for link in (await one.subscriptions.get("p")).links] == [
        "jobs/a",
        "jobs/warm",
    ]
    await one.subscriptions.delete("p")
    await other.create(create("jobs/b", b'[{"n": 0}]'))
    async with other.pool.acquire() as connection:
        links = await connection.fetch(
            f"SELECT subscription_id, path FROM {other.sql.schema}.subscription_links"
        )
    assert links == []  # no link to the deleted subscription
