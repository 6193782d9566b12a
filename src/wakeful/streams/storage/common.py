"""Decisions both storage backends make the same way, kept in one place."""

from __future__ import annotations

from .. import framing
from ..errors import Gone, NotFound
from ..forks import fork_request_key
from ..model import CreateRequest, ForkSpec, StreamRecord


def visible(record: StreamRecord | None, path: str, now: float) -> StreamRecord:
    """The record if a client may address it; 404 when absent or expired, 410 when deleted."""
    if record is None or (not record.deleted and record.expired(now)):
        raise NotFound(f"stream {path!r} does not exist")
    if record.deleted:
        raise Gone(f"stream {path!r} was deleted")
    return record


def fork_key(fork: ForkSpec | None) -> str | None:
    if fork is None:
        return None
    return fork_request_key(
        fork.source_path, fork.offset if fork.offset is not None else -1, fork.sub_offset
    )


def same_config(existing: StreamRecord, request: CreateRequest, key: str | None) -> bool:
    if request.content_type is not None and framing.media_type(
        request.content_type
    ) != framing.media_type(existing.content_type):
        return False
    if (
        request.fork is None
        and request.content_type is None
        and framing.media_type(existing.content_type) != "application/octet-stream"
    ):
        return False
    return (
        existing.ttl_seconds == request.ttl_seconds
        and existing.expires_at == request.expires_at
        and existing.closed == request.closed
        and existing.fork_request == key
    )
