"""Typed errors of the entity runtime, each with the HTTP status it maps to."""

from __future__ import annotations

from ..streams.errors import BadRequest, Conflict, NotFound, StreamError


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


class InvalidSchema(BadRequest):
    code = "INVALID_SCHEMA"


class LocalTypeConflict(Conflict):
    """Types defined in Python belong to the code that runs them; HTTP cannot replace them."""

    code = "LOCAL_TYPE"


class TypeInUse(Conflict):
    code = "TYPE_IN_USE"


class NoPublicURL(StreamError):
    """Webhook services call back to the server, so it must know the address they can reach."""

    status = 503
    code = "NO_PUBLIC_URL"
