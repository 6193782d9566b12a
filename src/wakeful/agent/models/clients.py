"""SDK clients per event loop.

An SDK client pools connections that belong to one event loop, so a model used from
several loops (tests, thin sync wrappers) gets one client per loop, created on first use
and closed by :meth:`LoopClients.aclose` from that loop.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Generic, Protocol, TypeVar


class Closable(Protocol):
    def close(self) -> Awaitable[None]: ...


C = TypeVar("C", bound=Closable)


class LoopClients(Generic[C]):
    def __init__(self, factory: Callable[[], C], fixed: C | None = None) -> None:
        self._factory = factory
        self._fixed = fixed  # a client the caller supplied: used as is, never closed here
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, C] = (
            weakref.WeakKeyDictionary()
        )

    def get(self) -> C:
        if self._fixed is not None:
            return self._fixed
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self._factory()
        return client

    async def aclose(self) -> None:
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()
