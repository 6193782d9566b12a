"""Group commit for SQLite: one writer thread, many concurrent requests, few transactions.

Requests hand the writer a function of a connection. The writer drains everything queued,
runs each function under its own SAVEPOINT inside one ``BEGIN IMMEDIATE`` transaction (so
one failing request does not undo the others), commits once, and only then resolves the
callers' futures: an acknowledged write is a committed write. Under load this turns a
hundred concurrent appends into one fsync instead of a hundred.

With ``inline`` (for databases that do not sync on every commit), a request that finds
the writer idle commits at once on the caller's thread: a commit without fsync costs tens
of microseconds, less than handing it to the writer thread and back. Order holds: only a
request with nothing queued before it goes inline.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")

# Most requests in a batch are appends of a few hundred bytes; 512 bounds the latency
# the last one in a batch waits for the first ones.
MAX_BATCH = 512


@dataclass(slots=True)
class Effects:
    """What a committed operation changed, for the event loop to act on after commit."""

    changed: set[int] = field(default_factory=set)
    after_commit: list[Callable[[], None]] = field(default_factory=list)

    def merge(self, other: Effects) -> None:
        self.changed |= other.changed
        self.after_commit.extend(other.after_commit)


Operation = Callable[[sqlite3.Connection, Effects], T]


@dataclass(slots=True)
class _Job(Generic[T]):
    operation: Operation[T]
    future: asyncio.Future[T]


class GroupCommitWriter:
    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        loop: asyncio.AbstractEventLoop,
        on_commit: Callable[[Effects], None],
        *,
        inline: bool = False,
    ) -> None:
        self._connect = connect
        self._loop = loop
        self._on_commit = on_commit
        self._inline = inline
        self._connection: sqlite3.Connection | None = None
        self._using = threading.Lock()  # held by whoever uses the connection
        self._closed = False
        self._queued = 0  # jobs queued and not yet delivered (event loop thread only)
        self._queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="wakeful-sqlite-writer", daemon=True)
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        self._queue.put(None)
        self._thread.join()

    def submit(self, operation: Operation[T]) -> asyncio.Future[T]:
        future: asyncio.Future[T] = self._loop.create_future()
        job = _Job(operation, future)
        if self._inline and self._queued == 0 and self._commit_inline(job):
            return future
        self._queued += 1
        self._queue.put(job)
        return future

    def data_version(self) -> int | None:
        """SQLite's ``data_version`` as the writer's connection sees it: it changes when
        another connection (another process) commits, never for this one's own commits.
        None when the connection is busy (try again later)."""
        if self._queued or not self._using.acquire(blocking=False):
            return None
        try:
            connection = self._connection
            if self._closed or connection is None:
                return None
            return int(connection.execute("PRAGMA data_version").fetchone()[0])
        finally:
            self._using.release()

    def _commit_inline(self, job: _Job[Any]) -> bool:
        if not self._using.acquire(blocking=False):
            return False  # the writer thread is still finishing a batch
        try:
            connection = self._connection
            if self._closed or connection is None:
                return False
            outcomes, effects = self._commit(connection, [job])
        finally:
            self._using.release()
        self._deliver(outcomes, effects)
        return True

    def _run(self) -> None:
        try:
            connection = self._connect()
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._connection = connection
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stopping = False
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stopping = True
                        break
                    batch.append(job)
                with self._using:
                    outcomes, effects = self._commit(connection, batch)
                self._loop.call_soon_threadsafe(self._deliver_queued, outcomes, effects)
                if stopping:
                    return
        finally:
            with self._using:
                self._closed = True
                connection.close()

    def _commit(
        self, connection: sqlite3.Connection, batch: list[_Job[Any]]
    ) -> tuple[list[tuple[_Job[Any], Any, BaseException | None]], Effects]:
        if len(batch) == 1:
            return self._commit_one(connection, batch[0])
        outcomes: list[tuple[_Job[Any], Any, BaseException | None]] = []
        effects = Effects()
        try:
            connection.execute("BEGIN IMMEDIATE")
            for job in batch:
                own = Effects()
                connection.execute("SAVEPOINT op")
                try:
                    result = job.operation(connection, own)
                except Exception as exc:
                    connection.execute("ROLLBACK TO op")
                    connection.execute("RELEASE op")
                    outcomes.append((job, None, exc))
                else:
                    connection.execute("RELEASE op")
                    outcomes.append((job, result, None))
                    effects.merge(own)
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            outcomes = [(job, None, exc) for job in batch]
            effects = Effects()
        return outcomes, effects

    @staticmethod
    def _commit_one(
        connection: sqlite3.Connection, job: _Job[Any]
    ) -> tuple[list[tuple[_Job[Any], Any, BaseException | None]], Effects]:
        """A batch of one needs no savepoint: a failure rolls the transaction back."""
        effects = Effects()
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = job.operation(connection, effects)
            except Exception as exc:
                connection.execute("ROLLBACK")
                return [(job, None, exc)], Effects()
            connection.execute("COMMIT")
        except sqlite3.Error as exc:
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            return [(job, None, exc)], Effects()
        return [(job, result, None)], effects

    def _deliver_queued(
        self, outcomes: list[tuple[_Job[Any], Any, BaseException | None]], effects: Effects
    ) -> None:
        self._queued -= len(outcomes)
        self._deliver(outcomes, effects)

    def _deliver(
        self, outcomes: Iterable[tuple[_Job[Any], Any, BaseException | None]], effects: Effects
    ) -> None:
        self._on_commit(effects)
        for job, result, error in outcomes:
            if job.future.cancelled():
                continue
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
