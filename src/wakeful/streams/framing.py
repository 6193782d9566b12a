"""How a request body becomes stored messages, per content type.

JSON streams keep message boundaries: a POSTed array is flattened one level and each
element becomes a message; reads return all messages as one array. Every other content
type is plain bytes, one message per append.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from ..errors import BadRequest, ErrorCode
from . import json_limits

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


def frame(
    content_type: str,
    body: bytes,
    *,
    creating: bool,
    max_depth: int = json_limits.WRITABLE_DEPTH,
) -> list[bytes]:
    """Split ``body`` into the messages to store. ``creating`` allows an empty JSON array;
    JSON nested deeper than ``max_depth`` is refused (integers of any size are kept)."""
    if not is_json(content_type):
        return [body] if body else []
    if not body:
        return []
    value = json_limits.loads(body, max_depth, integers=False)
    # Integers past 64 bits are kept exactly, which orjson cannot write.
    dumps = _stdlib_dumps if json_limits.may_hold_long_integers(body) else orjson.dumps
    if isinstance(value, list):
        if not value and not creating:
            raise BadRequest("an empty JSON array appends nothing", code=ErrorCode.EMPTY_ARRAY)
        return [dumps(item) for item in value]
    return [dumps(value)]


def _stdlib_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def render(content_type: str, messages: list[bytes]) -> bytes:
    """The body of a read: JSON messages as one array, other bytes concatenated."""
    if is_json(content_type):
        return b"[" + b",".join(messages) + b"]"
    return b"".join(messages)
