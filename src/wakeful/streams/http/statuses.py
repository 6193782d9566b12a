"""How an error travels over HTTP: the status of each kind of error, and the headers the
Durable Streams protocol asks for with some of them.

The errors themselves (:mod:`wakeful.errors`) know nothing of HTTP; this table is the one
place a kind meets its status, read in both directions: by the server to answer, by the
client to raise the kind a status stands for when the code is not one it knows.
"""

from __future__ import annotations

from collections.abc import Mapping

from ...errors import (
    BadRequest,
    Conflict,
    Forbidden,
    Gone,
    HeadersTooLarge,
    MethodNotAllowed,
    NotFound,
    OffsetGone,
    PayloadTooLarge,
    SequenceGap,
    StaleEpoch,
    StreamClosed,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    WakefulError,
)
from ..offsets import format_offset

STATUS_OF_KIND: Mapping[type[WakefulError], int] = {
    BadRequest: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    Gone: 410,
    PayloadTooLarge: 413,
    UnsupportedMediaType: 415,
    TooManyRequests: 429,
    HeadersTooLarge: 431,
    Unavailable: 503,
}
# A framework's validation answer (422) is a bad request too.
KIND_OF_STATUS: Mapping[int, type[WakefulError]] = {
    **{status: kind for kind, status in STATUS_OF_KIND.items()},
    422: BadRequest,
}


def status_of(error: WakefulError) -> int:
    """The status of the nearest kind ``error`` is; a bare :class:`WakefulError` is a 400."""
    for kind in type(error).__mro__:
        status = STATUS_OF_KIND.get(kind)
        if status is not None:
            return status
    return 400


def headers_of(error: WakefulError) -> dict[str, str]:
    """The protocol's headers for ``error``: a closed stream's tail, a trimmed stream's
    retained position, a producer's epoch or expected sequence number, so a writer (or a
    reader) can recover without parsing the message."""
    if isinstance(error, StreamClosed):
        closed = {"Stream-Closed": "true"}
        if error.next_offset is not None:
            closed["Stream-Next-Offset"] = format_offset(error.next_offset)
        return closed
    if isinstance(error, OffsetGone) and error.retained_from is not None:
        return {"Stream-Next-Offset": format_offset(error.retained_from)}
    if isinstance(error, StaleEpoch) and error.current_epoch is not None:
        return {"Producer-Epoch": str(error.current_epoch)}
    if isinstance(error, SequenceGap) and error.expected is not None:
        return {
            "Producer-Expected-Seq": str(error.expected),
            "Producer-Received-Seq": str(error.received),
        }
    return {}
