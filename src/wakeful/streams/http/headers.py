"""Protocol headers: parsing what clients send, and the headers every response carries."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from starlette.datastructures import Headers

from ...errors import BadRequest, ErrorCode
from ..model import ProducerClaim

NEXT_OFFSET = "Stream-Next-Offset"
UP_TO_DATE = "Stream-Up-To-Date"
CLOSED = "Stream-Closed"
CURSOR = "Stream-Cursor"
TTL = "Stream-TTL"
EXPIRES_AT = "Stream-Expires-At"
SEQ = "Stream-Seq"
FORKED_FROM = "Stream-Forked-From"
FORK_OFFSET = "Stream-Fork-Offset"
FORK_SUB_OFFSET = "Stream-Fork-Sub-Offset"
SSE_ENCODING = "Stream-SSE-Data-Encoding"
PRODUCER_ID = "Producer-Id"
PRODUCER_EPOCH = "Producer-Epoch"
PRODUCER_SEQ = "Producer-Seq"

_DECIMAL = re.compile(r"\A(0|[1-9][0-9]*)\Z")
MAX_SAFE_INTEGER = 2**53 - 1
# The last moment that can be written back as an RFC 3339 timestamp in UTC.
LATEST_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()
# RFC 6838 allows 127 characters each for type and subtype; parameters get the rest.
MAX_CONTENT_TYPE = 256
# Producer-Id and Stream-Seq are stored with the stream and quoted in errors: an id or a
# sequence token has no use for more (the header limit alone would allow 64 KiB).
MAX_TOKEN = 256
# The longest Access-Control-Request-Headers a preflight answer repeats.
MAX_REQUESTED_HEADERS = 2048

# Sent on every response: browsers must not sniff stream bytes into something executable.
SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}

EXPOSED = ", ".join(
    [
        NEXT_OFFSET,
        UP_TO_DATE,
        CLOSED,
        CURSOR,
        TTL,
        EXPIRES_AT,
        SSE_ENCODING,
        PRODUCER_EPOCH,
        PRODUCER_SEQ,
        "Producer-Expected-Seq",
        "Producer-Received-Seq",
        "ETag",
        "Location",
        "Content-Type",
    ]
)

CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": EXPOSED,
}

PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, HEAD, POST, PUT, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": ", ".join(
        [
            "Content-Type",
            "Authorization",
            "If-None-Match",
            TTL,
            EXPIRES_AT,
            SEQ,
            CLOSED,
            FORKED_FROM,
            FORK_OFFSET,
            FORK_SUB_OFFSET,
            PRODUCER_ID,
            PRODUCER_EPOCH,
            PRODUCER_SEQ,
        ]
    ),
    "Access-Control-Max-Age": "86400",
}


def decimal(value: str, name: str, *, maximum: int = MAX_SAFE_INTEGER) -> int:
    """A non-negative decimal integer with no sign, leading zero, point or exponent.

    Bounded (by default to 2^53-1, what JavaScript clients can represent) so that no
    value can overflow a database integer or Python's limit on digits it will convert."""
    if _DECIMAL.match(value) is None:
        raise BadRequest(f"{name} must be a non-negative integer, got {value[:40]!r}")
    if len(value) > len(str(maximum)) or int(value) > maximum:
        raise BadRequest(f"{name} must be at most {maximum}")
    return int(value)


def token(value: str, name: str, code: ErrorCode = ErrorCode.BAD_REQUEST) -> str:
    """A stored header value, bounded."""
    if len(value) > MAX_TOKEN:
        raise BadRequest(f"{name} is longer than {MAX_TOKEN} characters", code=code)
    return value


def stream_seq(headers: Headers) -> str | None:
    value = headers.get(SEQ)
    return None if value is None else token(value, SEQ)


def is_true(headers: Headers, name: str) -> bool:
    """Presence headers count only when their value is ``true``, in any case."""
    return headers.get(name, "").strip().lower() == "true"


def ttl(headers: Headers) -> int | None:
    value = headers.get(TTL)
    return None if value is None else decimal(value.strip(), TTL)


def expires_at(headers: Headers) -> float | None:
    value = headers.get(EXPIRES_AT)
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{EXPIRES_AT} must be an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise BadRequest(f"{EXPIRES_AT} must include a time zone")
    timestamp = moment.timestamp()
    if timestamp > LATEST_EXPIRY:
        raise BadRequest(f"{EXPIRES_AT} must be no later than 9999-12-31T23:59:59Z")
    return timestamp


def format_expiry(timestamp: float) -> str:
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def producer(headers: Headers) -> ProducerClaim | None:
    """The producer triple, all three headers or none."""
    values = [headers.get(name) for name in (PRODUCER_ID, PRODUCER_EPOCH, PRODUCER_SEQ)]
    if all(value is None for value in values):
        return None
    if any(value is None for value in values):
        raise BadRequest(
            "Producer-Id, Producer-Epoch and Producer-Seq must be sent together",
            code=ErrorCode.INCOMPLETE_PRODUCER,
        )
    producer_id, epoch, seq = (value.strip() for value in values if value is not None)
    if not producer_id:
        raise BadRequest("Producer-Id must not be empty", code=ErrorCode.INVALID_PRODUCER)
    return ProducerClaim(
        token(producer_id, PRODUCER_ID, ErrorCode.INVALID_PRODUCER),
        decimal(epoch, PRODUCER_EPOCH, maximum=MAX_SAFE_INTEGER),
        decimal(seq, PRODUCER_SEQ, maximum=MAX_SAFE_INTEGER),
    )
