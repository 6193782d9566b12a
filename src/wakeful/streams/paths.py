"""Stream paths: what a client may name a stream, checked before anything touches storage."""

from __future__ import annotations

from ..errors import BadRequest, ErrorCode, NotFound

#: Where the streams are served, and so the root of every stream URL a process hands out
#: (webhook callbacks included), HTTP server or not.
MOUNT = "/v1/stream"
MAX_PATH_LENGTH = 1024
RESERVED = "__ds"


def validate(path: str) -> str:
    """A stream path relative to the mount, e.g. ``chats/42``; ``BadRequest`` if unusable."""
    if not path:
        raise NotFound("no stream named: add a path after the mount point")
    if len(path) > MAX_PATH_LENGTH:
        raise BadRequest(
            f"stream path longer than {MAX_PATH_LENGTH} characters", code=ErrorCode.INVALID_PATH
        )
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in path) or "\\" in path:
        raise BadRequest(
            "stream path contains control characters or backslashes", code=ErrorCode.INVALID_PATH
        )
    segments = path.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise BadRequest(
            "stream path has an empty, '.' or '..' segment", code=ErrorCode.INVALID_PATH
        )
    return path


def from_header(value: str, mount: str) -> str:
    """A path named in a header (``/v1/stream/a`` or ``a``) as a mount-relative path."""
    value = value.strip()
    prefix = mount.rstrip("/") + "/"
    if value.startswith(prefix):
        value = value[len(prefix) :]
    return validate(value.lstrip("/"))
