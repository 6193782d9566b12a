"""Fixtures for the entity runtime tests (see :mod:`entities.support`).

The runtime must behave the same on both backends, so every test here that runs on a
fresh database runs on SQLite and on PostgreSQL, whatever ``WAKEFUL_TEST_HTTP_BACKENDS``
selects for the other HTTP-level tests (PostgreSQL runs are skipped when it is
unreachable, and fail in CI).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from wakeful import Settings, create_app
from wakeful.entities.definition import Registry
from wakeful.streams.storage import open_storage

from .support import Harness, start_harness

HarnessFactory = Callable[..., Awaitable[Harness]]
ENTITY_BACKENDS = ["sqlite", "postgres"]


def _parametrized(metafunc: pytest.Metafunc, name: str) -> bool:
    for marker in metafunc.definition.iter_markers("parametrize"):
        names = marker.args[0]
        if isinstance(names, str):
            names = [part.strip() for part in names.split(",")]
        if name in names:
            return True
    return False


@pytest.hookimpl(tryfirst=True)  # before the fixture's own parameters apply
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "http_database" in metafunc.fixturenames and not _parametrized(metafunc, "http_database"):
        # As a mark, which pytest applies and which takes precedence over the fixture's
        # own parameters.
        metafunc.definition.add_marker(
            pytest.mark.parametrize(
                "http_database", ENTITY_BACKENDS, indirect=True, scope="session"
            )
        )


@pytest.fixture
async def harness_factory(
    fresh_database: Callable[[], str],
) -> AsyncIterator[HarnessFactory]:
    """``await harness_factory(registry, database=None, workers=True)`` starts a runtime on
    a fresh database (or the one given); every harness is stopped at teardown."""
    started: list[Harness] = []

    async def start(
        registry: Registry, *, database: str | None = None, workers: bool = True
    ) -> Harness:
        harness = await start_harness(
            open_storage(database or fresh_database()), registry, workers=workers
        )
        started.append(harness)
        return harness

    yield start
    for harness in reversed(started):
        await harness.stop()


@pytest.fixture
def database(fresh_database: Callable[[], str]) -> str:
    """The URL of one fresh database, for tests that open several storages on it."""
    return fresh_database()


ApiFactory = Callable[[Registry], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def api_factory(fresh_database: Callable[[], str]) -> AsyncIterator[ApiFactory]:
    """``await api_factory(registry)``: an HTTP client for ``create_app`` in-process, with
    its lifespan (runtime, scheduler, dispatcher) running, on a fresh database."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(registry: Registry) -> httpx.AsyncClient:
            settings = Settings(database=fresh_database(), long_poll_timeout=1.0)
            app = create_app(settings, registry)
            await stack.enter_async_context(app.router.lifespan_context(app))
            transport = httpx.ASGITransport(app=app)
            client = httpx.AsyncClient(transport=transport, base_url="http://wakeful.test")
            return await stack.enter_async_context(client)

        yield start
