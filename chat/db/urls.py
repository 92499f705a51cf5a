"""What a database URL names."""

from __future__ import annotations

from sqlalchemy.engine import URL


def sqlite_file(url: URL) -> str | None:
    """The file a SQLite URL names, as written; None for another engine, an in-memory
    database, or a `file:` URI (SQLite resolves those itself)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database
