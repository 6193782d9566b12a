"""Storage backends for streams: one interface, SQLite embedded and PostgreSQL shared."""

from __future__ import annotations

from .base import Storage


def open_storage(url: str, **options: object) -> Storage:
    """The backend for a database URL or file path (``sqlite:///x.db``, ``x.db``, ``:memory:``)."""
    if url.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStorage  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return PostgresStorage(url, **options)  # type: ignore[no-any-return,unused-ignore]
    from .sqlite import SqliteStorage

    # sqlite:///relative.db and sqlite:////absolute.db, as SQLAlchemy spells them.
    path = url.removeprefix("sqlite://").removeprefix("/") if url.startswith("sqlite://") else url
    return SqliteStorage(path, **options)  # type: ignore[arg-type]


__all__ = ["Storage", "open_storage"]
