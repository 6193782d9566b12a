"""Typed errors of the entity runtime (each a 4xx in the HTTP API)."""

from __future__ import annotations

from ..streams.errors import BadRequest, Conflict, NotFound


class UnknownEntityType(NotFound):
    code = "UNKNOWN_TYPE"


class UnknownEntity(NotFound):
    code = "UNKNOWN_ENTITY"


class InvalidArguments(BadRequest):
    code = "INVALID_ARGUMENTS"


class InvalidMessage(BadRequest):
    code = "INVALID_MESSAGE"


class EntityExists(Conflict):
    code = "ENTITY_EXISTS"


class EntityTerminated(Conflict):
    code = "ENTITY_TERMINATED"
