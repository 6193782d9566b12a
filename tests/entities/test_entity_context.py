"""The handler context: state, children, messages, observation, shared state, time, tags."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError
from support.waiting import eventually, of_type

from wakeful.entities import vocabulary as v
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry, collection
from wakeful.entities.wake import Change, Wake
from wakeful.errors import InvalidArguments, InvalidMessage, UnknownEntityType

from .conftest import HarnessFactory
from .support import wakes


class Item(BaseModel):
    id: str
    qty: int
    color: str = "none"


class Person(BaseModel):
    name: str
    age: int


def recorder() -> tuple[list[Any], Any]:
    """A list and an awaitable probe: ``await until(n)`` waits for ``n`` entries."""
    seen: list[Any] = []

    async def until(count: int, within: float = 5.0) -> list[Any]:
        async def probe() -> bool:
            return len(seen) >= count

        await eventually(probe, within=within, what=f"{count} recorded entries")
        return seen

    return seen, until


# --- state ---------------------------------------------------------------------------


async def test_state_crud_reads_its_own_buffered_writes(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("shop", state={"items": Item, "people": collection(Person, key="name")})
    async def shop(ctx: Context, wake: Wake) -> None:
        items = ctx.state.items
        for message in wake.messages:
            if message.payload == "fill":
                items.insert(Item(id="a", qty=1, color="red"))
                items.insert({"id": "b", "qty": 2, "color": "blue"})
                items.upsert(Item(id="c", qty=3, color="red"))
                ctx.state["people"].insert(Person(name="ann", age=30))
                # Reads see this pass's writes before they are committed.
                seen.append(("during", sorted(row.id for row in items)))
                with pytest.raises(KeyError):
                    items.insert(Item(id="a", qty=9))
                with pytest.raises(KeyError):
                    items.update(Item(id="zzz", qty=9))
                with pytest.raises(KeyError):
                    items.delete("zzz")
                with pytest.raises(ValidationError):
                    items.insert({"id": "bad", "qty": "lots"})
            elif message.payload == "change":
                items.update(Item(id="a", qty=10, color="red"))
                items.upsert(Item(id="b", qty=20, color="red"))
                items.delete("c")
            elif message.payload == "read":
                seen.append(
                    (
                        "read",
                        items.get("a"),
                        items["b"],
                        "c" in items,
                        len(items),
                        sorted(row.id for row in items.where(color="red")),
                        [
                            row.id
                            for row in items.query(
                                lambda row: row.qty > 5, order_by=lambda row: -row.qty
                            )
                        ],
                        [row.id for row in items.query(order_by=lambda row: row.id, limit=1)],
                        ctx.state.people.get("ann"),
                        sorted(ctx.state),
                    )
                )

    harness = await harness_factory(registry)
    await harness.service.spawn("shop", "s", message="fill")
    await until(1)
    await harness.wait_passes("/shop/s", 1)
    assert seen[0] == ("during", ["a", "b", "c"])
    await harness.service.send("/shop/s", "change")
    await harness.wait_passes("/shop/s", 2)
    await harness.service.send("/shop/s", "read")
    await until(2)
    _, a, b, has_c, size, red, big, first, ann, names = seen[1]
    assert a == Item(id="a", qty=10, color="red")
    assert b == Item(id="b", qty=20, color="red")
    assert has_c is False
    assert size == 2
    assert red == ["a", "b"]
    assert big == ["b", "a"]
    assert first == ["a"]
    assert ann == Person(name="ann", age=30)
    assert names == ["items", "people"]

    events = await harness.events("/shop/s")
    changes = [
        (event["key"], event["headers"]["operation"])
        for event in of_type(events, v.state_type("items"))
    ]
    assert changes == [
        ("a", "insert"),
        ("b", "insert"),
        ("c", "insert"),
        ("a", "update"),
        ("b", "update"),
        ("c", "delete"),
    ]
    updated = of_type(events, v.state_type("items"))[3]
    assert updated["old_value"] == {"id": "a", "qty": 1, "color": "red"}
    assert of_type(events, v.state_type("people"))[0]["key"] == "ann"


async def test_a_failing_pass_leaves_no_state_events(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("shop", state={"items": Item}, max_attempts=1)
    async def shop(ctx: Context, wake: Wake) -> None:
        if ctx.id == "s":  # the children's passes run at their own pace
            seen.append(sorted(row.id for row in ctx.state.items))
        for message in wake.messages:
            ctx.state.items.insert(Item(id=str(message.payload), qty=1))
            ctx.set_tag("touched", "yes")
            ctx.spawn("shop", f"child-{message.payload}")
            if message.payload == "boom":
                raise RuntimeError("after writing")

    harness = await harness_factory(registry)
    await harness.service.spawn("shop", "s", message="ok")
    await harness.wait_passes("/shop/s", 1)
    await harness.service.send("/shop/s", "boom")
    await harness.wait_status("/shop/s", v.FAILED)
    events = await harness.events("/shop/s")
    assert [event["key"] for event in of_type(events, v.state_type("items"))] == ["ok"]
    assert len(of_type(events, v.ERROR)) == 1
    # Nothing else the failing pass asked for happened either.
    assert [info.url for info in await harness.service.list(type_name="shop")] == [
        "/shop/child-ok",
        "/shop/s",
    ]
    # A later pass does not see the failed pass's writes.
    await harness.service.signal("/shop/s", "resume")
    await until(3)
    assert seen[1:3] == [["ok"], ["ok"]]


async def test_state_rows_are_validated_against_the_model(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()

    @registry.entity("shop", state={"items": Item}, max_attempts=1)
    async def shop(ctx: Context, wake: Wake) -> None:
        ctx.state.items.insert({"id": "x", "qty": "not a number"})

    harness = await harness_factory(registry)
    await harness.service.spawn("shop", "s", message="go")
    await harness.wait_status("/shop/s", v.FAILED)
    events = await harness.events("/shop/s")
    assert of_type(events, v.state_type("items")) == []
    (error,) = of_type(events, v.ERROR)
    assert "ValidationError" in error["value"]["message"]


# --- identity, tags, built-in collections ---------------------------------------------


async def test_identity_first_wake_and_tags(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("who")
    async def who(ctx: Context, wake: Wake) -> None:
        seen.append(
            {
                "url": ctx.url,
                "type": ctx.type,
                "id": ctx.id,
                "args": ctx.args,
                "parent": ctx.parent,
                "first": ctx.first_wake,
                "tags": ctx.tags,
                "inbox": len(ctx.collection(v.INBOX)),
            }
        )
        for message in wake.messages:
            if message.payload == "tag":
                ctx.set_tag("stage", "two")
                ctx.remove_tag("owner")
                assert ctx.tags == {"stage": "two"}

    harness = await harness_factory(registry)
    await harness.service.spawn("who", "w1", args={"any": [1]}, tags={"owner": "ann"}, message="x")
    await until(1)
    assert seen[0] == {
        "url": "/who/w1",
        "type": "who",
        "id": "w1",
        "args": {"any": [1]},
        "parent": None,
        "first": True,
        "tags": {"owner": "ann"},
        "inbox": 1,
    }
    await harness.service.send("/who/w1", "tag")
    await until(2)
    assert seen[1]["first"] is False
    await harness.service.send("/who/w1", "look")
    await until(3)
    assert seen[2]["tags"] == {"stage": "two"}
    assert seen[2]["inbox"] == 3
    info = await harness.service.get("/who/w1")
    assert info.tags == {"stage": "two"}
    assert [i.url for i in await harness.service.list(tag=("stage", "two"))] == ["/who/w1"]
    assert await harness.service.list(tag=("owner", "ann")) == []


# --- children ------------------------------------------------------------------------


class ChildArgs(BaseModel):
    word: str


def family_registry(seen: list[Any]) -> Registry:
    registry = Registry()

    @registry.entity("parent")
    async def parent(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "spawn":
                url = ctx.spawn("child", "c1", args={"word": "hello"}, message="first")
                seen.append(("spawned", url))
                quiet = ctx.spawn("child", args={"word": "quiet"}, wake_on_finish=False)
                seen.append(("quiet", quiet))
            if message.payload == "bad-args":
                with pytest.raises(InvalidArguments):
                    ctx.spawn("child", "c2", args={"nope": 1})
                with pytest.raises(UnknownEntityType):
                    ctx.spawn("nobody", "c3")
                seen.append(("refused", None))
            if message.payload == "spawn-failing":
                ctx.spawn("child", "bad", args={"word": "fail"})
        for child in wake.children:
            seen.append(("child", child.url, child.status, child.response, child.error))

    @registry.entity("child", args=ChildArgs, max_attempts=1)
    async def child(ctx: Context, wake: Wake) -> None:
        if ctx.args.word == "fail":
            raise ValueError("child cannot")
        seen.append(("child-ran", ctx.url, ctx.parent, [m.payload for m in wake.messages]))
        ctx.complete({"echo": ctx.args.word, "from": [m.sender for m in wake.messages]})

    return registry


async def test_spawn_with_args_and_message_wakes_the_parent_with_the_response(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    harness = await harness_factory(family_registry(seen))
    await harness.service.spawn("parent", "p", message="spawn")

    async def child_reported() -> bool:
        return any(entry[0] == "child" for entry in seen)

    await eventually(child_reported, what="the child's report")
    assert ("spawned", "/child/c1") in seen
    assert ("child-ran", "/child/c1", "/parent/p", ["first"]) in seen
    reports = [entry for entry in seen if entry[0] == "child"]
    assert reports == [
        ("child", "/child/c1", "completed", {"echo": "hello", "from": ["/parent/p"]}, None)
    ]
    quiet = next(entry[1] for entry in seen if entry[0] == "quiet")
    quiet_info = await harness.service.get(quiet)
    assert quiet_info.parent is None
    children = await harness.service.list(parent="/parent/p")
    assert [info.url for info in children] == ["/child/c1"]
    # The handler saw the report; its pass commits (with its wake record) just after.
    await harness.wait_passes("/parent/p", 2)
    events = await harness.events("/parent/p")
    manifest = {event["key"] for event in of_type(events, v.MANIFEST)}
    assert {"child:/child/c1", f"child:{quiet}"} <= manifest
    (status,) = of_type(events, v.CHILD_STATUS)
    assert status["value"]["status"] == "completed"
    assert wakes(events)[-1]["reasons"] == ["child"]


async def test_spawn_validates_in_the_handler(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(family_registry(seen))
    await harness.service.spawn("parent", "p", message="bad-args")

    async def refused() -> bool:
        return ("refused", None) in seen

    await eventually(refused)
    await harness.wait_passes("/parent/p", 1)
    assert [info.url for info in await harness.service.list()] == ["/parent/p"]


async def test_a_failing_child_reports_its_failure(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(family_registry(seen))
    await harness.service.spawn("parent", "p", message="spawn-failing")

    async def reported() -> bool:
        return any(entry[0] == "child" for entry in seen)

    await eventually(reported)
    (report,) = [entry for entry in seen if entry[0] == "child"]
    assert report[1:3] == ("/child/bad", "failed")
    assert "child cannot" in report[4]
    assert await harness.status("/child/bad") == v.FAILED


async def test_spawning_an_existing_child_fails_the_pass_without_its_effects(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    registry = Registry()

    class Row(BaseModel):
        id: str

    @registry.entity("parent", state={"rows": Row}, max_attempts=1)
    async def parent(ctx: Context, wake: Wake) -> None:
        ctx.state.rows.upsert(Row(id="r"))
        ctx.spawn("kid", "same")
        seen.append(ctx.url)

    @registry.entity("kid")
    async def kid(ctx: Context, wake: Wake) -> None:
        pass

    harness = await harness_factory(registry)
    await harness.service.spawn("kid", "same")
    await harness.service.spawn("parent", "p", message="go")
    await harness.wait_status("/parent/p", v.FAILED)
    events = await harness.events("/parent/p")
    assert of_type(events, v.state_type("rows")) == []
    (error,) = of_type(events, v.ERROR)
    assert "exists" in error["value"]["message"]


# --- messages ------------------------------------------------------------------------


class Text(BaseModel):
    text: str


async def test_send_now_and_later(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("sender")
    async def sender(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "go":
                ctx.send("/receiver/r", {"text": "now"})
                ctx.send("/receiver/r", {"text": "later"}, delay=0.3)
                with pytest.raises(InvalidMessage):
                    ctx.send("/receiver/r", {"wrong": True})
                with pytest.raises(UnknownEntityType):
                    ctx.send("/ghost/g", "x")
                # A known type but no such entity: the message goes nowhere.
                ctx.send("/receiver/missing", {"text": "lost"})
                seen.append(("sent", time.monotonic()))

    @registry.entity("receiver", inbox=Text)
    async def receiver(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            seen.append((message.payload.text, message.sender, time.monotonic()))

    harness = await harness_factory(registry)
    await harness.service.spawn("receiver", "r")
    await harness.service.spawn("sender", "s", message="go")
    await until(3)
    sent_at = seen[0][1]
    assert [entry[:2] for entry in seen[1:]] == [("now", "/sender/s"), ("later", "/sender/s")]
    assert seen[2][2] - sent_at >= 0.25
    assert [i.url for i in await harness.service.list(type_name="receiver")] == ["/receiver/r"]


# --- observing ------------------------------------------------------------------------


def observing_registry(
    seen: list[Any], options: dict[str, Any], target: str = "/source/s"
) -> Registry:
    registry = Registry()

    @registry.entity("source", state={"items": Item})
    async def source(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            operation, key = message.payload.split(":")
            if operation == "insert":
                ctx.state.items.insert(Item(id=key, qty=1))
            elif operation == "update":
                ctx.state.items.update(Item(id=key, qty=2))
            elif operation == "delete":
                ctx.state.items.delete(key)
            elif operation == "tag":
                ctx.set_tag("t", key)

    @registry.entity("watcher")
    async def watcher(ctx: Context, wake: Wake) -> None:
        if wake.first:
            ctx.observe(target, **options)
        seen.append((tuple(wake.reasons), list(wake.changes), list(wake.timers), time.time()))

    return registry


def changes_of(seen: list[Any]) -> list[tuple[str, str, str]]:
    return [
        (change.collection, change.key, change.operation)
        for _, changes, _, _ in seen
        for change in changes
    ]


async def test_observe_wakes_on_changes_of_another_entity(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    harness = await harness_factory(observing_registry(seen, {}))
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="start")
    await harness.wait_passes("/watcher/w", 1)
    await harness.service.send("/source/s", "insert:a")

    async def observed() -> bool:
        return ("state:items", "a", "insert") in changes_of(seen)

    await eventually(observed, what="the insert to be observed")
    change = next(c for _, changes, _, _ in seen for c in changes if c.key == "a")
    assert isinstance(change, Change)
    assert change.stream == "source/s/main"
    assert change.value == {"id": "a", "qty": 1, "color": "none"}
    assert change.shared is False
    reasons = [entry[0] for entry in seen if entry[1]]
    assert all("change" in r for r in reasons)
    manifest = of_type(await harness.events("/watcher/w"), v.MANIFEST)
    assert any(event["key"] == "observe:source/s/main" for event in manifest)


async def test_observe_filters_by_collection_and_operation(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    options = {"collections": ["state:items"], "operations": ["insert", "delete"]}
    harness = await harness_factory(observing_registry(seen, options))
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="start")
    await harness.wait_passes("/watcher/w", 1)
    for step in ["insert:a", "update:a", "tag:x", "delete:a", "insert:b"]:
        await harness.service.send("/source/s", step)
        await harness.wait_passes("/source/s", 1 + len(wakes(await harness.events("/source/s"))))

    async def all_seen() -> bool:
        return ("state:items", "b", "insert") in changes_of(seen)

    await eventually(all_seen, what="the last insert")
    assert changes_of(seen) == [
        ("state:items", "a", "insert"),
        ("state:items", "a", "delete"),
        ("state:items", "b", "insert"),
    ]
    # Filtered-out changes never run the handler.
    assert all(changes for _, changes, _, _ in seen[1:])


async def test_observe_with_debounce_coalesces_a_burst(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(
        observing_registry(seen, {"collections": ["state:items"], "debounce": 0.4})
    )
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="start")
    await harness.wait_passes("/watcher/w", 1)
    started = time.time()
    for key in "abc":
        await harness.service.send("/source/s", f"insert:{key}")
        await asyncio.sleep(0.05)

    async def all_seen() -> bool:
        return len(changes_of(seen)) >= 3

    await eventually(all_seen, what="the debounced changes")
    await asyncio.sleep(0.3)
    passes_with_changes = [entry for entry in seen if entry[1]]
    assert len(passes_with_changes) == 1
    assert changes_of(seen) == [("state:items", key, "insert") for key in "abc"]
    assert passes_with_changes[0][3] - started >= 0.4


async def test_observe_timeout_wakes_when_nothing_changes(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    harness = await harness_factory(observing_registry(seen, {"timeout": 0.3}))
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="start")

    async def timed_out() -> bool:
        return any(entry[2] for entry in seen)

    await eventually(timed_out, what="the timeout")
    entry = next(entry for entry in seen if entry[2])
    assert entry[0] == ("timeout",)
    (timer,) = entry[2]
    assert timer.kind == "timeout"
    assert timer.payload == {"target": "/source/s"}


async def test_observe_timeout_is_cancelled_by_a_change(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(
        # Long enough for the change to arrive first on a loaded machine, which is what
        # the test is about (a change that came late would rightly be a timeout).
        observing_registry(seen, {"timeout": 2.0, "collections": ["state:items"]})
    )
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="start")
    await harness.wait_passes("/watcher/w", 1)
    await harness.service.send("/source/s", "insert:a")

    async def observed() -> bool:
        return bool(changes_of(seen))

    await eventually(observed)
    await asyncio.sleep(2.2)
    assert not any(entry[2] for entry in seen)


async def test_unobserve_stops_the_wakes(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("source", state={"items": Item})
    async def source(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.state.items.insert(Item(id=str(message.payload), qty=1))

    @registry.entity("watcher")
    async def watcher(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "watch":
                ctx.observe("/source/s", collections=["state:items"])
            elif message.payload == "stop":
                ctx.unobserve("/source/s")
        seen.extend(change.key for change in wake.changes)

    harness = await harness_factory(registry)
    await harness.service.spawn("source", "s")
    await harness.service.spawn("watcher", "w", message="watch")
    await harness.wait_passes("/watcher/w", 1)
    await harness.service.send("/source/s", "one")
    await until(1)
    await harness.service.send("/watcher/w", "stop")
    await harness.wait_passes("/watcher/w", 3)
    await harness.service.send("/source/s", "two")
    await harness.wait_passes("/source/s", 3)
    await asyncio.sleep(0.2)
    assert seen == ["one"]


# --- shared state --------------------------------------------------------------------


def board_registry(
    seen: list[Any], *, fail_writer: bool = False, joining: bool = False
) -> Registry:
    """Members of one shared board; with ``joining``, they join it with ``join_shared``."""
    registry = Registry()

    @registry.entity("member", max_attempts=1)
    async def member(ctx: Context, wake: Wake) -> None:
        board = await ctx.join_shared("board") if joining else ctx.shared("board")
        for message in wake.messages:
            command, _, key = str(message.payload).partition(":")
            if command == "write":
                board.insert("cards", key, {"id": key, "by": ctx.id})
            elif command == "update":
                board.update("cards", key, {"id": key, "by": ctx.id, "edited": True})
            elif command == "remove":
                board.delete("cards", key)
            elif command == "fail":
                board.insert("cards", key, {"id": key, "by": ctx.id})
                raise RuntimeError("after a shared write")
            elif command == "read":
                seen.append(("read", ctx.id, sorted(board.collection("cards").keys())))
        for change in wake.changes:
            seen.append(
                (
                    "change",
                    ctx.id,
                    change.collection,
                    change.key,
                    change.operation,
                    change.shared,
                    tuple(wake.reasons),
                )
            )

    return registry


async def test_shared_state_create_join_write_and_wake(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(board_registry(seen))
    await harness.service.spawn("member", "ann", message="write:1")
    await harness.wait_passes("/member/ann", 1)
    shared = await harness.storage.head("_shared/board")
    assert shared.tail > 0
    assert (await harness.storage.labels("_shared/board")).get("kind") == "shared"
    await harness.service.spawn("member", "bob", message="join")
    await harness.wait_passes("/member/bob", 1)
    await harness.service.send("/member/bob", "read")

    async def bob_read() -> bool:
        return ("read", "bob", ["1"]) in seen

    await eventually(bob_read, what="bob to read ann's card")
    await harness.service.send("/member/bob", "write:2")

    async def ann_saw() -> bool:
        return any(entry[:4] == ("change", "ann", "state:cards", "2") for entry in seen)

    await eventually(ann_saw, what="ann to see bob's card")
    change = next(entry for entry in seen if entry[:4] == ("change", "ann", "state:cards", "2"))
    assert change[4:] == ("insert", True, ("shared",))
    await harness.service.send("/member/ann", "update:2")

    async def bob_saw_update() -> bool:
        return any(entry[:5] == ("change", "bob", "state:cards", "2", "update") for entry in seen)

    await eventually(bob_saw_update, what="bob to see ann's edit")
    await harness.service.send("/member/bob", "remove:1")

    async def ann_saw_delete() -> bool:
        return any(entry[:5] == ("change", "ann", "state:cards", "1", "delete") for entry in seen)

    await eventually(ann_saw_delete, what="ann to see bob's delete")
    await harness.service.send("/member/ann", "read")

    async def ann_read() -> bool:
        return ("read", "ann", ["2"]) in seen

    await eventually(ann_read)
    board = await harness.storage.head("_shared/board")
    assert board.tail > shared.tail


async def test_join_shared_shows_what_is_already_there_in_the_joining_pass(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    harness = await harness_factory(board_registry(seen, joining=True))
    await harness.service.spawn("member", "ann", message="write:1")
    await harness.wait_passes("/member/ann", 1)
    await harness.service.spawn("member", "bob", message="read")

    async def bob_read(count: int) -> bool:
        return len([entry for entry in seen if entry[:2] == ("read", "bob")]) >= count

    await eventually(lambda: bob_read(1))
    assert ("read", "bob", ["1"]) in seen
    # Joined: later passes write to it and see everyone's rows, as with ctx.shared().
    await harness.service.send("/member/bob", "write:2")
    await harness.wait_passes("/member/bob", 2)
    await harness.service.send("/member/bob", "read")
    await eventually(lambda: bob_read(2))
    assert ("read", "bob", ["1", "2"]) in seen


async def test_an_entity_is_not_woken_by_its_own_shared_writes(
    harness_factory: HarnessFactory,
) -> None:
    seen: list[Any] = []
    harness = await harness_factory(board_registry(seen))
    await harness.service.spawn("member", "ann", message="write:1")
    await harness.wait_passes("/member/ann", 1)
    await harness.service.send("/member/ann", "write:2")
    await harness.wait_passes("/member/ann", 2)
    await asyncio.sleep(0.3)
    assert [entry for entry in seen if entry[0] == "change"] == []
    assert len(wakes(await harness.events("/member/ann"))) == 2


async def test_a_failed_shared_write_is_invisible(harness_factory: HarnessFactory) -> None:
    seen: list[Any] = []
    harness = await harness_factory(board_registry(seen))
    await harness.service.spawn("member", "ann", message="write:1")
    await harness.wait_passes("/member/ann", 1)
    await harness.service.spawn("member", "bob", message="join")
    await harness.wait_passes("/member/bob", 1)
    await harness.service.send("/member/ann", "fail:ghost")
    await harness.wait_status("/member/ann", v.FAILED)
    await harness.service.send("/member/bob", "read")

    async def bob_read() -> bool:
        return any(entry[0] == "read" for entry in seen)

    await eventually(bob_read)
    assert ("read", "bob", ["1"]) in seen


# --- timers and cron ------------------------------------------------------------------


async def test_timers_fire_once_and_can_be_cancelled(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("clock")
    async def clock(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "arm":
                ctx.timer("ring", 0.2, {"n": 1})
                ctx.timer("never", 0.3)
            elif message.payload == "disarm":
                ctx.cancel_timer("never")
        for timer in wake.timers:
            seen.append((timer.name, timer.kind, timer.payload, tuple(wake.reasons)))
            if timer.name.endswith("ring"):
                # Cancel the other one right after the first fires.
                ctx.cancel_timer("never")

    harness = await harness_factory(registry)
    await harness.service.spawn("clock", "c", message="arm")
    await until(1)
    await asyncio.sleep(0.4)
    assert len(seen) == 1
    name, kind, payload, reasons = seen[0]
    assert kind == "timer"
    assert name in ("ring", "timer:ring")
    assert payload == {"n": 1}
    assert reasons == ("timer",)


async def test_cron_ticks_until_cancelled(harness_factory: HarnessFactory) -> None:
    registry = Registry()
    seen, until = recorder()

    @registry.entity("ticker")
    async def ticker(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "start":
                ctx.cron("every-second", "* * * * * *", {"job": "tick"})
                with pytest.raises(InvalidArguments):
                    ctx.cron("bad", "not a cron")
        for timer in wake.timers:
            seen.append((timer.kind, timer.payload, time.time()))
            if len(seen) == 2:
                ctx.cancel_cron("every-second")

    harness = await harness_factory(registry)
    await harness.service.spawn("ticker", "t", message="start")
    await until(2, within=4)
    assert [entry[0] for entry in seen] == ["cron", "cron"]
    assert seen[0][1]["payload"] == {"job": "tick"}
    assert seen[1][2] - seen[0][2] >= 0.5
    await asyncio.sleep(1.5)
    assert len(seen) == 2, "the cron kept ticking after cancel_cron"
    manifest = (await harness.materialize("/ticker/t")).collection(v.MANIFEST)
    assert "cron:every-second" not in manifest


async def test_a_deleted_entitys_timers_do_not_reach_a_new_entity_with_its_id(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    seen, _ = recorder()

    @registry.entity("clock")
    async def clock(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            if message.payload == "arm":
                ctx.timer("ring", 0.3)
        seen.extend((ctx.url, timer.kind) for timer in wake.timers)

    harness = await harness_factory(registry)
    await harness.service.spawn("clock", "c", message="arm")
    await harness.wait_passes("/clock/c", 1)
    await harness.service.delete("/clock/c")
    await harness.service.spawn("clock", "c")
    await harness.wait_passes("/clock/c", 1)
    await asyncio.sleep(0.6)
    assert seen == []
    assert of_type(await harness.events("/clock/c"), v.TIMER) == []
