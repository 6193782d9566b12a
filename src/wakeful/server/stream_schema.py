"""The State Protocol schema of an entity type's stream, for typed front ends.

``@durable-streams/state`` builds a typed StreamDB from ``createStateSchema({name: {type,
primaryKey, schema}})``: one collection per event type, whose rows are keyed by a field
of their value. This module describes an entity type's stream in that shape, with each
``schema`` a JSON Schema (draft 2020-12) that a front end turns into a Standard Schema
validator (Zod's ``z.fromJSONSchema``, say): the runtime's own event types, the agent's
rows, and the type's ``state:<name>`` collections.

Why each primary key is what it is: StreamDB sets ``row[primaryKey] = event.key`` on every
row it materializes, so the key field must be one that already equals the event's key
(``id`` for runs, ``url`` for child statuses) or one the value does not have (``key``,
for types keyed by something the value does not carry, like ``entity_created``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..agent import rows as r
from ..entities import event_rows as e
from ..entities import vocabulary as v

#: The collection names StreamDB keeps for itself (``db.preload``, ``db.close``, ...).
_RESERVED = frozenset({"collections", "preload", "close", "utils", "actions"})

#: The built-in collections: name, event type, row model, primary key.
BUILTIN: tuple[tuple[str, str, type[BaseModel], str], ...] = (
    ("entityCreated", v.ENTITY_CREATED, e.EntityCreatedRow, "key"),
    ("entityStopped", v.ENTITY_STOPPED, e.EntityStoppedRow, "key"),
    ("inbox", v.INBOX, e.InboxRow, "id"),
    ("wakes", v.WAKE, e.WakeRow, "key"),
    ("signals", v.SIGNAL, e.SignalRow, "id"),
    ("childStatus", v.CHILD_STATUS, e.ChildStatusRow, "url"),
    ("tags", v.TAGS, e.TagRow, "name"),
    ("manifests", v.MANIFEST, e.ManifestRow, "key"),
    ("timers", v.TIMER, e.TimerRow, "key"),
    ("errors", v.ERROR, r.ErrorRow, "key"),
    ("runs", v.RUN, r.RunRow, "id"),
    ("steps", v.STEP, r.StepRow, "id"),
    ("texts", v.TEXT, r.TextRow, "id"),
    ("textDeltas", v.TEXT_DELTA, r.DeltaRow, "key"),
    ("reasoning", v.REASONING, r.ReasoningRow, "id"),
    ("reasoningDeltas", v.REASONING_DELTA, r.DeltaRow, "key"),
    ("toolCalls", v.TOOL_CALL, r.ToolCallRow, "id"),
    ("toolResults", v.TOOL_RESULT, r.ToolResultRow, "call_id"),
)


class CollectionSchema(BaseModel):
    """One collection, as ``createStateSchema`` takes it (once ``schema`` is a validator)."""

    model_config = ConfigDict(populate_by_name=True)

    type: str = Field(..., description="The event type whose change events fill it.")
    primary_key: str = Field(
        ..., alias="primaryKey", description="The row field StreamDB keys rows by."
    )
    json_schema: dict[str, Any] = Field(
        ..., alias="schema", description="The rows' JSON Schema (draft 2020-12)."
    )


class StreamSchema(BaseModel):
    entity_type: str
    stream: str = Field(..., description="Where an entity of the type keeps its events.")
    collections: dict[str, CollectionSchema]


def stream_schema(described: dict[str, Any]) -> StreamSchema:
    """The schema of the streams of the type ``described`` (its ``describe()``)."""
    name = described["name"]
    collections: dict[str, CollectionSchema] = {}
    for collection, event_type, model, key in BUILTIN:
        schema = model.model_json_schema()
        if event_type == v.INBOX:
            schema = _with_property(schema, "payload", described.get("inbox_schema"))
        elif event_type == v.ENTITY_CREATED:
            schema = _with_property(schema, "args", described.get("args_schema"))
        collections[collection] = CollectionSchema(
            type=event_type, primary_key=key, json_schema=schema
        )
    for state_name, spec in described.get("state", {}).items():
        collection = state_name
        while collection in collections or collection in _RESERVED:
            collection = f"state_{collection}"  # a user's "runs" stays apart from ours
        collections[collection] = CollectionSchema(
            type=v.state_type(state_name), primary_key=spec["key"], json_schema=spec["schema"]
        )
    return StreamSchema(
        entity_type=name, stream=f"/v1/stream/{name}/{{id}}/main", collections=collections
    )


def _with_property(
    schema: dict[str, Any], field: str, inner: dict[str, Any] | None
) -> dict[str, Any]:
    """``schema`` with property ``field`` described by the whole schema ``inner``: its
    definitions move up beside ``schema``'s (renamed, ``<field>.<name>``), because a
    ``$ref`` resolves against the document's root, which is no longer ``inner``'s."""
    if inner is None:
        return schema
    inner = dict(inner)
    inner.pop("$schema", None)
    renamed: dict[str, str] = {}
    lifted: dict[str, Any] = {}
    for section in ("$defs", "definitions"):
        for def_name, definition in (inner.pop(section, None) or {}).items():
            renamed[f"#/{section}/{def_name}"] = f"#/$defs/{field}.{def_name}"
            lifted[f"{field}.{def_name}"] = definition
    renamed["#"] = f"#/properties/{field}"
    merged = dict(schema)
    merged["properties"] = {**schema.get("properties", {}), field: _renamed(inner, renamed)}
    if lifted:
        defs = {**schema.get("$defs", {})}
        defs.update({name: _renamed(d, renamed) for name, d in lifted.items()})
        merged["$defs"] = defs
    return merged


def _renamed(node: Any, renamed: dict[str, str]) -> Any:
    """``node`` with every ``$ref`` that ``renamed`` names pointing to its new place."""
    if isinstance(node, list):
        return [_renamed(item, renamed) for item in node]
    if not isinstance(node, dict):
        return node
    found = {key: _renamed(value, renamed) for key, value in node.items()}
    ref = found.get("$ref")
    if isinstance(ref, str) and ref in renamed:
        found["$ref"] = renamed[ref]
    return found
