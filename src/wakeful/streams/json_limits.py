"""Bounds on JSON values that enter the server: nesting depth and the range of integers.

orjson reads 1,024 levels of nesting but writes only 255, and writes no integer beyond
64 bits; a value accepted on the way in must be writable on the way out (to storage,
to a response), or the request that stored it, or every later read of it, fails. So
values are checked once where they enter, and refused with a 400 that says why.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson

from ..errors import BadRequest, ErrorCode

#: orjson refuses to write values nested deeper than this.
WRITABLE_DEPTH = 254
#: ... and to read values nested deeper than this.
READABLE_DEPTH = 1024
DEFAULT_MAX_DEPTH = 128

# What orjson writes exactly: signed 64-bit below zero, unsigned 64-bit above.
SMALLEST_INTEGER = -(2**63)
LARGEST_INTEGER = 2**64 - 1


def loads(body: bytes, max_depth: int, *, integers: bool) -> Any:
    """The one parser of JSON that enters the server, wherever it enters: stream appends,
    JSON API bodies, subscription control bodies.

    orjson decides what is JSON (strict UTF-8, no lone surrogates, no ``NaN``, no
    number beyond a double), so that whatever is accepted can be written back. Bodies
    that may hold integers past 64 bits are read again by the standard library, which
    keeps them exact (orjson would turn them into floats); with ``integers`` such
    integers are refused instead. Raises :class:`BadRequest`: ``INVALID_JSON``,
    ``JSON_TOO_DEEP`` beyond ``max_depth``, ``NUMBER_OUT_OF_RANGE``.
    """
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if may_exceed_depth(body, READABLE_DEPTH) and _is_only_too_deep(body):
            raise too_deep(max_depth) from None
        raise invalid(str(exc)) from None
    long_integers = may_hold_long_integers(body)
    if long_integers:
        try:
            value = json.loads(body.decode())
        except RecursionError:
            raise too_deep(max_depth) from None
    if may_exceed_depth(body, max_depth) or (integers and long_integers):
        check_value(value, max_depth, integers=integers)
    return value


def invalid(reason: str) -> BadRequest:
    return BadRequest(f"body is not valid JSON: {reason[:200]}", code=ErrorCode.INVALID_JSON)


def _is_only_too_deep(body: bytes) -> bool:
    """Whether a body orjson refused is JSON all the same, only nested past its reach
    (so the answer names the depth, as it does for shallower bodies over the limit)."""
    try:
        json.loads(body.decode(), parse_constant=reject_constant, parse_float=finite_float)
    except RecursionError:
        return True
    except ValueError:  # also bytes that are not UTF-8
        return False
    return True


def too_deep(max_depth: int) -> BadRequest:
    return BadRequest(
        f"JSON nests deeper than the limit of {max_depth} levels", code=ErrorCode.JSON_TOO_DEEP
    )


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
