"""The synchronous client: the asynchronous one, run on a private event loop thread.

Every method of :class:`AsyncClient` exists here with the same signature and docstring,
returning plain values instead of awaitables and iterators instead of async iterators.
Running the one implementation on its own loop (rather than keeping a second one on a
blocking HTTP client) keeps the two in step, and works even where the calling thread
already runs an event loop, as in a notebook.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from .async_client import DEFAULT_TIMEOUT, DEFAULT_URL, AsyncClient

P = ParamSpec("P")
T = TypeVar("T")


class _LoopThread:
    """An event loop running forever in a daemon thread, for one client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(
            target=self.loop.run_forever, name="wakeful-client", daemon=True
        )
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result()
        except BaseException:
            # Ctrl-C (or any error here) while waiting: do not leave the call running.
            future.cancel()
            raise

    def iterate(self, iterator: AsyncIterator[T]) -> Iterator[T]:
        async def step() -> T:
            return await anext(iterator)

        async def close() -> None:
            aclose = getattr(iterator, "aclose", None)
            if aclose is not None:
                await aclose()

        try:
            while True:
                try:
                    yield self.run(step())
                except StopAsyncIteration:
                    return
        finally:
            if self.loop.is_running():
                self.run(close())

    def stop(self) -> None:
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join()
        self.loop.close()


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[Client, P], T]:
    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._loop.run(method(self._async, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


def _iterating(
    method: Callable[Concatenate[AsyncClient, P], AsyncIterator[T]],
) -> Callable[Concatenate[Client, P], Iterator[T]]:
    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        return self._loop.iterate(method(self._async, *args, **kwargs))

    functools.update_wrapper(call, method)
    return call


class Client:
    """A blocking connection to a Wakeful server; use it as ``with Client(...) as c``.

    The same operations as :class:`AsyncClient` (see there); ``list``, ``threads`` and
    ``observe`` return ordinary iterators. Close it (or leave the ``with`` block) to stop
    its loop thread."""

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        token: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self._async = AsyncClient(base_url, token, timeout=timeout)
        self.base_url = self._async.base_url
        self._loop = _LoopThread()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections and stop the loop thread."""
        if self._loop.loop.is_closed():
            return
        try:
            self._loop.run(self._async.aclose())
        finally:
            self._loop.stop()

    health = _blocking(AsyncClient.health)
    usage = _blocking(AsyncClient.usage)
    types = _blocking(AsyncClient.types)
    get_type = _blocking(AsyncClient.get_type)
    register_type = _blocking(AsyncClient.register_type)
    delete_type = _blocking(AsyncClient.delete_type)
    spawn = _blocking(AsyncClient.spawn)
    get = _blocking(AsyncClient.get)
    fork = _blocking(AsyncClient.fork)
    list = _iterating(AsyncClient.list)
    send = _blocking(AsyncClient.send)
    signal = _blocking(AsyncClient.signal)
    kill = _blocking(AsyncClient.kill)
    delete = _blocking(AsyncClient.delete)
    state = _blocking(AsyncClient.state)
    observe = _iterating(AsyncClient.observe)
    create_thread = _blocking(AsyncClient.create_thread)
    thread = _blocking(AsyncClient.thread)
    threads = _iterating(AsyncClient.threads)
    messages = _blocking(AsyncClient.messages)
    send_message = _blocking(AsyncClient.send_message)
    stop = _blocking(AsyncClient.stop)
    resume = _blocking(AsyncClient.resume)
    delete_thread = _blocking(AsyncClient.delete_thread)
    tool_call = _blocking(AsyncClient.tool_call)
    tool_result = _blocking(AsyncClient.tool_result)
    tool_error = _blocking(AsyncClient.tool_error)
    approve = _blocking(AsyncClient.approve)
    deny = _blocking(AsyncClient.deny)
    executor_calls = _blocking(AsyncClient.executor_calls)
    claim_call = _blocking(AsyncClient.claim_call)
    heartbeat_call = _blocking(AsyncClient.heartbeat_call)
    complete_call = _blocking(AsyncClient.complete_call)
    fail_call = _blocking(AsyncClient.fail_call)
