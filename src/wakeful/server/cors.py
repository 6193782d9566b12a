"""Cross-origin access to the JSON API and AG-UI, for browsers on other origins.

The streams mount answers CORS itself, for any origin, as the Durable Streams clients
expect (its preflight names the protocol's headers); everything else goes through
Starlette's ``CORSMiddleware`` with the configured origins.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from ..streams.paths import MOUNT

API_METHODS = ["GET", "POST", "PUT", "DELETE"]
EXPOSED = ["Location", "Retry-After", "WWW-Authenticate"]
PREFLIGHT_MAX_AGE = 86400


class ApiCorsMiddleware:
    """``CORSMiddleware`` outside the streams mount. ``origins`` may hold ``"*"``: any
    origin (safe without cookies: the API's only credential is a bearer token, which a
    browser never sends on its own)."""

    def __init__(self, app: ASGIApp, origins: Sequence[str], mount: str = MOUNT) -> None:
        self.app = app
        self.mount = mount.rstrip("/")
        self.cors = CORSMiddleware(
            app,
            allow_origins=list(origins),
            allow_methods=API_METHODS,
            allow_headers=["*"],
            expose_headers=EXPOSED,
            max_age=PREFLIGHT_MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] == "http" and not (
            path == self.mount or path.startswith(self.mount + "/")
        ):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
