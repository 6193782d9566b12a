"""What the HTTP handlers share: the storage backend and the server's limits."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import orjson
from starlette.requests import Request
from starlette.responses import Response

from ...errors import ErrorCode, TooManyRequests, WakefulError
from ...settings import DEFAULTS
from ..paths import MOUNT
from ..storage import Storage
from ..storage.base import DEFAULT_CHUNK_BYTES
from . import headers as h
from .statuses import headers_of, status_of


@dataclass(slots=True)
class Limits:
    max_body_bytes: int = DEFAULTS.max_body_bytes
    chunk_bytes: int = DEFAULT_CHUNK_BYTES
    long_poll_timeout: float = DEFAULTS.long_poll_timeout
    sse_max_seconds: float = DEFAULTS.sse_max_seconds
    max_live_per_client: int = DEFAULTS.max_live_per_client
    max_json_depth: int = DEFAULTS.max_json_depth  # nesting of JSON-mode appends


ReadGuard = Callable[[Request, str], Awaitable[None]]


class LiveReads:
    """Counts open live reads per client, to refuse (429) one client hoarding connections."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: dict[str, int] = {}

    def acquire(self, client: str) -> Callable[[], None]:
        count = self._open.get(client, 0)
        if count >= self.limit:
            raise TooManyRequests(
                f"too many open live reads from this client (limit {self.limit})",
                code=ErrorCode.TOO_MANY_LIVE_READS,
            )
        self._open[client] = count + 1
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            remaining = self._open.get(client, 1) - 1
            if remaining <= 0:
                self._open.pop(client, None)
            else:
                self._open[client] = remaining

        return release


@dataclass(slots=True)
class StreamsContext:
    storage: Storage
    limits: Limits = field(default_factory=Limits)
    mount: str = MOUNT
    #: Called before a read (GET or HEAD) of a stream; raises to refuse it.
    read_guard: ReadGuard | None = None
    live: LiveReads = field(init=False)

    def __post_init__(self) -> None:
        self.live = LiveReads(self.limits.max_live_per_client)


def error_response(error: WakefulError, *, head: bool = False) -> Response:
    """The one error shape of the API: ``{"error": {"code", "message", ...details}}``."""
    body = (
        b""
        if head
        else orjson.dumps(
            {"error": {"code": error.code, "message": error.message, **error.details}}
        )
    )
    response = Response(body, status_code=status_of(error), media_type="application/json")
    response.headers.update(headers_of(error))
    return response


def base_headers() -> dict[str, str]:
    return {**h.SECURITY, **h.CORS}
