"""What both fake providers share: the script of replies, the request log, the server thread.

Replies are described once, provider-neutrally (:class:`Reply`), and each fake renders
them in its own wire format, so a test of the OpenAI adapter and one of the Anthropic
adapter can script the same conversation. The server runs in a thread with its own event
loop so that it keeps serving while a test's loop is busy or blocked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Self, cast

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

STARTUP_SECONDS = 10.0


@dataclass(frozen=True)
class FakeToolCall:
    """A tool call the fake model makes. String arguments are sent verbatim, so a test
    can send JSON that does not parse. ``id=None`` makes one up; ``id=""`` sends none."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    def raw_arguments(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Reply:
    """One streamed model response.

    ``text`` / ``reasoning`` given as a string are split into word-sized chunks; a list
    gives the chunks exactly. ``finish`` is the provider's own wire value (``"length"``,
    ``"max_tokens"``, ...); left out, it follows from whether tools were called.
    ``interleave`` sends the argument fragments of parallel tool calls alternately
    (OpenAI only; Anthropic blocks are sequential by protocol). ``stall`` keeps the stream
    open after the content until the client goes away. ``stream_error`` is an error
    object sent inside the stream after the content. ``cut`` ends the HTTP response
    after the content, as a dropped proxy connection would, with no finish at all.
    """

    text: str | Sequence[str] = ""
    reasoning: str | Sequence[str] = ""
    tool_calls: Sequence[FakeToolCall] = ()
    usage: tuple[int, int] | None = (12, 7)
    finish: str | None = None
    interleave: bool = False
    chunk_delay: float = 0.0
    stall: bool = False
    stream_error: dict[str, Any] | None = None
    cut: bool = False
    signature: str = "fake-signature"

    def text_chunks(self) -> list[str]:
        return chunks(self.text)

    def reasoning_chunks(self) -> list[str]:
        return chunks(self.reasoning)


@dataclass(frozen=True)
class HTTPError:
    """A non-streamed error response; ``body`` defaults to the provider's error shape."""

    status: int
    message: str = "scripted error"
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


@dataclass(frozen=True)
class Recorded:
    """A request as the fake received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


def chunks(value: str | Sequence[str]) -> list[str]:
    if isinstance(value, str):
        return re.findall(r"\S+\s*|\s+", value)
    return list(value)


def split(text: str, parts: int) -> list[str]:
    """``text`` in ``parts`` roughly equal pieces (fewer if it is short)."""
    if not text:
        return []
    size = max(1, -(-len(text) // parts))
    return [text[i : i + size] for i in range(0, len(text), size)]


def sse(data: Any, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


class FakeServer:
    """A scripted provider on 127.0.0.1. Subclasses add routes and render replies."""

    #: Appended to :attr:`url` to form the ``base_url`` the provider's SDK expects.
    base_path = ""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        #: Set when a stalled stream's client went away (e.g. its task was cancelled).
        self.disconnected = threading.Event()
        #: Set when a stalled stream has sent its content and is waiting.
        self.stalled = threading.Event()
        self._script: deque[Reply | HTTPError] = deque()
        self._lock = threading.Lock()
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.url + self.base_path

    # -- scripting ------------------------------------------------------------------------

    def script(self, *items: Reply | HTTPError) -> Self:
        with self._lock:
            self._script.extend(items)
        return self

    def next_item(self) -> Reply | HTTPError:
        with self._lock:
            if not self._script:
                return HTTPError(599, "the fake server has no scripted reply left")
            return self._script.popleft()

    @property
    def remaining(self) -> int:
        with self._lock:
            return len(self._script)

    def last_body(self) -> Any:
        return self.requests[-1].body

    # -- rendering (per provider) ---------------------------------------------------------

    def routes(self) -> list[Route]:
        raise NotImplementedError

    def error_body(self, error: HTTPError) -> Any:
        raise NotImplementedError

    async def record(self, request: Request) -> Any:
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.headers), body)
        )
        return body

    def error_response(self, error: HTTPError) -> Response:
        body = error.body if error.body is not None else self.error_body(error)
        return JSONResponse(body, status_code=error.status, headers=error.headers)

    def streaming(self, events: AsyncIterator[bytes]) -> Response:
        return StreamingResponse(events, media_type="text/event-stream")

    async def stall(self) -> None:
        """Hold the stream open until the client disconnects (Starlette then cancels us)."""
        stalled, disconnected = self.stalled, self.disconnected  # this test's, not the next's
        stalled.set()
        try:
            await asyncio.Event().wait()  # never set: only cancellation ends the wait
        finally:
            disconnected.set()

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> Self:
        app = Starlette(routes=self.routes())
        config = uvicorn.Config(
            app, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_SECONDS
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{type(self).__name__} did not start")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._socket.close()

    def reset(self) -> Self:
        """Forget the script, the requests and the stall events, for the next test."""
        with self._lock:
            self._script.clear()
        self.requests = []
        self.disconnected = threading.Event()
        self.stalled = threading.Event()
        return self

    @classmethod
    def shared(cls) -> Self:
        """One running server of this kind for the whole test run (starting one per test
        costs more than the test), reset for each use; it dies with the process."""
        server = _shared.get(cls)
        if server is None:
            server = _shared[cls] = cls().start()
        return cast(Self, server.reset())

    @classmethod
    @contextlib.contextmanager
    def running(cls) -> Iterator[Self]:
        server = cls().start()
        try:
            yield server
        finally:
            server.stop()


_shared: dict[type[FakeServer], FakeServer] = {}
