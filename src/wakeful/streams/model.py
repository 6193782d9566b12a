"""Plain data types that cross the boundary between the HTTP face and a storage backend."""

from __future__ import annotations

from dataclasses import dataclass, field

# A read position meaning "the stream's earliest retained message" (the protocol's -1).
EARLIEST = -1


@dataclass(frozen=True, slots=True)
class ProducerClaim:
    """The ``Producer-Id`` / ``Producer-Epoch`` / ``Producer-Seq`` triple of one request."""

    producer_id: str
    epoch: int
    seq: int


@dataclass(frozen=True, slots=True)
class ProducerState:
    epoch: int
    last_seq: int


@dataclass(frozen=True, slots=True)
class ForkSpec:
    """Where a fork branches: a source path, a position in it and a sub-offset past that."""

    source_path: str
    offset: int | None
    sub_offset: int = 0


@dataclass(slots=True)
class StreamRecord:
    """One stream's metadata as stored."""

    id: int
    path: str
    content_type: str
    created_at: float
    ttl_seconds: int | None
    expires_at: float | None
    last_access: float
    tail: int
    closed: bool
    closed_by: ProducerClaim | None
    last_seq: str | None
    fork_of: int | None
    fork_pos: int
    fork_request: str | None
    forks: int
    deleted: bool
    # Where the stream now begins: messages before it were trimmed (0: nothing was).
    retained_from: int = 0

    def deadline(self) -> float | None:
        """When the stream expires: its absolute expiry, or last access plus its TTL."""
        if self.expires_at is not None:
            return self.expires_at
        if self.ttl_seconds is not None:
            return self.last_access + self.ttl_seconds
        return None

    def expired(self, now: float) -> bool:
        deadline = self.deadline()
        return deadline is not None and now >= deadline


@dataclass(frozen=True, slots=True)
class CreateRequest:
    path: str
    content_type: str | None
    ttl_seconds: int | None
    expires_at: float | None
    closed: bool
    body: bytes
    fork: ForkSpec | None = None


@dataclass(frozen=True, slots=True)
class CreateResult:
    stream: StreamRecord
    created: bool


@dataclass(frozen=True, slots=True)
class AppendRequest:
    path: str
    content_type: str | None
    messages: list[bytes]
    close: bool = False
    stream_seq: str | None = None
    producer: ProducerClaim | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    tail: int
    closed: bool
    duplicate: bool = False
    producer: ProducerState | None = None


@dataclass(slots=True)
class ReadResult:
    """A contiguous run of messages from ``start`` to ``next_position``."""

    stream: StreamRecord
    messages: list[bytes] = field(default_factory=list)
    next_position: int = 0
    up_to_date: bool = True

    @property
    def at_closed_end(self) -> bool:
        return self.stream.closed and self.up_to_date
