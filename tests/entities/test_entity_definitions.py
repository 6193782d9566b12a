"""Defining entity types: the decorator API, names, collections and schemas."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field
from support.waiting import eventually

from wakeful.entities.addressing import InvalidAddress
from wakeful.entities.context import Context
from wakeful.entities.definition import EntityType, Registry, collection
from wakeful.entities.wake import Signal, Wake
from wakeful.errors import (
    EntityExists,
    InvalidArguments,
    InvalidMessage,
    UnknownEntityType,
)
from wakeful.streams.http.statuses import status_of

from .conftest import HarnessFactory


class Note(BaseModel):
    id: str
    text: str


class Person(BaseModel):
    name: str
    age: int = Field(ge=0)


class Args(BaseModel):
    title: str
    limit: int = 3


class Inbox(BaseModel):
    text: str
    urgent: bool = False


async def noop(ctx: Context, wake: Wake) -> None:
    """Does nothing at all."""


def test_the_decorator_registers_a_type_with_its_options() -> None:
    registry = Registry()

    @registry.entity(
        "notes",
        description="Keeps notes.",
        state={"notes": Note, "people": collection(Person, key="name")},
        args=Args,
        inbox=Inbox,
        max_attempts=5,
    )
    async def notes(ctx: Context, wake: Wake) -> None:
        pass

    assert isinstance(notes, EntityType)
    assert "notes" in registry
    assert "other" not in registry
    assert len(registry) == 1
    assert list(registry) == [notes]
    assert registry.get("notes") is notes
    assert notes.name == "notes"
    assert notes.description == "Keeps notes."
    assert notes.args is Args and notes.inbox is Inbox
    assert notes.max_attempts == 5
    assert notes.state["notes"].key == "id"
    assert notes.state["people"].key == "name"
    assert notes.state["people"].model is Person


def test_the_description_defaults_to_the_handler_docstring() -> None:
    registry = Registry()
    defined = registry.define("quiet", noop)
    assert defined.description == "Does nothing at all."


def test_describe_gives_json_schemas() -> None:
    registry = Registry()
    registry.define("notes", noop, state={"people": collection(Person, key="name")}, args=Args)
    described = registry.get("notes").describe()
    assert described["name"] == "notes"
    assert described["state"]["people"]["key"] == "name"
    assert described["state"]["people"]["schema"]["properties"]["age"]["minimum"] == 0
    assert described["args_schema"]["required"] == ["title"]
    assert described["inbox_schema"] is None


def test_a_duplicate_type_name_is_refused() -> None:
    registry = Registry()
    registry.define("chat", noop)
    with pytest.raises(ValueError, match="already defined"):
        registry.define("chat", noop)
    with pytest.raises(ValueError, match="already defined"):
        registry.entity("chat")(noop)
    assert len(registry) == 1


@pytest.mark.parametrize(
    "name",
    ["", "Chat", "1chat", "chat/room", "chat~room", "chat room", "ch.at", "x" * 65, "_chat", "é"],
)
def test_invalid_type_names_are_refused(name: str) -> None:
    registry = Registry()
    with pytest.raises(InvalidAddress):
        registry.define(name, noop)
    assert len(registry) == 0


@pytest.mark.parametrize("name", ["a", "chat", "chat-room", "chat_room2", "x" * 64])
def test_valid_type_names_are_accepted(name: str) -> None:
    registry = Registry()
    assert registry.define(name, noop).name == name


def test_max_attempts_must_be_positive() -> None:
    with pytest.raises(ValueError, match="max_attempts"):
        Registry().define("t", noop, max_attempts=0)


def test_unknown_types_raise_a_typed_error() -> None:
    with pytest.raises(UnknownEntityType) as caught:
        Registry().get("ghost")
    assert status_of(caught.value) == 404
    assert caught.value.code == "UNKNOWN_TYPE"


def test_a_collection_key_must_be_a_field_of_its_model() -> None:
    with pytest.raises(TypeError, match="no field 'slug'"):
        collection(Note, key="slug")
    with pytest.raises(TypeError, match="no field 'id'"):
        Registry().define("people", noop, state={"people": Person})


def test_a_row_without_a_key_value_cannot_be_keyed() -> None:
    class Maybe(BaseModel):
        id: str | None = None

    spec = collection(Maybe)
    assert spec.key_of(Maybe(id="x")) == "x"
    with pytest.raises(ValueError, match="no 'id'"):
        spec.key_of(Maybe())


def test_args_are_validated_against_the_schema() -> None:
    registry = Registry()
    defined = registry.define("t", noop, args=Args)
    validated = defined.validate_args({"title": "hello"})
    assert validated == Args(title="hello", limit=3)
    with pytest.raises(InvalidArguments, match="title"):
        defined.validate_args({})
    with pytest.raises(InvalidArguments, match="title"):
        defined.validate_args(None)
    with pytest.raises(InvalidArguments, match="limit"):
        defined.validate_args({"title": "x", "limit": "many"})
    with pytest.raises(InvalidArguments):
        defined.validate_args("just a string")
    # Without a schema, anything JSON goes, and missing args are an empty object.
    plain = registry.define("plain", noop)
    assert plain.validate_args(None) == {}
    assert plain.validate_args([1, 2]) == [1, 2]


def test_messages_are_validated_against_the_inbox_schema() -> None:
    registry = Registry()
    defined = registry.define("t", noop, inbox=Inbox)
    assert defined.validate_message({"text": "hi"}) == Inbox(text="hi")
    with pytest.raises(InvalidMessage, match="text") as caught:
        defined.validate_message({"urgent": True})
    assert status_of(caught.value) == 400
    assert caught.value.code == "INVALID_MESSAGE"
    with pytest.raises(InvalidMessage):
        defined.validate_message("plain text")
    assert registry.define("plain", noop).validate_message("plain text") == "plain text"


def test_the_signal_handler_decorator_attaches_a_callback() -> None:
    registry = Registry()
    defined = registry.define("t", noop)

    @defined.signal_handler
    async def on_signal(ctx: Context, signal: Signal) -> None:
        pass

    assert defined.on_signal is on_signal


def test_registry_load_finds_a_registry_by_module_and_attribute() -> None:
    loaded = Registry.load(f"{__name__}:REGISTRY")
    assert loaded is REGISTRY
    with pytest.raises(ValueError, match="module:attribute"):
        Registry.load("no-colon")
    with pytest.raises(TypeError, match="not a wakeful Registry"):
        Registry.load(f"{__name__}:Note")
    with pytest.raises(ImportError):
        Registry.load("no_such_module_anywhere:registry")


REGISTRY = Registry()


async def test_spawning_validates_args_and_the_first_message(
    harness_factory: HarnessFactory,
) -> None:
    registry = Registry()
    seen: list[tuple[object, list[object]]] = []

    @registry.entity("doc", args=Args, inbox=Inbox)
    async def doc(ctx: Context, wake: Wake) -> None:
        seen.append((ctx.args, [message.payload for message in wake.messages]))

    harness = await harness_factory(registry)
    with pytest.raises(InvalidArguments):
        await harness.service.spawn("doc", "a", args={"limit": 1})
    with pytest.raises(InvalidMessage):
        await harness.service.spawn("doc", "a", args={"title": "t"}, message={"wrong": 1})
    with pytest.raises(UnknownEntityType):
        await harness.service.spawn("nothing", "a")
    # Nothing was created by the refused spawns.
    assert await harness.service.list() == []

    await harness.service.spawn("doc", "a", args={"title": "t"}, message={"text": "hello"})

    async def ran() -> bool:
        return bool(seen)

    await eventually(ran, what="the first pass")
    args, payloads = seen[0]
    assert args == Args(title="t", limit=3)
    assert payloads == [Inbox(text="hello")]

    with pytest.raises(InvalidMessage):
        await harness.service.send("/doc/a", {"urgent": True})
    with pytest.raises(EntityExists):
        await harness.service.spawn("doc", "a", args={"title": "again"})


@pytest.mark.parametrize("entity_id", ["a/b", "..", ".", "", "x" * 129, "a b", "a?b", "é"])
async def test_spawning_refuses_ids_that_cannot_name_an_entity(
    harness_factory: HarnessFactory, entity_id: str
) -> None:
    registry = Registry()
    registry.define("doc", noop)
    harness = await harness_factory(registry, workers=False)
    if entity_id == "":
        # An empty id means "generate one".
        info = await harness.service.spawn("doc", entity_id)
        assert info.id
        return
    with pytest.raises(InvalidAddress):
        await harness.service.spawn("doc", entity_id)
    assert await harness.service.list() == []
