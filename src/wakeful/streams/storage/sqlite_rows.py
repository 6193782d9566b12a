"""Reading stream rows from SQLite, shared by the stream and subscription code."""

from __future__ import annotations

import sqlite3
from typing import Any

from ..model import ProducerClaim, StreamRecord

columns = (
    "id, path, content_type, created_at, ttl_seconds, expires_at, last_access, tail, closed,"
    " closed_by_id, closed_by_epoch, closed_by_seq, last_seq, fork_of, fork_pos, fork_request,"
    " forks, deleted, retained_from"
)


def record(row: tuple[Any, ...]) -> StreamRecord:
    closed_by = ProducerClaim(row[9], row[10], row[11]) if row[9] is not None else None
    return StreamRecord(
        id=row[0],
        path=row[1],
        content_type=row[2],
        created_at=row[3],
        ttl_seconds=row[4],
        expires_at=row[5],
        last_access=row[6],
        tail=row[7],
        closed=bool(row[8]),
        closed_by=closed_by,
        last_seq=row[12],
        fork_of=row[13],
        fork_pos=row[14],
        fork_request=row[15],
        forks=row[16],
        deleted=bool(row[17]),
        retained_from=row[18],
    )


def by_path(connection: sqlite3.Connection, path: str) -> StreamRecord | None:
    row = connection.execute(f"SELECT {columns} FROM streams WHERE path = ?", (path,)).fetchone()
    return record(row) if row is not None else None


def by_id(connection: sqlite3.Connection, stream_id: int) -> StreamRecord | None:
    row = connection.execute(f"SELECT {columns} FROM streams WHERE id = ?", (stream_id,)).fetchone()
    return record(row) if row is not None else None
