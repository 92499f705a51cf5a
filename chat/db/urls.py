"""What a database URL names, and the sentences for one that names nothing usable."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from chat.errors import ConfigError


def parsed_url(url: str) -> URL:
    """DATABASE_URL as SQLAlchemy reads it; ConfigError if it is not a database URL."""
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number ("db:5432x")
        raise ConfigError("DATABASE_URL is not a valid database URL.") from None


def sqlite_file(url: URL) -> str | None:
    """The file a SQLite URL names, as written; None for another engine, an in-memory
    database, or a `file:` URI (SQLite resolves those itself)."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return None
    return database


def require_existing_file(url: URL) -> None:
    """For the commands that work on a database Parley made (SQLite would make an empty one):
    ConfigError if `url` names a SQLite file that is not there, or one this user may not reach
    (a folder on the way closed to them, a name too long: not "missing")."""
    database = sqlite_file(url)
    if database is None:
        return
    try:
        found = Path(database).is_file()
    except OSError as error:
        raise ConfigError(f"The database file {database} cannot be read: {error.strerror}.") from None
    if not found:
        raise ConfigError(f"The database file {database} does not exist.")
