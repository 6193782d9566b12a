"""Reading through fork chains.

A fork stores only its own appends; everything before its fork position is read from
its source, which may itself be a fork. Each level of the chain contributes the messages
it stores below the lowest fork position of the levels beneath it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import StreamRecord

UNBOUNDED = (1 << 63) - 1  # SQLite and PostgreSQL BIGINT maximum


@dataclass(frozen=True, slots=True)
class Level:
    stream_id: int
    upper: int  # this level's messages are read only below this position


def levels(chain: list[StreamRecord]) -> list[Level]:
    """``chain`` is leaf first (the stream read, then its source, ...); result is root first."""
    result: list[Level] = []
    upper = UNBOUNDED
    for record in chain:
        result.append(Level(record.id, upper))
        if record.fork_of is None:
            break
        upper = min(upper, record.fork_pos)
    result.reverse()
    return result


def fork_request_key(source_path: str, position: int, sub_offset: int) -> str:
    """What identifies a fork's creation request, to answer a repeated PUT with 200 or 409."""
    return f"{source_path}\n{position}\n{sub_offset}"
