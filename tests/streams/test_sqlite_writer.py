"""The SQLite group-commit writer: commits at once when idle, in order always."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from wakeful.streams.model import AppendRequest, CreateRequest
from wakeful.streams.storage.sqlite import SqliteStorage
from wakeful.streams.storage.sqlite_writer import Effects, GroupCommitWriter


def connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("CREATE TABLE IF NOT EXISTS log (n INTEGER PRIMARY KEY, value TEXT)")
    return connection


def insert(value: str) -> Callable[[sqlite3.Connection, Effects], int]:
    def operation(connection: sqlite3.Connection, effects: Effects) -> int:
        cursor = connection.execute("INSERT INTO log (value) VALUES (?)", (value,))
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    return operation


async def started(path: Path, *, inline: bool) -> GroupCommitWriter:
    writer = GroupCommitWriter(
        lambda: connect(path), asyncio.get_running_loop(), lambda _: None, inline=inline
    )
    await asyncio.to_thread(writer.start)
    return writer


async def test_an_idle_inline_writer_commits_before_submit_returns(tmp_path: Path) -> None:
    writer = await started(tmp_path / "db", inline=True)
    try:
        future = writer.submit(insert("a"))
        assert future.done()  # committed on the spot, no trip to the writer thread
        assert future.result() == 1
    finally:
        await asyncio.to_thread(writer.stop)


async def test_a_writer_without_inline_commits_on_its_thread(tmp_path: Path) -> None:
    writer = await started(tmp_path / "db", inline=False)
    try:
        future = writer.submit(insert("a"))
        assert not future.done()
        assert await future == 1
    finally:
        await asyncio.to_thread(writer.stop)


async def test_requests_behind_queued_ones_wait_their_turn(tmp_path: Path) -> None:
    """While the writer thread holds the connection, requests queue; those that follow
    queue behind them rather than jump ahead inline, so commits keep the order asked."""
    writer = await started(tmp_path / "db", inline=True)
    try:
        writer._using.acquire()  # as if the writer thread were mid-batch
        try:
            first = writer.submit(insert("first"))
            second = writer.submit(insert("second"))
            assert not first.done() and not second.done()
        finally:
            writer._using.release()
        assert [await first, await second] == [1, 2]
        third = writer.submit(insert("third"))  # idle again: inline
        assert third.done() and third.result() == 3
    finally:
        await asyncio.to_thread(writer.stop)
    rows = connect(tmp_path / "db").execute("SELECT value FROM log ORDER BY n").fetchall()
    assert rows == [("first",), ("second",), ("third",)]


async def test_a_failing_inline_request_is_rolled_back_alone(tmp_path: Path) -> None:
    writer = await started(tmp_path / "db", inline=True)

    def fail(connection: sqlite3.Connection, effects: Effects) -> None:
        connection.execute("INSERT INTO log (value) VALUES ('doomed')")
        raise ValueError("no")

    try:
        failed = writer.submit(fail)
        with pytest.raises(ValueError, match="no"):
            await failed
        assert await writer.submit(insert("kept")) == 1
    finally:
        await asyncio.to_thread(writer.stop)


@pytest.mark.parametrize(("synchronous", "inline"), [("normal", True), ("full", False)])
async def test_storage_commits_inline_only_without_a_sync_per_commit(
    tmp_path: Path, synchronous: str, inline: bool
) -> None:
    storage = SqliteStorage(str(tmp_path / "db"), synchronous=synchronous)
    await storage.start()
    try:
        future = storage.write(lambda connection, effects: 7)
        assert future.done() is inline
        assert await future == 7
    finally:
        await storage.stop()


async def test_a_commit_by_another_connection_wakes_this_ones_readers(tmp_path: Path) -> None:
    """Two storages on one file stand for two processes: SQLite tells neither of the
    other's commits, so each looks for them (``PRAGMA data_version``) and wakes its own
    live readers, which otherwise only their own commits would wake."""
    path = str(tmp_path / "shared.db")
    writer, reader = SqliteStorage(path), SqliteStorage(path)
    await writer.start()
    await reader.start()
    try:
        await writer.create(CreateRequest("s", "text/plain", None, None, False, b""))
        stream = await reader.head("s")
        for round_ in range(3):
            changed = reader.hub.watch(stream.id)
            await writer.append(AppendRequest("s", "text/plain", [f"m{round_}".encode()]))
            assert await reader.hub.wait(changed, 2.0), f"round {round_}: reader not woken"
        quiet = reader.hub.watch(stream.id)
        assert not await reader.hub.wait(quiet, 0.3)  # nothing committed: no wake
    finally:
        await reader.stop()
        await writer.stop()
