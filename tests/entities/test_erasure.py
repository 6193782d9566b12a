"""Deleting an entity erases it: every table holds, row for row, what it held before the
entity was spawned (its streams and their messages, producers and labels, its snapshot
stream, its subscription and links, its timers and crons, messages scheduled to it)."""

from __future__ import annotations

import sqlite3

from pydantic import BaseModel

from wakeful.entities.addressing import Address
from wakeful.entities.context import Context
from wakeful.entities.definition import Registry
from wakeful.entities.loading import SNAPSHOT_EVERY_EVENTS
from wakeful.entities.retention import trim_wake_stream
from wakeful.entities.wake import Wake
from wakeful.streams import batch
from wakeful.streams.storage import Storage
from wakeful.streams.storage.postgres import PostgresStorage
from wakeful.streams.storage.sqlite import SqliteStorage

from .conftest import HarnessFactory


class Item(BaseModel):
    id: str


async def _rows(storage: Storage) -> dict[str, int]:
    """Rows of every table of the database, but the wake stream's announcements (trimmed
    away first: they are the runtime's, and retention bounds them)."""
    await trim_wake_stream(storage, 0)
    if isinstance(storage, SqliteStorage):
        reader: sqlite3.Connection = storage.reader
        names = [
            row[0] for row in reader.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        return {
            name: reader.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names
        }
    assert isinstance(storage, PostgresStorage)
    async with storage.pool.acquire() as connection:
        names = [
            row[0]
            for row in await connection.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = $1", storage.schema
            )
        ]
        return {
            name: await connection.fetchval(f'SELECT count(*) FROM "{storage.schema}"."{name}"')
            for name in names
        }


async def test_deleting_an_entity_leaves_no_row_behind(harness_factory: HarnessFactory) -> None:
    registry = Registry()

    @registry.entity("keeper", state={"items": Item})
    async def keeper(ctx: Context, wake: Wake) -> None:
        for message in wake.messages:
            ctx.set_tag("last", str(message.payload))
            ctx.timer("reminder", 3600, {"about": message.payload})
            ctx.cron("daily", "0 9 * * *")
            # Enough events in one pass that a snapshot is written.
            for index in range(SNAPSHOT_EVERY_EVENTS + 10):
                ctx.state.items.upsert(Item(id=f"{message.payload}-{index}"))

    harness = await harness_factory(registry)
    before = await _rows(harness.storage)
    url = (await harness.service.spawn("keeper", "k1")).url
    for payload in ("first", "second"):
        await harness.service.send(url, payload)
        last = f"{payload}-{SNAPSHOT_EVERY_EVENTS + 9}"
        await harness.wait_events(
            url, lambda found, last=last: any(e.get("key") == last for e in found), what=payload
        )
    # A message scheduled to the entity from outside, not yet due.
    message = b'{"type":"inbox","key":"later","value":{"payload":"later"}}'
    await harness.storage.commit(
        [batch.ScheduleAppend("send:later", Address.parse(url).stream, message, 4e9)]
    )
    during = await _rows(harness.storage)
    assert (await harness.storage.head(Address.parse(url).snapshots)).tail > 0
    assert during != before
    assert during["schedules"] >= before["schedules"] + 3
    assert during["stream_labels"] > before["stream_labels"]

    await harness.service.delete(url)
    assert await _rows(harness.storage) == before
