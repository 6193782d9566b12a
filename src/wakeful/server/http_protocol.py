"""uvicorn's HTTP/1.1 protocols with a bound on a request's head (431 beyond it).

An ASGI middleware sees headers only once they are complete, so a client that sends
one endless header would fill memory first: httptools buffers it without a limit, and
h11 answers its own limit with a plain 400. These subclasses count the bytes of the
head as they arrive and answer 431 in the API's error shape, then close.

Closing a socket that still has unread request bytes makes the kernel send a reset,
which can destroy the answer before the client reads it; so after answering, the
connection is half-closed and what the client still sends is read and dropped for a
few seconds (the "lingering close" of other servers), never buffered.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
import orjson
from uvicorn.protocols.http.h11_impl import H11Protocol

MESSAGE = "request headers are too large"
LINGER_SECONDS = 5.0


def _refusal(limit: int) -> bytes:
    body = orjson.dumps(
        {"error": {"code": "HEADERS_TOO_LARGE", "message": f"{MESSAGE} (limit {limit} bytes)"}}
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
        b"content-type: application/json\r\n"
        b"connection: close\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
    )


def _refuse(transport: asyncio.Transport, limit: int) -> None:
    transport.write(_refusal(limit))
    if transport.can_write_eof():
        transport.write_eof()
        asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.close)
    else:
        transport.close()


def bounded_h11(max_header_bytes: int) -> type[asyncio.Protocol]:
    class BoundedH11(H11Protocol):
        refused = False

        def data_received(self, data: bytes) -> None:
            if self.refused:
                return
            waiting_for_head = self.conn.their_state in (h11.IDLE, h11.DONE)
            buffered = len(self.conn.trailing_data[0])
            if waiting_for_head and buffered + len(data) > max_header_bytes:
                self.refused = True
                _refuse(self.transport, max_header_bytes)
                return
            super().data_received(data)

    return BoundedH11


def bounded_httptools(max_header_bytes: int) -> type[asyncio.Protocol]:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHttpTools(HttpToolsProtocol):
        """Counts the reads that arrive while a head is incomplete. The read in which a
        head begins is not counted (it may hold the end of the previous request's body),
        so the bound is exact to within one read (at most 256 KiB in asyncio)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._in_head = False
            self._began_in_this_read = False
            self._head_bytes = 0
            self._refused = False

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._in_head = True
            self._began_in_this_read = True
            self._head_bytes = 0

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def data_received(self, data: bytes) -> None:
            if self._refused:
                return
            self._began_in_this_read = False
            super().data_received(data)
            if not self._in_head or self._began_in_this_read:
                return
            self._head_bytes += len(data)
            if self._head_bytes > max_header_bytes and not self.transport.is_closing():
                self._refused = True
                _refuse(self.transport, max_header_bytes)

    return BoundedHttpTools


def bounded_protocol(max_header_bytes: int, parser: str = "auto") -> type[asyncio.Protocol]:
    """The protocol class for ``uvicorn.run(http=...)``: httptools when installed (as
    uvicorn's "auto" chooses), else h11."""
    if parser in ("auto", "httptools"):
        try:
            return bounded_httptools(max_header_bytes)
        except ImportError:
            if parser == "httptools":
                raise
    return bounded_h11(max_header_bytes)
