"""What lands on an entity's stream, and that a generic State Protocol reader folds it."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel
from support.waiting import of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.wake import Wake
from wakeful.state import Change, StateStore, parse

from .conftest import HarnessFactory
from .support import read_raw, wakes


class Note(BaseModel):
    id: str
    text: str


class Args(BaseModel):
    topic: str


def notes_registry() -> Registry:
    registry = Registry()

    @registry.entity("notebook", state={"notes": Note}, args=Args)
    async def notebook(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.state.notes.upsert(Note(id=str(message.payload["id"]), text=ctx.args.topic))
        if wake.first:
            ctx.set_tag("phase", "started")

    return registry


async def test_a_spawned_entity_stream_holds_the_vocabulary(
    harness_factory: HarnessFactory,
) -> None:
    harness = await harness_factory(notes_registry())
    await harness.service.spawn(
        "notebook", "n1", args={"topic": "t"}, message={"id": 1}, tags={"owner": "ann"}
    )
    events = await harness.wait_events("/notebook/n1", lambda found: len(wakes(found)) >= 1)

    # Every message is a State Protocol change event.
    for event in events:
        parsed = parse(event)
        assert isinstance(parsed, Change), event
        assert parsed.timestamp is not None

    created = of_type(events, v.ENTITY_CREATED)
    assert len(created) == 1
    assert events[0] is created[0]
    assert created[0]["key"] == "entity"
    assert created[0]["headers"]["operation"] == "insert"
    assert created[0]["value"] == {
        "url": "/notebook/n1",
        "type": "notebook",
        "id": "n1",
        "args": {"topic": "t"},
        "parent": None,
        "tags": {"owner": "ann"},
    }
    inbox = of_type(events, v.INBOX)
    assert [event["value"]["payload"] for event in inbox] == [{"id": 1}]
    assert inbox[0]["key"] == inbox[0]["value"]["id"]
    tags = of_type(events, v.TAGS)
    assert {event["key"]: event["value"] for event in tags} == {
        "owner": {"name": "owner", "value": "ann"},
        "phase": {"name": "phase", "value": "started"},
    }
    states = of_type(events, v.state_type("notes"))
    assert [(event["key"], event["value"]) for event in states] == [("1", {"id": "1", "text": "t"})]
    assert any(event["key"] == "cursor" for event in of_type(events, v.MANIFEST))

    # A generic reader (no models) materializes the entity.
    store = StateStore()
    for event in events:
        store.apply(event)
    assert store.collection("state:notes").get("1") == {"id": "1", "text": "t"}
    assert store.collection(v.ENTITY_CREATED).get("entity")["id"] == "n1"
    assert store.collection(v.TAGS).keys() == ["owner", "phase"]
    assert len(store.collection(v.WAKE)) == 1

    # The entity's status and tags are also visible without reading the stream.
    info = await harness.service.get("/notebook/n1")
    assert info.status == v.IDLE
    assert info.tags == {"owner": "ann", "phase": "started"}


async def test_wake_records_carry_real_offset_ranges_and_counts(
    harness_factory: HarnessFactory,
) -> None:
    harness = await harness_factory(notes_registry())
    await harness.service.spawn("notebook", "n1", args={"topic": "t"}, message={"id": 1})
    await harness.wait_passes("/notebook/n1", 1)
    await harness.runtime.stop()  # hold the next inputs until they are all written
    for index in range(2, 6):
        await harness.service.send("/notebook/n1", {"id": index})
    await harness.runtime.start()
    await harness.wait_passes("/notebook/n1", 2)

    raw = await read_raw(harness.storage, "notebook/n1/main")
    boundaries = {start for start, _, _ in raw} | {end for _, end, _ in raw}
    records = wakes([value for _, _, value in raw])
    assert len(records) == 2
    previous_end = 0
    for record in records:
        (only,) = record["ranges"]
        assert only["stream"] == "notebook/n1/main"
        # Ranges are contiguous, start and end on message boundaries, and hold exactly
        # the inputs (inbox, signal, child_status, timer) they count.
        assert only["from"] == previous_end
        assert only["from"] in boundaries and only["to"] in boundaries
        inside = [value for start, _, value in raw if only["from"] <= start < only["to"]]
        inputs = [event for event in inside if event["type"] in v.INPUTS]
        assert only["events"] == len(inputs) == record["count"]
        previous_end = only["to"]
    assert records[0]["reasons"] == ["spawn", "message"]
    assert records[0]["count"] == 1
    assert records[1]["reasons"] == ["message"]
    assert records[1]["count"] == 4
    assert records[1]["generation"] > records[0]["generation"]


async def test_state_is_rebuilt_from_a_snapshot_plus_the_tail_after_a_restart(
    harness_factory: HarnessFactory, database: str
) -> None:
    """Enough events make the runtime write a snapshot; a fresh runtime (no cache) then
    reads the snapshot and the tail, and the handler sees the same state."""
    registry = Registry()
    seen: list[int] = []

    @registry.entity("bulk", state={"notes": Note})
    async def bulk(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "fill":
                for index in range(600):
                    ctx.state.notes.insert(Note(id=str(index), text="x"))
            elif message.payload == "count":
                seen.append(len(ctx.state.notes))
            elif message.payload == "one-more":
                ctx.state.notes.insert(Note(id="extra", text="y"))

    first = await harness_factory(registry, database=database)
    await first.service.spawn("bulk", "b", message="fill")
    await first.wait_passes("/bulk/b", 1)
    await first.service.send("/bulk/b", "one-more")
    await first.wait_passes("/bulk/b", 2)
    snapshots = await read_raw(first.storage, "bulk/b/snapshots")
    assert len(snapshots) == 1
    assert len(snapshots[0][2]["collections"]["state:notes"]) == 600
    await first.stop()

    second = await harness_factory(registry, database=database)
    await second.service.send("/bulk/b", "count")
    await second.wait_passes("/bulk/b", 3)
    assert seen == [601]

    # The snapshot and a full replay agree.
    replayed = await second.materialize("/bulk/b")
    assert len(replayed.collection("state:notes")) == 601


async def test_the_handler_sees_no_events_of_other_entities(
    harness_factory: HarnessFactory,
) -> None:
    harness = await harness_factory(notes_registry())
    await asyncio.gather(
        harness.service.spawn("notebook", "a", args={"topic": "A"}, message={"id": 1}),
        harness.service.spawn("notebook", "b", args={"topic": "B"}, message={"id": 2}),
    )
    await harness.wait_passes("/notebook/a", 1)
    await harness.wait_passes("/notebook/b", 1)
    a = (await harness.materialize("/notebook/a")).collection("state:notes").snapshot()
    b = (await harness.materialize("/notebook/b")).collection("state:notes").snapshot()
    assert a == {"1": {"id": "1", "text": "A"}}
    assert b == {"2": {"id": "2", "text": "B"}}
