"""The body-size limit for the JSON API, as the streams protocol applies it to appends.

Without it, ``--max-body-bytes`` would bound stream appends but not a thread message or
an entity's spawn arguments, which are read whole into memory all the same.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import PayloadTooLarge
from ..streams.http.context import MOUNT, base_headers, error_response


class BodyLimitMiddleware:
    """Refuses (413) bodies over ``limit`` bytes outside the streams mount, which checks
    its own as it streams them. The body is read here, up to the limit, and handed on
    whole: the endpoints behind read whole bodies anyway."""

    def __init__(self, app: ASGIApp, limit: int, mount: str = MOUNT) -> None:
        self.app = app
        self.limit = limit
        self.mount = mount.rstrip("/") + "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.mount):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.limit:
                await self._refuse(scope, receive, send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # later: the disconnect a streaming response waits for

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            PayloadTooLarge(f"request body exceeds the limit of {self.limit} bytes")
        )
        response.headers.update(base_headers())
        await response(scope, receive, send)
