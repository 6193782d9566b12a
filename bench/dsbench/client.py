"""One Durable Streams client, used unchanged against every target.

It is deliberately thin: prebuilt URLs and bodies, one keep-alive connection pool, no
retries, no compression (``Accept-Encoding: identity``, so that a server that gzips large
reads is not charged for zlib on a loopback link). Anything unexpected is an error, since
a benchmark that silently counts failures as work measures nothing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import orjson
from yarl import URL

JSON = "application/json"
NEXT_OFFSET = "Stream-Next-Offset"
UP_TO_DATE = "Stream-Up-To-Date"

_JSON_HEADERS = {"Content-Type": JSON}


class ProtocolError(RuntimeError):
    """A server answered in a way the protocol does not allow for this request."""


def new_session(connections: int, source_host: str | None = None) -> aiohttp.ClientSession:
    """A keep-alive pool of up to ``connections``, optionally from a given source address."""
    connector = aiohttp.TCPConnector(
        limit=connections,
        limit_per_host=connections,
        ttl_dns_cache=None,
        local_addr=(source_host, 0) if source_host is not None else None,
    )
    return aiohttp.ClientSession(
        connector=connector,
        headers={"Accept-Encoding": "identity"},
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        auto_decompress=False,
    )


def loopback_source(index: int, per_address: int) -> str | None:
    """A loopback source address shared by ``per_address`` consecutive clients.

    Subscribers in the field are distinct machines, and servers may cap live reads per
    client address; spreading them over 127.0.0.2, 127.0.0.3, ... (all loopback on
    Linux) keeps the fan-out row measuring delivery rather than that cap.
    """
    if not sys.platform.startswith("linux"):
        return None
    return f"127.0.0.{2 + index // per_address}"


def json_message(size: int, **fields: int) -> bytes:
    """A JSON object of exactly ``size`` bytes: ``fields`` plus padding."""
    head = orjson.dumps({**fields, "pad": ""})
    padding = size - len(head)
    if padding < 0:
        raise ValueError(f"a {size}-byte message cannot hold {fields}")
    return head[:-2] + b"x" * padding + b'"}'


@dataclass(frozen=True, slots=True)
class Page:
    """One catch-up response."""

    body: bytes
    next_offset: str
    up_to_date: bool


@dataclass(frozen=True, slots=True)
class StreamHandle:
    """A stream on one server, with its URL parsed once rather than per request."""

    session: aiohttp.ClientSession
    url: URL

    async def create(self) -> None:
        async with self.session.put(self.url, headers=_JSON_HEADERS) as response:
            answer = await response.read()
            if response.status not in (200, 201):
                raise ProtocolError(f"PUT {self.url} answered {response.status}: {answer[:200]!r}")

    async def append(self, body: bytes) -> None:
        async with self.session.post(self.url, data=body, headers=_JSON_HEADERS) as response:
            answer = await response.read()
            if response.status not in (200, 204):
                raise ProtocolError(f"POST {self.url} answered {response.status}: {answer[:200]!r}")

    async def read(self, offset: str) -> Page:
        async with self.session.get(self.url.with_query(offset=offset)) as response:
            body = await response.read()
            if response.status != 200:
                raise ProtocolError(f"GET {self.url} answered {response.status}: {body[:200]!r}")
            next_offset = response.headers.get(NEXT_OFFSET)
            if next_offset is None:
                raise ProtocolError(f"GET {self.url} had no {NEXT_OFFSET}")
            up_to_date = response.headers.get(UP_TO_DATE, "").lower() == "true"
            return Page(body, next_offset, up_to_date)

    async def live(self) -> AsyncIterator[tuple[int, str, bytes]]:
        """SSE events from the tail on: ``(arrival monotonic ns, event type, data)``.

        The arrival time is taken when the bytes come off the socket, before parsing, so
        the client's own parsing of earlier events is not billed to the server.
        """
        url = self.url.with_query(offset="now", live="sse")
        async with self.session.get(url) as response:
            if response.status != 200:
                raise ProtocolError(f"SSE {self.url} answered {response.status}")
            pending = b""
            async for chunk in response.content.iter_any():
                arrived = time.monotonic_ns()
                pending += chunk
                *complete, pending = pending.split(b"\n\n")
                for block in complete:
                    parsed = _sse_event(block)
                    if parsed is not None:
                        yield arrived, parsed[0], parsed[1]


def _sse_event(block: bytes) -> tuple[str, bytes] | None:
    """An event block's type and data lines joined by newlines; None for comments."""
    kind = "message"
    data: list[bytes] = []
    for line in block.split(b"\n"):
        field, _, value = line.partition(b":")
        if value.startswith(b" "):
            value = value[1:]
        if field == b"event":
            kind = value.decode()
        elif field == b"data":
            data.append(value)
    if not data:
        return None
    return kind, b"\n".join(data)


def stream(session: aiohttp.ClientSession, streams_url: str, path: str) -> StreamHandle:
    return StreamHandle(session, URL(f"{streams_url}/{path}"))
