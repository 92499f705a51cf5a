"""Alembic migrations on both engines: blank to head, upgrades that keep data, concurrent starts, refusals."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, MetaData, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from chat.db import migrate
from chat.db.engine import init_db, make_engine, session_factory
from chat.db.search import search_messages
from chat.db.tables import Base
from chat.db.versions import version_ids
from chat.errors import ChatError, ConfigError
from tests.conftest import ROOT, TEST_COOKIE_KEY
from tests.waiting import wait_until

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine  # type: ignore[misc]
    engine.dispose()


def schema_differences(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": migrate.include_object, "compare_type": True}
        )
        return list(compare_metadata(context, Base.metadata))


def upgrade_to(engine: Engine, revision: str) -> None:
    with migrate.locked(engine) as connection:
        command.upgrade(migrate._config(connection), revision)


def revision_rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.scalars(text("SELECT version_num FROM alembic_version")))


def test_a_blank_database_migrated_to_head_matches_the_models(engine: Engine) -> None:
    assert migrate.pending(engine)
    assert migrate.upgrade(engine) == (None, migrate.head())
    assert schema_differences(engine) == []
    assert revision_rows(engine) == [migrate.head()]
    assert not migrate.pending(engine)
    assert migrate.upgrade(engine) == (migrate.head(), migrate.head())  # again: nothing to do


def test_the_models_have_no_change_without_a_migration(engine: Engine) -> None:
    """A model edited without a revision shows here (write one: alembic revision --autogenerate)."""
    migrate.upgrade(engine)
    differences = schema_differences(engine)
    assert not differences, f"models and migrations differ: {differences}"


def fill_first_revision(engine: Engine) -> dict[str, list[tuple[Any, ...]]]:
    """Rows in every table of the first revision's schema, written with plain SQL (not the models,
    which describe head). Returns each table's rows as read back."""
    upgrade_to(engine, migrate.FIRST_REVISION)
    metadata = MetaData()
    metadata.reflect(
        engine,
        only=lambda name, _: name != "alembic_version" and migrate.include_object(None, name, "table", True, None),
    )
    t = metadata.tables
    now = datetime(2026, 11, 1, 10, 0)  # naive UTC, as stored
    with engine.begin() as connection:
        for number in range(3):
            conversation = f"c{number:031d}"
            connection.execute(
                insert(t["conversations"]).values(
                    id=conversation,
                    username="alice",
                    title=f"Trip {number}",
                    model="m",
                    system_prompt="",
                    created_at=now,
                    updated_at=now,
                    deleted_at=None if number else now,
                )
            )
            for role, content in (("user", f"Where is Zürich {number}?"), ("assistant", f"In Switzerland {number}.")):
                connection.execute(
                    insert(t["messages"]).values(
                        conversation_id=conversation,
                        username="alice",
                        role=role,
                        content=content,
                        status="complete",
                        superseded=False,
                        usage_estimated=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
        connection.execute(
            insert(t["auth_sessions"]).values(
                token_hash="a" * 64,
                username="alice",
                password_mark="m" * 16,
                address="127.0.0.1",
                created_at=now,
                last_seen_at=now,
                expires_at=now + timedelta(days=30),
            )
        )
        connection.execute(insert(t["login_failures"]).values(username_key="k" * 64, address="10.0.0.1", failed_at=now))
        connection.execute(insert(t["audit_events"]).values(at=now, actor="admin", action="read", target="c1"))
    return table_rows(engine, list(t))


def table_rows(engine: Engine, tables: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    metadata = MetaData()
    metadata.reflect(engine, only=tables)
    with engine.connect() as connection:
        return {
            name: [
                tuple(row)
                for row in connection.execute(
                    # In key order: an upgrade that updates rows moves them in PostgreSQL's heap.
                    select(*[c for c in table.c if c.name != "search_vector"]).order_by(*table.primary_key.columns)
                )
            ]
            for name, table in metadata.tables.items()
        }


def test_a_database_at_the_first_revision_keeps_every_row_through_the_upgrade(engine: Engine) -> None:
    before = fill_first_revision(engine)
    assert revision_rows(engine) == [migrate.FIRST_REVISION] != [migrate.head()]
    assert sum(len(rows) for rows in before.values()) == 3 + 6 + 1 + 1 + 1

    assert migrate.upgrade(engine) == (migrate.FIRST_REVISION, migrate.head())

    after = table_rows(engine, list(before))
    for table, rows in before.items():  # the first revision's columns, row for row
        width = len(rows[0])
        assert [row[:width] for row in after[table]] == rows, table
    assert schema_differences(engine) == []
    hits = search_messages(session_factory(engine)(), "alice", "zurich")
    assert sorted(hit.snippet for hit in hits) == ["Where is \ue000Zürich\ue001 1?", "Where is \ue000Zürich\ue001 2?"]


def test_a_database_made_before_migrations_is_adopted_with_its_data(engine: Engine) -> None:
    """The last release before Alembic made the first revision's schema with create_all: no version table."""
    before = fill_first_revision(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))

    init_db(engine)

    assert revision_rows(engine) == [migrate.head()]
    width = len(before["messages"][0])
    assert [row[:width] for row in table_rows(engine, ["messages"])["messages"]] == before["messages"]
    assert schema_differences(engine) == []


def test_the_upgrade_to_versions_gives_old_messages_their_parents(engine: Engine) -> None:
    """Before revision 0005 a regenerate superseded the last replies and an edit the last prompt
    with them: the upgrade rebuilds that tree, so the old attempts show as versions."""
    upgrade_to(engine, "0004")
    metadata = MetaData()
    metadata.reflect(engine, only=["conversations", "messages"])
    t = metadata.tables
    now = datetime(2026, 11, 1, 10, 0)
    # p1, r1 (regenerated: r1 superseded, r1b), p2 (edited: p2 and r2 superseded), p2b, r2b
    log = [("user", "p1", False), ("assistant", "r1", True), ("assistant", "r1b", False), ("user", "p2", True)]
    log += [("assistant", "r2", True), ("user", "p2b", False), ("assistant", "r2b", False)]
    with engine.begin() as connection:
        for conversation in ("a" * 32, "b" * 32):  # interleaved ids: parents stay in their conversation
            connection.execute(
                insert(t["conversations"]).values(
                    id=conversation, username="alice", title="", model="m", system_prompt="", created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
        for role, content, superseded in log:
            for conversation in ("b" * 32, "a" * 32):  # each turn written to both, ids interleaved
                connection.execute(
                    insert(t["messages"]).values(
                        conversation_id=conversation, username="alice", role=role, content=content,
                        status="complete", superseded=superseded, usage_estimated=False, created_at=now,
                        updated_at=now,
                    )
                )  # fmt: skip
    migrate.upgrade(engine)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT id, content, parent_id FROM messages WHERE conversation_id = :c ORDER BY id"), {"c": "b" * 32}
        ).all()
    content = {id_: text_ for id_, text_, _ in rows}
    parents = {text_: content.get(parent) for _, text_, parent in rows}
    assert parents == {"p1": None, "r1": "p1", "r1b": "p1", "p2": "r1b", "r2": "p2", "p2b": "r1b", "r2b": "p2b"}
    with session_factory(engine)() as session:
        found = version_ids(session, "b" * 32)
    by_text = {content[id_]: tuple(content[v] for v in group) for id_, group in found.items()}
    assert by_text["r1b"] == ("r1", "r1b") and by_text["p2b"] == ("p2", "p2b") and by_text["r2b"] == ("r2b",)


def test_a_database_from_an_older_parley_is_named_not_crashed_on(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as old:
        old.execute("CREATE TABLE conversations (id VARCHAR(32) PRIMARY KEY, username VARCHAR(64))")
    engine = make_engine(f"sqlite:///{path}")
    with pytest.raises(ConfigError, match=r"older version of Parley and lacks .*conversations\.title"):
        init_db(engine)
    engine.dispose()
    with sqlite3.connect(path) as old:  # refused whole: nothing half-made
        tables = {row[0] for row in old.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"conversations"}


def test_a_database_migrated_by_a_newer_parley_is_refused_with_a_sentence(engine: Engine) -> None:
    migrate.upgrade(engine)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(ChatError, match="revision 9999, which this Parley does not know"):
        init_db(engine)


def test_told_not_to_migrate_start_is_refused_until_make_migrate(engine: Engine) -> None:
    upgrade_to(engine, migrate.FIRST_REVISION)
    with pytest.raises(ConfigError, match=f"at revision 0001 and this Parley needs {migrate.head()}.*make migrate"):
        init_db(engine, apply_migrations=False)
    assert revision_rows(engine) == [migrate.FIRST_REVISION]  # untouched
    migrate.upgrade(engine)
    init_db(engine, apply_migrations=False)  # at head: starts


def cli_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PARLEY_", "OPENAI_"))}
    return {**env, "PARLEY_COOKIE_KEY": TEST_COOKIE_KEY, "DATABASE_URL": database_url, **extra}


def run_cli(command: str, database_url: str, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """`python -m chat COMMAND ARGS` in a process of its own, on `database_url`."""
    return subprocess.run(
        [sys.executable, "-m", "chat", command, *args],
        cwd=ROOT,
        env=cli_env(database_url, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_make_migrate_and_its_check(database_url: str) -> None:
    pending = run_cli("migrate", database_url, "--check")
    assert pending.returncode == 1 and "Migrations pending: the database is at no revision" in pending.stdout
    done = run_cli("migrate", database_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Migrated the database from None to {migrate.head()}."
    assert run_cli("migrate", database_url, "--check").returncode == 0
    again = run_cli("migrate", database_url)
    assert again.stdout.strip() == f"The database is at head ({migrate.head()})."


def test_a_database_that_cannot_be_reached_is_one_sentence() -> None:
    for args in ((), ("--check",)):
        failed = run_cli("migrate", "postgresql+psycopg://nobody@127.0.0.1:9/parley", *args)
        assert (failed.returncode, failed.stdout) == (1, "")
        assert failed.stderr.startswith("Error: Cannot migrate the database: OperationalError: ")
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_start_refuses_a_database_behind_when_told_not_to_migrate(database_url: str, auth_file: Path) -> None:
    engine = make_engine(database_url)
    upgrade_to(engine, migrate.FIRST_REVISION)
    engine.dispose()
    refused = run_cli(
        "bootstrap", database_url, "--check", PARLEY_AUTO_MIGRATE="false", PARLEY_AUTH_FILE=str(auth_file)
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: The database is at revision 0001")
    assert "make migrate" in refused.stderr
    started = run_cli("bootstrap", database_url, "--check", PARLEY_AUTH_FILE=str(auth_file))
    assert started.returncode == 0, started.stderr
    assert f"Database migrated to revision {migrate.head()}." in started.stdout


# `python -m chat migrate`, with filelock saying on stderr each time it finds the lock taken.
REPLICA = (
    "import logging, runpy; lock_log = logging.getLogger('filelock'); lock_log.setLevel(logging.DEBUG); "
    "lock_log.addHandler(logging.StreamHandler()); runpy.run_module('chat', run_name='__main__', alter_sys=True)"
)


@contextmanager
def migration_lock_held(engine: Engine) -> Iterator[Connection]:
    """The lock `chat migrate` takes, held by this process for the block, with a connection of its own."""
    holder = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": migrate._PG_LOCK})
            holder.commit()
            try:
                yield holder
            finally:
                holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": migrate._PG_LOCK})
                holder.commit()
        else:
            with migrate._sqlite_file_lock(engine):
                yield holder
    finally:
        holder.close()


class Replica:
    """A `python -m chat migrate` process; a thread of its own collects what it says on stderr."""

    def __init__(self, database_url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", REPLICA, "migrate"],
            cwd=ROOT,
            env=cli_env(database_url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.said: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.said.append(line)

    def finish(self) -> tuple[str, str]:
        """Its exit awaited: what it printed, and the end of what it said on stderr."""
        self.process.wait(120)
        self._reader.join(10)
        assert self.process.stdout is not None
        return self.process.stdout.read(), "".join(self.said)[-3000:]


def waiting_on_the_lock(holder: Connection, replicas: list[Replica]) -> bool:
    """Whether every replica, still running, waits on the lock (PostgreSQL's view, or filelock's own words)."""
    assert all(replica.process.poll() is None for replica in replicas), [replica.said for replica in replicas]
    if holder.dialect.name == "postgresql":
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        waiting = holder.execute(text(query)).scalar_one()
        holder.commit()
        return bool(waiting == len(replicas))
    return all(any("not acquired on" in line for line in replica.said[:]) for replica in replicas)


def test_two_replicas_migrating_at_once_end_in_one_correct_schema(database_url: str) -> None:
    """The lock is held while two `python -m chat migrate` start, so both are waiting on it when it opens."""
    engine = make_engine(database_url)
    with migration_lock_held(engine) as holder:
        replicas = [Replica(database_url) for _ in range(2)]
        wait_until(
            lambda: waiting_on_the_lock(holder, replicas), 60, "both replicas waiting on the migration lock", every=0.05
        )
    outputs = [replica.finish() for replica in replicas]
    assert [replica.process.returncode for replica in replicas] == [0, 0], outputs
    said = sorted(out.strip() for out, _ in outputs)
    assert said == sorted(
        [f"Migrated the database from None to {migrate.head()}.", f"The database is at head ({migrate.head()})."]
    )
    assert revision_rows(engine) == [migrate.head()]
    assert schema_differences(engine) == []
    engine.dispose()


def test_the_sqlite_upgrade_is_one_transaction(tmp_path: Path) -> None:
    """A migration that fails half-way leaves the database as it was (pysqlite alone would not)."""
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    engine = make_engine(url)
    upgrade_to(engine, migrate.FIRST_REVISION)
    with engine.begin() as connection:  # make 0002's first index fail after nothing else has run
        connection.execute(text("CREATE INDEX ix_conversations_deleted_at ON conversations (title)"))
    with pytest.raises(Exception, match="ix_conversations_deleted_at"):
        migrate.upgrade(engine)
    assert revision_rows(engine) == [migrate.FIRST_REVISION]
    with engine.connect() as connection:
        indexes = set(connection.scalars(text("SELECT name FROM sqlite_master WHERE type = 'index'")))
    assert "ix_conversations_updated_at" not in indexes  # 0002's first statement was rolled back
    engine.dispose()


def test_the_alembic_command_uses_the_same_environment(tmp_path: Path) -> None:
    """`alembic current` / `upgrade head` from the repository (developers) reach DATABASE_URL under the same lock."""
    url = f"sqlite:///{tmp_path / 'parley.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=ROOT,
        env=cli_env(url),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    engine = create_engine(url)
    assert revision_rows(engine) == [migrate.head()]
    assert make_url(url).database and Path(make_url(url).database).exists()
    engine.dispose()
