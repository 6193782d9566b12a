"""Routes of the Durable Streams protocol under the mount point (``/v1/stream``)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import ErrorCode, MethodNotAllowed, NotFound, WakefulError, excerpt
from .. import paths
from . import headers as h
from . import reads, writes
from .context import StreamsContext, base_headers, error_response

Handler = Callable[[StreamsContext, Request, str], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "GET": reads.get,
    "HEAD": reads.head,
    "PUT": writes.create,
    "POST": writes.append,
    "DELETE": writes.delete,
}
ALLOW = "GET, HEAD, POST, PUT, DELETE, OPTIONS"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT"]


def preflight(request: Request) -> Response:
    response_headers = {**base_headers(), **h.PREFLIGHT}
    asked = request.headers.get("access-control-request-headers")
    # Echoed back, so bounded: a browser asks for a few names, never kilobytes of them.
    if asked and len(asked) <= h.MAX_REQUESTED_HEADERS:
        response_headers["Access-Control-Allow-Headers"] += ", " + asked
    return Response(status_code=204, headers=response_headers)


def protect(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    """Turn typed errors into JSON 4xx responses and add the headers every response carries."""

    async def endpoint(request: Request) -> Response:
        if request.method == "OPTIONS":
            return preflight(request)
        try:
            response = await handler(request)
        except WakefulError as error:
            response = error_response(error, head=request.method == "HEAD")
            if isinstance(error, MethodNotAllowed):
                response.headers["Allow"] = ALLOW
        response.headers.update(base_headers())
        return response

    return endpoint


def stream_routes(ctx: StreamsContext) -> list[BaseRoute]:
    async def stream(request: Request) -> Response:
        path = paths.validate(request.path_params.get("path", ""))  # "" at the bare mount
        if path.split("/", 1)[0] == paths.RESERVED:
            raise NotFound(
                f"no control API at {excerpt(path)}", code=ErrorCode.UNKNOWN_CONTROL_PATH
            )
        handler = HANDLERS.get(request.method)
        if handler is None:
            raise MethodNotAllowed(f"{request.method} is not supported on a stream")
        return await handler(ctx, request, path)

    named = Route(f"{ctx.mount}/{{path:path}}", protect(stream), methods=ALL_METHODS)
    # Starlette's pattern stops at a newline; such a path must still reach validate() (400).
    named.path_regex = re.compile(named.path_regex.pattern, re.DOTALL)
    return [named, Route(f"{ctx.mount}", protect(stream), methods=ALL_METHODS)]
