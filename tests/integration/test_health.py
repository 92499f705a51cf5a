"""`python -m chat health`: healthy and broken databases, and `--deep` against the model server."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.db.tables import AuditEvent
from tests.conftest import url_of
from tests.fake_openai import FakeOpenAI
from tests.unit.test_health import health

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def test_a_healthy_database_on_either_engine(
    sessions: sessionmaker[Session],
) -> None:
    code, line = health(url_of(sessions))
    assert code == 0 and line.startswith("healthy: database (") and "takes writes" in line
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEvent)) == 0  # the probe left nothing


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_locked_sqlite_database_is_unhealthy_within_seconds(
    sessions: sessionmaker[Session],
) -> None:
    url = url_of(sessions)
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    try:
        code, line = health(url)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and line == "Error: unhealthy: the database is busy (locked by another writer for more than 3 s)"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_read_only_database_is_unhealthy(
    sessions: sessionmaker[Session],
) -> None:
    path = url_of(sessions).removeprefix("sqlite:///")
    code, line = health(f"sqlite:///file:{path}?mode=ro&uri=true")
    assert code == 1 and line == "Error: unhealthy: the database is read-only"


def test_missing_damaged_empty_or_unreachable_databases_are_named(
    tmp_path: Path,
) -> None:
    code, line = health(f"sqlite:///{tmp_path / 'nowhere.db'}")
    assert code == 1 and "does not exist" in line
    (tmp_path / "garbage.db").write_bytes(b"this is not a database, just bytes" * 100)
    code, line = health(f"sqlite:///{tmp_path / 'garbage.db'}")
    assert code == 1 and line == "Error: unhealthy: the database file is not a SQLite database (damaged?)"
    sqlite3.connect(tmp_path / "empty.db").close()
    code, line = health(f"sqlite:///{tmp_path / 'empty.db'}")
    assert code == 1 and "lacks Parley's tables" in line
    code, line = health("postgresql+psycopg://nobody@127.0.0.1:9/parley")
    assert code == 1 and line.startswith("Error: unhealthy: cannot connect to the database")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deep_checks_the_model_server(
    sessions: sessionmaker[Session],
    fake_openai: FakeOpenAI,
) -> None:
    url = url_of(sessions)
    code, line = health(url, "--deep", OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test")
    assert code == 0 and f"model server ({fake_openai.base_url}) answers" in line
    code, line = health(url, "--deep", OPENAI_BASE_URL="http://127.0.0.1:9/v1", OPENAI_API_KEY="sk-test")
    assert code == 1 and line == "Error: unhealthy: the model server (http://127.0.0.1:9/v1) does not answer"
    code, line = health(url, "--deep", OPENAI_BASE_URL="", OPENAI_API_KEY="")
    assert code == 0 and "offline demo model" in line
