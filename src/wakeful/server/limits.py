"""Limits on what a request may carry: its headers everywhere, its body and JSON outside
the streams mount (which checks its own as it streams them).

Without them, ``--max-body-bytes`` would bound stream appends but not a thread message or
an entity's spawn arguments, which are read whole into memory all the same; and a JSON
value nested too deeply, or holding an integer past 64 bits, would be accepted and then
fail (500) where it is written to storage or back to a client.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import HeadersTooLarge, PayloadTooLarge, WakefulError
from ..settings import DEFAULTS
from ..streams import json_limits
from ..streams.http.context import base_headers, error_response
from ..streams.paths import MOUNT


@dataclass(frozen=True, slots=True)
class RequestLimits:
    max_body_bytes: int = DEFAULTS.max_body_bytes
    max_json_depth: int = DEFAULTS.max_json_depth
    max_header_bytes: int = DEFAULTS.max_header_bytes  # all names and values together
    max_headers: int = DEFAULTS.max_headers


def check_headers(headers: list[tuple[bytes, bytes]], limits: RequestLimits) -> None:
    if len(headers) > limits.max_headers:
        raise HeadersTooLarge(f"more than {limits.max_headers} request headers")
    size = sum(len(name) + len(value) + 4 for name, value in headers)  # ": " and CRLF
    if size > limits.max_header_bytes:
        raise HeadersTooLarge(f"request headers exceed {limits.max_header_bytes} bytes")


def is_json_body(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether FastAPI will read the body as JSON: a JSON media type, or none at all."""
    for name, value in headers:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (
                kind.startswith(b"application/") and kind.endswith(b"+json")
            )
    return True


def check_json_body(body: bytes, max_depth: int) -> None:
    """Refuse a body the JSON API could accept but not store or send back."""
    json_limits.loads(body, max_depth, integers=True)


class HeaderLimitMiddleware:
    """Refuses (431) a request with too many headers or too many header bytes, whatever
    HTTP parser read them (the parsers' own limits, see :mod:`.http_protocol`, also keep
    an endless header from filling memory before it reaches here)."""

    def __init__(self, app: ASGIApp, limits: RequestLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            try:
                check_headers(scope["headers"], self.limits)
            except WakefulError as error:
                await _refuse(error, scope, receive, send)
                return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses, outside the streams mount, bodies over the limit (413) and JSON bodies
    the API could not store (400). The body is read here, up to the limit, and handed on
    whole: the endpoints behind read whole bodies anyway."""

    def __init__(self, app: ASGIApp, limits: RequestLimits, mount: str = MOUNT) -> None:
        self.app = app
        self.limits = limits
        self.mount = mount.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.mount):
            await self.app(scope, receive, send)
            return
        headers: list[tuple[bytes, bytes]] = scope["headers"]
        try:
            body = await self._read_body(headers, receive)
            if body is None:
                return  # the client went away before sending its body
            if body and is_json_body(headers):
                check_json_body(body, self.limits.max_json_depth)
        except WakefulError as error:
            await _refuse(error, scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later: the disconnect a streaming response waits for

        await self.app(scope, replay, send)

    async def _read_body(
        self, headers: list[tuple[bytes, bytes]], receive: Receive
    ) -> bytes | None:
        limit = self.limits.max_body_bytes
        too_large = PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        for name, value in headers:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


async def _refuse(error: WakefulError, scope: Scope, receive: Receive, send: Send) -> None:
    response = error_response(error)
    response.headers.update(base_headers())
    await response(scope, receive, send)
