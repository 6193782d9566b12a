"""Fixtures shared by the test modules.

Storage-level tests take ``storage`` (see :mod:`backends`). HTTP-level tests take one of:

- ``server_url``: the base URL of a real ``wakeful serve`` subprocess on 127.0.0.1, with
  its own fresh database, stopped at teardown;
- ``module_server``: one such server (a :class:`servers.Server`) shared by a module;
- ``server_factory``: starts such servers with extra command-line options (or on a given
  database file, e.g. to restart after ``kill -9``), all stopped at teardown;
- ``asgi_client``: an ``httpx.AsyncClient`` talking to ``create_app`` in-process (lifespan
  included), for tests that need no separate process.

Each is parametrized by the database backend through ``http_database``. Only SQLite runs
by default; ``WAKEFUL_TEST_HTTP_BACKENDS=sqlite,postgres`` adds PostgreSQL.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
from hypothesis import settings
from support.backends import backend, storage
from support.client_types import serve
from support.postgres import new_schema, postgres_url, require_postgres, schema_url
from support.servers import Server, free_port

from wakeful import Settings, create_app

__all__ = ["backend", "new_schema", "postgres_url", "storage"]

# Property tests draw the same examples on every run, so a run is reproducible;
# HYPOTHESIS_PROFILE=explore searches fresh random examples instead.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

HTTP_BACKENDS = [
    name.strip()
    for name in os.environ.get("WAKEFUL_TEST_HTTP_BACKENDS", "sqlite").split(",")
    if name.strip()
]

# Short enough that tests of long-poll timeouts stay fast, as the conformance suite expects.
TEST_LONG_POLL_SECONDS = "1"


@pytest.fixture
def free_port_finder() -> Callable[[], int]:
    """Returns a function giving a currently unused TCP port on 127.0.0.1."""
    return free_port


@pytest.fixture(scope="session", params=HTTP_BACKENDS)
def http_database(request: pytest.FixtureRequest) -> str:
    """The backend HTTP-level tests run against: ``sqlite`` or ``postgres``."""
    name: str = request.param
    if name == "postgres":
        require_postgres()
    elif name != "sqlite":
        raise ValueError(f"unknown backend {name!r} in WAKEFUL_TEST_HTTP_BACKENDS")
    return name


@pytest.fixture(scope="session")
def fresh_database(
    http_database: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Callable[[], str]:
    """Returns a function that makes the URL of a new, empty database on each call."""
    counter = itertools.count(1)
    if http_database == "postgres":
        schemas: Callable[[], str] = request.getfixturevalue("new_schema")
        url = require_postgres()
        return lambda: schema_url(url, schemas())
    directory = tmp_path_factory.mktemp("databases")
    return lambda: str(directory / f"wakeful-{next(counter)}.db")


@pytest.fixture(scope="module")
def types_server(fresh_database: Callable[[], str]) -> Iterator[Server]:
    """A ``wakeful serve support.client_types:registry`` shared by a module."""
    running = serve(fresh_database())
    try:
        yield running
    finally:
        running.stop()


ServerFactory = Callable[..., Server]


@pytest.fixture
def server_factory(fresh_database: Callable[[], str]) -> Iterator[ServerFactory]:
    """``server_factory(*options, database=None)`` starts a server (on a fresh database
    unless one is given) and returns it running; every server is stopped at teardown."""
    started: list[Server] = []

    def start(*options: str, database: str | None = None) -> Server:
        if "--long-poll-timeout" not in options:
            options = (*options, "--long-poll-timeout", TEST_LONG_POLL_SECONDS)
        server = Server(database or fresh_database(), *options)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def server_url(server_factory: ServerFactory) -> str:
    """The base URL (``http://127.0.0.1:PORT``) of a running server on a fresh database."""
    return server_factory().url


@pytest.fixture(scope="module")
def module_server(fresh_database: Callable[[], str]) -> Iterator[Server]:
    """One server shared by a whole test module, for tests that each use their own streams."""
    server = Server(fresh_database(), "--long-poll-timeout", TEST_LONG_POLL_SECONDS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def asgi_client(
    fresh_database: Callable[[], str],
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an in-process app on a fresh database, with the app's lifespan running."""
    settings = Settings(database=fresh_database(), long_poll_timeout=1.0)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://wakeful.test") as client:
            yield client
