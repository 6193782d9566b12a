"""The values of the events the runtime writes on an entity's stream, as readers see them.

:mod:`.events` builds these values as plain dicts (the hot path of every pass); the
models here describe the same values for readers that want a schema: a typed front end
(``GET /v1/types/{type}/schema``) or a test that checks the stream against it. Extra
fields are allowed everywhere, so a newer writer's additions still validate.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventRow(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class EntityCreatedRow(EventRow):
    """``entity_created`` (key ``entity``): the entity's address, arguments and origin."""

    url: str
    type: str
    id: str
    args: Any = None
    parent: str | None = None
    tags: dict[str, str] = {}
    #: The principal who created it (absent when no principal did).
    owner: str | None = None


class EntityStoppedRow(EventRow):
    """``entity_stopped`` (key ``entity``): the entity stopped or was killed."""

    status: str
    reason: str | None = None


class InboxRow(EventRow):
    """``inbox``: a message sent to the entity, keyed by its id."""

    id: str
    payload: Any = None
    sender: str | None = Field(None, alias="from")


class SignalRow(EventRow):
    """``signal``: a named signal (``pause``, ``interrupt``, or the handler's own)."""

    id: str
    name: str
    payload: Any = None


class WakeRange(EventRow):
    """The events a pass consumed from one stream: ``[from, to)`` byte positions."""

    stream: str
    start: int = Field(alias="from")
    end: int = Field(alias="to")
    events: int


class WakeRow(EventRow):
    """``wake``: one committed handler pass, what woke it and what it consumed."""

    reasons: list[str]
    count: int
    generation: int
    ranges: list[WakeRange] = []


class ChildStatusRow(EventRow):
    """``child_status`` (keyed by the child's url): a spawned child's latest status."""

    url: str
    status: str
    response: Any = None
    error: str | None = None


class TagRow(EventRow):
    """``tags`` (keyed by the tag's name)."""

    name: str
    value: str


class TimerRow(EventRow):
    """``timer``: a scheduled wake that fired (``kind`` says which sort of schedule)."""

    name: str
    kind: str
    payload: Any = None


class ManifestRow(EventRow):
    """``manifest``: the runtime's bookkeeping about the entity (status, read cursors,
    observations, cron registrations), one object per key."""
