"""What `python -m chat migrate [--check]` does: bring the database DATABASE_URL names to this
Parley's revision, or only say whether it is there (the migrations are `chat.db.migrate`'s).

Here, not in `chat.db.migrate`, because it opens the database from the settings, and
`chat.db.engine` (which opens databases) imports `chat.db.migrate`: the two used to import
each other through a function-local import.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from chat.db.engine import make_engine
from chat.db.failures import error_detail
from chat.db.migrate import current, head, upgrade
from chat.errors import StorageError
from chat.settings import Settings


def run_check() -> tuple[bool, str]:
    """Whether the database DATABASE_URL names is at this Parley's revision, and a line saying so."""
    with _configured_engine() as engine, engine.connect() as connection:
        revision = current(connection)
    if revision != head():
        return False, f"Migrations pending: the database is at {revision or 'no revision'}, head is {head()}."
    return True, f"The database is at head ({head()})."


def run_upgrade() -> str:
    """Bring the database DATABASE_URL names to this Parley's revision; the line to print."""
    with _configured_engine() as engine:
        before, now = upgrade(engine)
    return f"The database is at head ({now})." if before == now else f"Migrated the database from {before} to {now}."


@contextmanager
def _configured_engine() -> Iterator[Engine]:
    engine = make_engine(Settings.from_env().database_url)
    try:
        yield engine
    except SQLAlchemyError as error:  # a database that cannot be reached or written
        raise StorageError(f"Cannot migrate the database: {error_detail(error)}.") from None
    finally:
        engine.dispose()
