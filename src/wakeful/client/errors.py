"""The errors the client raises, one class per kind of answer a caller reacts to.

The server answers every refusal with ``{"error": {"code", "message"}}`` and a 4xx
status; these classes carry those three things, so callers can branch on the class (a
missing entity, a conflict, a bad token) without parsing messages. A server that cannot
be reached at all is a different failure, raised as :class:`ServerUnreachable` (also a
built-in :class:`ConnectionError`), so ``except ConnectionError`` keeps working.
"""

from __future__ import annotations

import httpx
import orjson


class WakefulError(Exception):
    """A request the server refused (or could not answer). ``status`` is the HTTP status
    (``None`` when no answer came), ``code`` the server's machine-readable error code."""

    status: int | None = None
    code = "ERROR"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class BadRequest(WakefulError):
    """400: the request was malformed or its arguments did not validate."""

    status = 400
    code = "BAD_REQUEST"


class Unauthorized(WakefulError):
    """401: the server wants a bearer token and this one is missing or wrong."""

    status = 401
    code = "UNAUTHORIZED"


class Forbidden(WakefulError):
    """403: the token is fine, but the server's authorization hook said no."""

    status = 403
    code = "FORBIDDEN"


class NotFound(WakefulError):
    """404: no such entity, thread, type, tool call or stream."""

    status = 404
    code = "NOT_FOUND"


class Conflict(WakefulError):
    """409: the request contradicts the current state (an id taken, a thread not running)."""

    status = 409
    code = "CONFLICT"


class InvalidURL(WakefulError, ValueError):
    """The server URL given to the client cannot be a server's address."""

    code = "INVALID_URL"


class ServerUnreachable(WakefulError, ConnectionError):
    """No answer: nothing listens at the URL, the connection dropped, or it timed out."""

    code = "UNREACHABLE"


_BY_STATUS: dict[int, type[WakefulError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    422: BadRequest,
}


def from_response(response: httpx.Response) -> WakefulError:
    """The error an HTTP error response stands for (the response must have been read)."""
    status = response.status_code
    code, message = None, None
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        message = body["error"].get("message")
    if not isinstance(message, str) or not message:
        # Not the Wakeful error shape: say what was asked, since the URL is the likely cause.
        request = response.request
        message = (
            f"{request.method} {request.url} answered {status} {response.reason_phrase}"
            " (is this the URL of a Wakeful server?)"
        )
    kind = _BY_STATUS.get(status, WakefulError)
    return kind(message, status=status, code=code if isinstance(code, str) else None)


def unreachable(base_url: str, error: httpx.TransportError) -> ServerUnreachable:
    """A clear message for a transport failure, naming the URL that was tried."""
    if isinstance(error, httpx.TimeoutException):
        reason = "no answer in time"
    elif isinstance(error, httpx.ConnectError):
        reason = "connection refused, or no such host"
    else:
        reason = f"connection dropped ({type(error).__name__})"
    detail = str(error).strip()
    return ServerUnreachable(
        f"cannot reach a Wakeful server at {base_url}: {reason}"
        + (f" [{detail}]" if detail else "")
    )
