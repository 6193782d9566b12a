"""Bounds on JSON values that enter the server: nesting depth and the range of integers.

orjson reads 1,024 levels of nesting but writes only 255, and writes no integer beyond
64 bits; a value accepted on the way in must be writable on the way out (to storage,
to a response), or the request that stored it, or every later read of it, fails. So
values are checked once where they enter, and refused with a 400 that says why.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ..errors import BadRequest, ErrorCode

#: orjson refuses to write values nested deeper than this.
WRITABLE_DEPTH = 254
DEFAULT_MAX_DEPTH = 128

# What orjson writes exactly: signed 64-bit below zero, unsigned 64-bit above.
SMALLEST_INTEGER = -(2**63)
LARGEST_INTEGER = 2**64 - 1


def too_deep(max_depth: int) -> BadRequest:
    return BadRequest(
        f"JSON nests deeper than the limit of {max_depth} levels", code=ErrorCode.JSON_TOO_DEEP
    )


def check_depth_setting(max_depth: int) -> int:
    if not 1 <= max_depth <= WRITABLE_DEPTH:
        raise ValueError(f"the JSON depth limit must be between 1 and {WRITABLE_DEPTH}")
    return max_depth


def may_exceed_depth(body: bytes, max_depth: int) -> bool:
    """False when ``body`` cannot nest deeper than ``max_depth``: it opens fewer
    containers than that in all. Lets most bodies skip the walk (a C-speed count)."""
    return body.count(b"[") + body.count(b"{") > max_depth


# Integers of fewer than 19 digits are always within 64 bits.
_LONG_DIGITS = re.compile(rb"\d{19}")


def may_hold_long_integers(body: bytes) -> bool:
    """False when ``body`` holds no run of digits long enough to leave 64 bits."""
    return _LONG_DIGITS.search(body) is not None


def reject_constant(name: str) -> Any:
    """For ``json.loads``: ``NaN`` and ``Infinity`` are not JSON."""
    raise ValueError(f"{name} is not JSON")


def finite_float(text: str) -> float:
    """For ``json.loads``: numbers too large for a double would become ``Infinity``,
    which cannot be written back as JSON."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def check_value(value: Any, max_depth: int, *, integers: bool) -> None:
    """Refuse ``value`` when it nests deeper than ``max_depth`` containers or (with
    ``integers``) holds an integer that orjson cannot write exactly."""
    _walk(value, 0, max_depth, integers)


def _walk(value: Any, depth: int, max_depth: int, integers: bool) -> None:
    if isinstance(value, dict):
        children: Any = value.values()
    elif isinstance(value, list):
        children = value
    else:
        if integers and type(value) is int and not SMALLEST_INTEGER <= value <= LARGEST_INTEGER:
            raise BadRequest(
                f"an integer of {value.bit_length()} bits is out of range: integers must lie"
                " between -2^63 and 2^64-1 (send larger numbers as strings)",
                code=ErrorCode.NUMBER_OUT_OF_RANGE,
            )
        return
    if depth >= max_depth:
        raise too_deep(max_depth)
    for child in children:
        _walk(child, depth + 1, max_depth, integers)
