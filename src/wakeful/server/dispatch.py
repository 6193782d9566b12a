"""The streams protocol's own way through the server, in front of the framework.

A stream append or read is the server's hottest request, and it needs none of what
FastAPI adds around the JSON API (its exception and telemetry layers, the walk over every
API route before the mount's, the JSON body checks the mount skips anyway). So requests
under the mount go straight to a router of the stream and subscription routes, through
exactly the layers that apply to them: the header limits, the principal, the stream
guard. The routes answer CORS and the one error shape themselves (``protect``), and read
their bodies within the limits (``read_body``). Everything else, the lifespan included,
goes to the framework as before.
"""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Router
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ErrorCode, NotFound
from ..streams.http.context import base_headers, error_response
from ..streams.paths import MOUNT
from .access import Access, AuthenticationMiddleware, StreamGuard
from .limits import HeaderLimitMiddleware, RequestLimits
from .principals import Authenticator


class WakefulApp(FastAPI):
    """FastAPI, with the streams mount dispatched before it (see the module doc)."""

    streams: ASGIApp | None = None
    streams_mount: str = MOUNT

    def dispatch_streams(
        self,
        routes: Sequence[BaseRoute],
        *,
        limits: RequestLimits,
        authenticator: Authenticator | None,
        access: Access | None,
    ) -> None:
        # Innermost first: the same order the framework's middleware runs them in.
        stack: ASGIApp = Router(routes=list(routes), default=_no_route)
        if access is not None:
            stack = StreamGuard(stack, access=access, mount=self.streams_mount)
        stack = AuthenticationMiddleware(
            stack, authenticator=authenticator, mount=self.streams_mount
        )
        self.streams = HeaderLimitMiddleware(stack, limits=limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.streams is not None and scope["type"] == "http":
            path: str = scope["path"]
            if path == self.streams_mount or path.startswith(self.streams_mount + "/"):
                scope["app"] = self  # as the framework sets it (request.app.state)
                await self.streams(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _no_route(scope: Scope, receive: Receive, send: Send) -> None:
    """The mount's routes take every path under it; this is for the odd one they do not."""
    request = Request(scope, receive)
    error = NotFound(
        f"no route for {request.method} {request.url.path[:200]}", code=ErrorCode.NO_ROUTE
    )
    response: Response = error_response(error, head=request.method == "HEAD")
    response.headers.update(base_headers())
    await response(scope, receive, send)
