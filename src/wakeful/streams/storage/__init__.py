"""Storage backends for streams: one interface, SQLite embedded and PostgreSQL shared."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..._extras import require
from .base import Storage


def open_storage(url: str, **options: object) -> Storage:
    """The backend for a database URL or file path (``sqlite:///x.db``, ``x.db``, ``:memory:``)."""
    if url.startswith(("postgresql://", "postgres://")):
        require("asyncpg", extra="postgres", feature="a PostgreSQL database")
        from .postgres import PostgresStorage

        return PostgresStorage(url, **options)  # type: ignore[arg-type]
    from .sqlite import SqliteStorage

    # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them.
    path = url.removeprefix("sqlite://").removeprefix("/") if url.startswith("sqlite://") else url
    return SqliteStorage(path, **options)  # type: ignore[arg-type]


def redact(url: str) -> str:
    """The database URL with any password masked, fit for logs and the console."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username}:***@{host}"))


__all__ = ["Storage", "open_storage", "redact"]
