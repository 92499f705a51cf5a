"""Schema migrations (Alembic), applied at start under a lock.

`python -m chat migrate` (what `make migrate` runs) brings the database to this
Parley's revision; `--check` only says whether any migration is pending. Start
(`make run`, the Docker entrypoint, the app itself) applies them too unless
PARLEY_AUTO_MIGRATE=false, which refuses a database that is behind with a sentence.

Two replicas starting at once must not both migrate: the upgrade runs under a lock
(a PostgreSQL advisory lock; for SQLite a file lock beside the database, then the
database's own write lock), and the revision is read only once the lock is held.
A database made before migrations existed (by `create_all`) is recognised by its
columns and stamped at the first revision, which equals that schema.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from filelock import FileLock, Timeout
from sqlalchemy import Connection, Engine, create_engine, inspect, text

from chat.db.urls import sqlite_file
from chat.errors import ChatError, ConfigError

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
_PG_LOCK = 0x7061726C6579  # "parley"
# A replica waits this long for another's migration before giving up with a sentence.
LOCK_TIMEOUT_SECONDS = 300


SEARCH_INDEXES = ("ix_messages_search_vector", "ix_file_contents_search_vector")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Leave out of model comparisons what the migrations make by DDL for search."""
    if type_ == "table" and name is not None and name.startswith(("messages_fts", "file_contents_fts")):
        return False  # SQLite's FTS5 table and its shadow tables
    return not (type_ == "column" and name == "search_vector") and name not in SEARCH_INDEXES


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head() -> str:
    revision = ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None, "chat/db/migrations/versions has no revision"
    return revision


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock; committed if the block succeeds."""
    if engine.dialect.name == "sqlite":
        with _sqlite_file_lock(engine), engine.connect() as connection:
            # One transaction for the whole upgrade (pysqlite would otherwise run DDL
            # outside any), taken as the writer: the app's writes wait meanwhile.
            connection.exec_driver_sql("BEGIN IMMEDIATE")
            yield connection
            connection.commit()
        return
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # The advisory lock's wait is bounded like any lock's (this transaction only).
            connection.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{LOCK_TIMEOUT_SECONDS}s"})
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
        yield connection


def _sqlite_file_lock(engine: Engine) -> FileLock | nullcontext[None]:
    database = sqlite_file(engine.url)
    if database is None:
        return nullcontext()
    # 0600 like the database beside it: the data folder holds nothing for other users.
    return FileLock(f"{database}.migrate.lock", timeout=LOCK_TIMEOUT_SECONDS, mode=0o600)


def pending(engine: Engine) -> bool:
    with engine.connect() as connection:
        return current(connection) != head()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to this Parley's revision. Returns (revision before, revision now)."""
    try:
        with locked(engine) as connection:
            before = current(connection)
            if before is None and inspect(connection).has_table("conversations"):
                _adopt_unversioned(connection)
            if current(connection) != head():
                command.upgrade(_config(connection), "head")
            return before, head()
    except CommandError as error:
        raise _unknown_revision(engine, error) from None
    except Timeout:
        raise ChatError(
            f"Another Parley has been migrating this database for over {LOCK_TIMEOUT_SECONDS} s; "
            "try again when it has finished."
        ) from None


def ensure_current(engine: Engine, *, apply: bool) -> None:
    """Apply pending migrations, or (apply=False) refuse a database that is behind."""
    if apply:
        upgrade(engine)
        return
    with engine.connect() as connection:
        revision = current(connection)
    if revision != head():
        raise ConfigError(
            f"The database is at revision {revision or 'none (empty or made before migrations)'} and this "
            f"Parley needs {head()}. Run `make migrate` (python -m chat migrate), or set PARLEY_AUTO_MIGRATE=true."
        )


def _adopt_unversioned(connection: Connection) -> None:
    """Stamp a database made by `create_all` before migrations existed, if it has the first revision's schema."""
    wanted = _first_revision_columns()
    inspector = inspect(connection)
    missing: list[str] = []
    for table, columns in wanted.items():
        if not inspector.has_table(table):
            missing.append(table)
            continue
        present = {column["name"] for column in inspector.get_columns(table)}
        missing.extend(f"{table}.{column}" for column in sorted(columns - present))
    if missing:
        raise ConfigError(
            f"The database was made by an older version of Parley and lacks {', '.join(missing)}. "
            "Move it aside (for SQLite: data/parley.db) to start a new one."
        )
    command.stamp(_config(connection), FIRST_REVISION)


@functools.cache
def _first_revision_columns() -> dict[str, frozenset[str]]:
    """Each table's columns at the first revision, read off a scratch in-memory database."""
    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as connection:
            command.upgrade(_config(connection), FIRST_REVISION)
            inspector = inspect(connection)
            return {
                table: frozenset(column["name"] for column in inspector.get_columns(table))
                for table in inspector.get_table_names()
                if table != "alembic_version" and include_object(None, table, "table", True, None)
            }
    finally:
        scratch.dispose()


def _unknown_revision(engine: Engine, error: CommandError) -> ChatError:
    with engine.connect() as connection:
        revision = current(connection)
    return ChatError(
        f"The database is at revision {revision}, which this Parley does not know ({error}): a newer Parley "
        "migrated it. Run that version, or restore a backup made before."
    )
