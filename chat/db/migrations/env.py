"""Alembic's environment for Parley's schema (see chat/db/migrate.py).

Parley runs migrations itself (`python -m chat migrate`, and at start), handing
over a connection that already holds the migration lock and a transaction. The
`alembic` command (developers: `alembic revision --autogenerate -m ...`) gets the
same lock and the database from DATABASE_URL.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from chat.db import migrate
from chat.db.tables import Base

config = context.config


def run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        include_object=migrate.include_object,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Parley's migrations run against a database, not as SQL scripts.")

given = config.attributes.get("connection")
if given is not None:
    run(given)
else:
    from chat.db.engine import make_engine
    from chat.settings import Settings

    engine = make_engine(Settings.from_env().database_url)
    try:
        with migrate.locked(engine) as connection:
            run(connection)
    finally:
        engine.dispose()
