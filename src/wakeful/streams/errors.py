"""Typed errors of the streams layer, each carrying the HTTP status it maps to."""

from __future__ import annotations

from collections.abc import Mapping


class StreamError(Exception):
    """Base class: a request the streams layer refuses, with a status and a message."""

    status = 400
    code = "BAD_REQUEST"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.headers: dict[str, str] = dict(headers or {})
        self.details: dict[str, object] = dict(details or {})


class BadRequest(StreamError):
    status = 400
    code = "BAD_REQUEST"


class Unauthorized(StreamError):
    status = 401
    code = "UNAUTHORIZED"


class Forbidden(StreamError):
    status = 403
    code = "FORBIDDEN"


class NotFound(StreamError):
    status = 404
    code = "NOT_FOUND"


class MethodNotAllowed(StreamError):
    status = 405
    code = "METHOD_NOT_ALLOWED"


class Conflict(StreamError):
    status = 409
    code = "CONFLICT"


class Gone(StreamError):
    status = 410
    code = "GONE"


class PayloadTooLarge(StreamError):
    status = 413
    code = "PAYLOAD_TOO_LARGE"


class UnsupportedMediaType(StreamError):
    status = 415
    code = "UNSUPPORTED_MEDIA_TYPE"


class TooManyRequests(StreamError):
    status = 429
    code = "TOO_MANY_REQUESTS"
