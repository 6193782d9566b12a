"""The errors the client raises: the same classes the server raises, rebuilt from answers.

The server answers every refusal with ``{"error": {"code", "message"}}`` and a 4xx
status; the client raises the class of :mod:`wakeful.errors` that code stands for (a
``FENCED`` answer is a :class:`~wakeful.errors.Fenced`, an ``UNKNOWN_ENTITY`` one an
:class:`~wakeful.errors.UnknownEntity`), or the kind its status names when the code is one
this version does not know, so callers branch on the class without parsing messages. The
answer's status is kept on ``error.status``. A server that cannot be reached at all is a
different failure, raised as :class:`ServerUnreachable` (also a built-in
:class:`ConnectionError`), so ``except ConnectionError`` keeps working.
"""

from __future__ import annotations

import httpx
import orjson

from ..errors import (
    BY_CODE,
    BadRequest,
    Conflict,
    Forbidden,
    InvalidURL,
    NotFound,
    OffsetGone,
    ServerUnreachable,
    Unauthorized,
    UnknownEntity,
    WakefulError,
)
from ..streams.http.statuses import KIND_OF_STATUS
from ..streams.offsets import parse_offset

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "InvalidURL",
    "NotFound",
    "ServerUnreachable",
    "Unauthorized",
    "UnknownEntity",
    "WakefulError",
    "from_response",
    "unreachable",
]


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
    code = code if isinstance(code, str) else None
    precise = BY_CODE.get(code) if code is not None else None
    error = (precise or KIND_OF_STATUS.get(status, WakefulError))(message)
    if code is not None:
        error.code = code  # kept as sent, even when this version has no name for it
    error.status = status
    if isinstance(error, OffsetGone):
        error.retained_from = _retained_from(body["error"].get("retained_from"))
    return error


def _retained_from(token: object) -> int | None:
    """Where a trimmed stream now begins, from a 410's details (so a reader skips ahead)."""
    if not isinstance(token, str):
        return None
    try:
        return parse_offset(token)
    except BadRequest:
        return None


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
