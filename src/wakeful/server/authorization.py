"""Access control: an optional bearer token for everything, and a hook for threads.

With a token configured, every request must carry ``Authorization: Bearer <token>`` (or
``?access_token=<token>``, for browsers' EventSource, which cannot set headers); only the
health check and the console's static files are open. The thread hook decides per request
and thread whether a caller may act on it; it also guards reads of thread streams and
tool-call answers, writes to and forks of thread streams through the streams protocol,
and listings of entities that include threads.
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
from ..streams.http.context import MOUNT, base_headers, error_response

#: ``(request, action, thread_id)`` → allowed? Actions: create, list, read, send, stop,
#: resume, delete, answer; signal (the generic entity endpoint) and write (appending to a
#: thread's stream, or creating it, through the streams protocol). May be sync or async.
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
        if authorize is None:
            return
        type_name = request.path_params.get("type_name")
        if type_name is None:
            # Listing entities of every type, or of the thread type, is listing threads.
            listed = request.query_params.get("type") or thread_type
            if request.url.path.rstrip("/").endswith("/entities") and listed == thread_type:
                await check_thread_access(authorize, request, "list", None)
            return
        if type_name != thread_type:
            return
        action = _action(request.method, request.url.path)
        await check_thread_access(authorize, request, action, request.path_params.get("entity_id"))

    return guard


_STREAM_ACTIONS = {"POST": "write", "PUT": "write", "DELETE": "delete"}
FORKED_FROM = b"stream-forked-from"


class ThreadStreamGuard:
    """Applies the thread hook to writes of thread streams through the streams protocol,
    which the read guard alone leaves open: a raw append could forge messages or tool
    answers, a delete remove the thread, and a fork copy it somewhere readable."""

    def __init__(
        self, app: ASGIApp, authorize: ThreadAuthorizer, thread_type: str, mount: str = MOUNT
    ) -> None:
        self.app = app
        self.authorize = authorize
        self.thread_type = thread_type
        self.mount = mount.rstrip("/") + "/"

    def _thread_of(self, path: str) -> str | None:
        """The thread whose stream ``path`` (relative to the mount, as the streams
        protocol reads paths and fork sources) names, if any."""
        parts = path.lstrip("/").split("/")
        return parts[1] if len(parts) > 1 and parts[0] == self.thread_type else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        action = _STREAM_ACTIONS.get(scope.get("method", "")) if scope["type"] == "http" else None
        path: str = scope.get("path", "")
        if action is None or not path.startswith(self.mount):
            await self.app(scope, receive, send)
            return
        checks: list[tuple[str, str | None]] = []
        target = self._thread_of(path[len(self.mount) :])
        if target is not None:
            checks.append((action, target))
        for name, value in scope["headers"]:
            if name == FORKED_FROM:
                source = value.decode("latin-1").strip()
                if source.startswith(self.mount):
                    source = source[len(self.mount) :]
                forked = self._thread_of(source)
                if forked is not None:
                    checks.append(("read", forked))
        request = Request(scope)
        for needed, thread_id in checks:
            try:
                await check_thread_access(self.authorize, request, needed, thread_id)
            except Forbidden as error:
                response = error_response(error)
                response.headers.update(base_headers())
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
