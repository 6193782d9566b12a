"""How a request body becomes stored messages, per content type.

JSON streams keep message boundaries: a POSTed array is flattened one level and each
element becomes a message; reads return all messages as one array. Every other content
type is plain bytes, one message per append.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import BadRequest, ErrorCode

JSON = "application/json"


def media_type(content_type: str) -> str:
    """``Text/Plain; charset=utf-8`` → ``text/plain``: what compares for equality."""
    return content_type.split(";", 1)[0].strip().lower()


def is_json(content_type: str) -> bool:
    return media_type(content_type) == JSON


def is_text(content_type: str) -> bool:
    """Whether SSE may carry the stream's bytes as UTF-8 text rather than base64."""
    kind = media_type(content_type)
    return kind == JSON or kind.startswith("text/")


def frame(content_type: str, body: bytes, *, creating: bool) -> list[bytes]:
    """Split ``body`` into the messages to store. ``creating`` allows an empty JSON array."""
    if not is_json(content_type):
        return [body] if body else []
    if not body:
        return []
    value, dumps = _parse(body)
    if isinstance(value, list):
        if not value and not creating:
            raise BadRequest("an empty JSON array appends nothing", code=ErrorCode.EMPTY_ARRAY)
        return [dumps(item) for item in value]
    return [dumps(value)]


# orjson reads integers past 64 bits as floats, silently changing them; bodies that may
# hold such numbers take the exact (slower) standard library path instead.
_LONG_DIGITS = re.compile(rb"\d{19}")


def _parse(body: bytes) -> tuple[Any, Callable[[Any], bytes]]:
    if _LONG_DIGITS.search(body) is None:
        try:
            return orjson.loads(body), orjson.dumps
        except orjson.JSONDecodeError as exc:
            raise BadRequest(
                f"body is not valid JSON: {exc}", code=ErrorCode.INVALID_JSON
            ) from None
    try:
        value = json.loads(body, parse_constant=_reject_constant, parse_float=_finite_float)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"body is not valid JSON: {exc}", code=ErrorCode.INVALID_JSON) from None
    return value, _stdlib_dumps


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    """Numbers too large for a double would be stored as ``Infinity``, which is not JSON."""
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is out of range")
    return value


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def render(content_type: str, messages: list[bytes]) -> bytes:
    """The body of a read: JSON messages as one array, other bytes concatenated."""
    if is_json(content_type):
        return b"[" + b",".join(messages) + b"]"
    return b"".join(messages)
