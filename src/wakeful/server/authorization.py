"""Access control: an optional bearer token for everything, and a hook for threads.

With a token configured, every request must carry ``Authorization: Bearer <token>`` (or
``?access_token=<token>``, for browsers' EventSource, which cannot set headers); only the
health check and the console's static files are open. The thread hook decides per request
and thread whether a caller may act on it; it also guards reads of thread streams and
tool-call answers.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qs

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from ..streams.errors import Forbidden

#: ``(request, action, thread_id)`` → allowed? Actions: create, list, read, send, stop,
#: resume, delete, answer. May be sync or async.
ThreadAuthorizer = Callable[[Request, str, str | None], bool | Awaitable[bool]]

OPEN_PATHS = ("/healthz", "/console/")


async def check_thread_access(
    authorize: ThreadAuthorizer | None, request: Request, action: str, thread_id: str | None
) -> None:
    if authorize is None:
        return
    allowed = authorize(request, action, thread_id)
    if inspect.isawaitable(allowed):
        allowed = await allowed
    if not allowed:
        target = f"thread {thread_id!r}" if thread_id else "threads"
        raise Forbidden(f"not allowed to {action} {target}", code="NOT_ALLOWED")


class BearerTokenMiddleware:
    """Refuses requests without the configured token (401), before any routing."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == "/" or path.startswith(OPEN_PATHS):
            await self.app(scope, receive, send)
            return
        if self._authorized(scope):
            await self.app(scope, receive, send)
            return
        body = orjson.dumps(
            {"error": {"code": "UNAUTHORIZED", "message": "missing or wrong bearer token"}}
        )
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"www-authenticate", b'Bearer realm="wakeful"'),
                    (b"access-control-allow-origin", b"*"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _authorized(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"authorization" and value[:7].lower() == b"bearer ":
                return hmac.compare_digest(value[7:].strip(), self.token)
        query = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
        supplied = query.get("access_token", [""])[0].encode()
        return bool(supplied) and hmac.compare_digest(supplied, self.token)


def _action(method: str, path: str) -> str:
    if method in ("GET", "HEAD"):
        return "read"
    if method == "DELETE":
        return "delete"
    if "/tool-calls/" in path:
        return "answer"
    if path.endswith("/messages"):
        return "send"
    if path.endswith("/signals"):
        return "signal"
    return "create"


def entity_guard(
    authorize: ThreadAuthorizer | None, thread_type: str
) -> Callable[[Request], Awaitable[None]]:
    """A route dependency applying the thread hook to the generic entity endpoints, so
    threads cannot be reached around it."""

    async def guard(request: Request) -> None:
        if authorize is None or request.path_params.get("type_name") != thread_type:
            return
        action = _action(request.method, request.url.path)
        await check_thread_access(authorize, request, action, request.path_params.get("entity_id"))

    return guard
