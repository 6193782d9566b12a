"""What the HTTP handlers share: the storage backend and the server's limits."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
from starlette.responses import Response

from ..errors import StreamError
from ..storage import Storage
from ..storage.base import DEFAULT_CHUNK_BYTES
from . import headers as h

MOUNT = "/v1/stream"


@dataclass(slots=True)
class Limits:
    max_body_bytes: int = 32 << 20
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    long_poll_timeout: float = 30.0
    sse_max_seconds: float = 60.0


@dataclass(slots=True)
class StreamsContext:
    storage: Storage
    limits: Limits = field(default_factory=Limits)
    mount: str = MOUNT


def error_response(error: StreamError, *, head: bool = False) -> Response:
    """The one error shape of the API: ``{"error": {"code", "message", ...details}}``."""
    body = (
        b""
        if head
        else orjson.dumps(
            {"error": {"code": error.code, "message": error.message, **error.details}}
        )
    )
    response = Response(body, status_code=error.status, media_type="application/json")
    response.headers.update(error.headers)
    return response


def base_headers() -> dict[str, str]:
    return {**h.SECURITY, **h.CORS}
