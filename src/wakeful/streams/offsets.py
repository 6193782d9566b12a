"""Offset tokens.

An offset is a byte position in the logical stream (inherited fork data included),
written as 32 decimal digits split into two 16-digit halves: ``0000000000000000_0000000000000042``.
Fixed width makes lexicographic order equal numeric order, as the protocol requires, and
the shape matches what clients of other Durable Streams servers already handle.
"""

from __future__ import annotations

import re

from ..errors import BadRequest, ErrorCode

BEGINNING = "-1"
NOW = "now"
_HALF = 10**16
_PATTERN = re.compile(r"\A([0-9]{16})_([0-9]{16})\Z")  # ASCII digits only


def format_offset(position: int) -> str:
    high, low = divmod(position, _HALF)
    return f"{high:016d}_{low:016d}"


def parse_offset(token: str) -> int:
    """The position a client-supplied offset names; ``BadRequest`` for anything else."""
    match = _PATTERN.match(token)
    if match is None:
        raise BadRequest(f"malformed offset {token[:80]!r}", code=ErrorCode.INVALID_OFFSET)
    return int(match.group(1)) * _HALF + int(match.group(2))


ZERO = format_offset(0)
