"""The ``storage`` fixture: one started backend per test, SQLite and PostgreSQL alike.

Tests that take ``storage`` run once per backend, so the two cannot drift apart on what
the protocol means. PostgreSQL runs get a fresh schema each (see :mod:`postgres`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from support.postgres import require_postgres, schema_url
from wakeful.streams.storage import Storage, open_storage

BACKENDS = ["sqlite", "postgres"]


def database_url(backend: str, tmp_path: Path, new_schema: Callable[[], str] | None) -> str:
    """A fresh database of ``backend``: a file under ``tmp_path``, or a new schema."""
    if backend == "sqlite":
        return str(tmp_path / "streams.db")
    assert new_schema is not None
    return schema_url(require_postgres(), new_schema())


def make_storage(backend: str, tmp_path: Path, new_schema: Callable[[], str] | None) -> Storage:
    return open_storage(database_url(backend, tmp_path, new_schema))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    if name == "postgres":
        require_postgres()
    return name


@pytest.fixture
async def storage(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> AsyncIterator[Storage]:
    schemas = request.getfixturevalue("new_schema") if backend == "postgres" else None
    instance = make_storage(backend, tmp_path, schemas)
    await instance.start()
    try:
        yield instance
    finally:
        await instance.stop()
