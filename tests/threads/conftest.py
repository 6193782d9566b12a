"""Fixtures for the threads, AG-UI and security tests (helpers in :mod:`threads.support`).

- ``serve``: ``await serve(registry, **settings)`` runs ``create_app``
  under uvicorn in this process, on a free port of 127.0.0.1 and a fresh database (SQLite
  unless ``WAKEFUL_TEST_HTTP_BACKENDS`` adds PostgreSQL), and returns a
  :class:`threads.support.Served` (base URL and an HTTP client). Requests go over real
  sockets, so streaming responses (SSE) arrive as they are written, and every connection
  comes from 127.0.0.1 as a local user's would. Every server is stopped at teardown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from wakeful.entities.definition import Registry

from .support import Served, start_server

ServeFactory = Callable[..., Awaitable[Served]]


@pytest.fixture
async def serve(fresh_database: Callable[[], str]) -> AsyncIterator[ServeFactory]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(registry: Registry, **settings: Any) -> Served:
            served = await start_server(registry, database=fresh_database(), **settings)
            stack.push_async_callback(served.stop)
            return served

        yield start
