"""The old import path of the streams layer's errors, kept while callers move to
:mod:`wakeful.errors`. ``StreamError`` is :class:`~wakeful.errors.WakefulError`."""

from __future__ import annotations

from ..errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    UnsupportedMediaType,
    WakefulError,
)

StreamError = WakefulError

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "Gone",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "StreamError",
    "TooManyRequests",
    "Unauthorized",
    "UnsupportedMediaType",
]
