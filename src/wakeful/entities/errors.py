"""The old import path of the entity runtime's errors, kept while callers move to
:mod:`wakeful.errors`."""

from __future__ import annotations

from ..errors import (
    EntityExists,
    EntityTerminated,
    InvalidArguments,
    InvalidMessage,
    InvalidSchema,
    LocalTypeConflict,
    NoPublicURL,
    TypeInUse,
    UnknownEntity,
    UnknownEntityType,
)

__all__ = [
    "EntityExists",
    "EntityTerminated",
    "InvalidArguments",
    "InvalidMessage",
    "InvalidSchema",
    "LocalTypeConflict",
    "NoPublicURL",
    "TypeInUse",
    "UnknownEntity",
    "UnknownEntityType",
]
