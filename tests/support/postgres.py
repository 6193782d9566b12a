"""Finding the PostgreSQL that tests run against, and giving each run its own schemas.

The database is ``WAKEFUL_TEST_DATABASE_URL`` (default: a local server with the user
``postgres`` and the database ``test``). Every run makes schemas named
``wakeful_test_<run>_<n>`` and drops them at the end, so runs on one server never see
each other. Without a reachable server the PostgreSQL tests are skipped, except in CI
(``CI=true``), where that fails the run: CI must not go green by testing nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
from collections.abc import Callable, Iterator

import asyncpg
import pytest

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
ENV = "WAKEFUL_TEST_DATABASE_URL"
RUN = secrets.token_hex(3)


def database_url() -> str:
    return os.environ.get(ENV, DEFAULT_URL)


def schema_url(url: str, schema: str) -> str:
    """``url`` with Wakeful's ``schema`` parameter, as ``wakeful serve --database`` takes it."""
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


async def _probe(url: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    await connection.close()


async def _drop(url: str, schemas: list[str]) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        for schema in schemas:
            await connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await connection.close()


_reachable: str | None = None  # the error, once probed and found unreachable
_probed = False


def require_postgres() -> str:
    """The test database URL; skips (or in CI fails) the calling test if it is unreachable."""
    global _probed, _reachable
    url = database_url()
    if not _probed:
        _probed = True
        try:
            asyncio.run(_probe(url))
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            _reachable = f"{type(exc).__name__}: {exc}"
    if _reachable is not None:
        message = f"PostgreSQL at {url} is unreachable ({_reachable})."
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"{message} CI=true requires it: start PostgreSQL or point {ENV} at one.",
                pytrace=False,
            )
        pytest.skip(f"{message} Set {ENV} to a reachable server to run these tests.")
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The base URL of the test database (skipped or failed when unreachable)."""
    return require_postgres()


@pytest.fixture(scope="session")
def new_schema(postgres_url: str) -> Iterator[Callable[[], str]]:
    """Makes names of fresh schemas for this run; drops every one of them at the end."""
    made: list[str] = []
    counter = itertools.count(1)

    def make() -> str:
        name = f"wakeful_test_{RUN}_{next(counter)}"
        made.append(name)
        return name

    yield make
    if made:
        asyncio.run(_drop(postgres_url, made))
