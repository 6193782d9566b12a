"""Waking live readers in every process through PostgreSQL's LISTEN/NOTIFY.

Each process keeps one dedicated connection that LISTENs on the schema's channel and
hands the stream ids it hears to its :class:`~wakeful.streams.hub.ChangeHub`. The same
connection announces this process's own commits: ``pg_notify(channel, "<origin>
<id>,<id>...")``; a process skips notifications of its own origin, since it woke its own
readers right after its commit.

Announcements are sent just *after* the write transaction commits, not inside it, and
coalesced: whatever commits while one announcement is on the wire goes out together in
the next. A NOTIFY inside a write transaction would take PostgreSQL's cluster-wide
notification lock until that transaction's WAL flush, serializing every committing
writer (measured here: about 570 appends/s with it inside, 1,600 without). The price
is that a process killed between a commit and its announcement leaves other processes'
readers unwoken for that change: they still see it at their next look (an SSE reader
every keepalive, a long-poll at its timeout), and no data is lost.

The same payloads carry *signals*: names (not numbers) such as ``wake`` (a webhook
delivery fell due) or ``schedule`` (a timer was set), which another process's background
loops act on through :attr:`ChangeRelay.on_signal`, so a poke reaches every process
without any of them polling.

Notifications sent while the listening connection is down are lost too, so after every
reconnect the relay wakes all waiting readers, which then re-read the streams they
follow. A light ``SELECT 1`` when the connection has been idle for a few seconds finds
a connection that died silently (a network drop sends no FIN); it checks the
connection, it does not poll for data.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from typing import Any

import asyncpg

from ..hub import ChangeHub

log = logging.getLogger("wakeful.streams.postgres")

# PostgreSQL refuses payloads of 8000 bytes or more.
MAX_PAYLOAD = 7900
NOTIFY = "SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload"


def channel_for(schema: str) -> str:
    return f"{schema}_changes"


def payloads(origin: str, stream_ids: Iterable[int], signals: Iterable[str] = ()) -> list[str]:
    """The notification payloads that announce ``stream_ids`` and ``signals``, each under
    the size limit."""
    result: list[str] = []
    current = ""
    for item in [*map(str, sorted(stream_ids)), *sorted(signals)]:
        if current and len(origin) + 1 + len(current) + 1 + len(item) > MAX_PAYLOAD:
            result.append(f"{origin} {current}")
            current = ""
        current = f"{current},{item}" if current else item
    if current:
        result.append(f"{origin} {current}")
    return result


def decode(payload: str) -> tuple[str, list[int], list[str]]:
    """The origin, stream ids and signals of a payload."""
    origin, _, items = payload.partition(" ")
    ids: list[int] = []
    signals: list[str] = []
    for item in items.split(","):
        if item.isdigit():
            ids.append(int(item))
        elif item.isidentifier():
            signals.append(item)
        elif item:
            raise ValueError(f"malformed item {item!r}")
    return origin, ids, signals


def parse(payload: str) -> tuple[str, list[int]]:
    origin, ids, _ = decode(payload)
    return origin, ids


class ChangeRelay:
    """One connection per process that announces local commits and hears everyone's."""

    def __init__(
        self,
        dsn: str,
        channel: str,
        origin: str,
        hub: ChangeHub,
        *,
        ping_seconds: float = 5.0,
        retry_seconds: float = 0.5,
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.origin = origin
        self.hub = hub
        self.ping_seconds = ping_seconds
        self.retry_seconds = retry_seconds
        self.connect_options = connect_options or {}
        self.connections = 0  # how many times a listening connection was established
        self.server_pid: int | None = None  # of the current connection
        # Called with each signal another process sent (on the event loop).
        self.on_signal: Callable[[str], None] = lambda name: None
        self._pending: set[int] = set()
        self._signals: set[str] = set()
        self._attention = asyncio.Event()
        self._lost = False
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ready: asyncio.Future[None] | None = None

    def announce(self, stream_ids: Iterable[int], signals: Iterable[str] = ()) -> None:
        """Tell the other processes (soon, not in this call) that these streams changed,
        and send them ``signals``."""
        before = len(self._pending) + len(self._signals)
        self._pending.update(stream_ids)
        self._signals.update(signals)
        if len(self._pending) + len(self._signals) != before:
            self._attention.set()

    async def start(self) -> None:
        """Listen; returns once the first connection listens (raises if it cannot connect)."""
        self._ready = asyncio.get_running_loop().create_future()
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="wakeful-postgres-relay")
        await asyncio.shield(self._ready)

    async def stop(self, flush_seconds: float = 2.0) -> None:
        """Send what is still pending (for up to ``flush_seconds``), then disconnect."""
        if self._task is None:
            return
        self._stopping = True
        self._attention.set()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError, Exception):
            async with asyncio.timeout(flush_seconds):
                await asyncio.shield(self._task)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self._task
        self._task = None

    def _deliver(self, connection: object, pid: int, channel: str, payload: object) -> None:
        try:
            origin, stream_ids, signals = decode(str(payload))
        except ValueError:
            log.warning("ignoring malformed change notification %r", payload)
            return
        if origin == self.origin:
            return
        self.hub.publish(stream_ids)
        for name in signals:
            try:
                self.on_signal(name)
            except Exception:
                log.exception("handling the %r signal failed", name)

    def _on_lost(self, connection: object) -> None:
        self._lost = True
        self._attention.set()

    async def _run(self) -> None:
        assert self._ready is not None
        while not self._stopping:
            try:
                await self._serve_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not self._ready.done():
                    self._ready.set_exception(exc)
                    return
                if self._stopping:
                    return
                log.warning("change relay lost its connection (%s); reconnecting", exc)
            if not self._stopping:
                await asyncio.sleep(self.retry_seconds)

    async def _serve_once(self) -> None:
        assert self._ready is not None
        connection = await asyncpg.connect(self.dsn, **self.connect_options)
        self._lost = False
        connection.add_termination_listener(self._on_lost)
        try:
            await connection.add_listener(self.channel, self._deliver)
            self.server_pid = connection.get_server_pid()
            self.connections += 1
            if self._ready.done():
                # Anything committed while nobody listened was not delivered: have every
                # live reader look again.
                self.hub.publish_all()
                log.info("change relay reconnected")
            else:
                self._ready.set_result(None)
            while True:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.ping_seconds):
                        await self._attention.wait()
                self._attention.clear()
                if self._lost:
                    raise ConnectionError("the relay's connection was closed")
                if self._pending or self._signals:
                    await self._send(connection)
                elif self._stopping:
                    return
                else:
                    async with asyncio.timeout(self.ping_seconds):
                        await connection.execute("SELECT 1")
                if self._stopping and not (self._pending or self._signals):
                    return
        finally:
            connection.terminate()

    async def _send(self, connection: asyncpg.Connection[Any]) -> None:
        stream_ids, self._pending = self._pending, set()
        signals, self._signals = self._signals, set()
        try:
            async with asyncio.timeout(self.ping_seconds):
                await connection.execute(
                    NOTIFY, self.channel, payloads(self.origin, stream_ids, signals)
                )
        except BaseException:
            self._pending |= stream_ids  # announce them on the next connection
            self._signals |= signals
            raise
