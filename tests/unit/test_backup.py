"""chat/ops/backup.py without a database: how a PostgreSQL backup is called, and a missing pg_dump.
The backups themselves, on both engines: tests/integration/test_backup.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from chat.ops import backup
from tests.conftest import TEST_COOKIE_KEY, parley


def test_the_password_travels_in_the_environment_not_on_the_command_line() -> None:
    url = make_url("postgresql+psycopg://parley:s3cr%40t@db.example.org:5433/parley?sslmode=require")
    conninfo, environment = backup.libpq_command(url)
    assert conninfo == "postgresql://parley@db.example.org:5433/parley?sslmode=require"
    assert environment == {"PGPASSWORD": "s3cr@t"}
    assert backup.libpq_command(make_url("postgresql+psycopg://parley@localhost/parley"))[1] == {}


def test_a_missing_pg_dump_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backup, "PG_BIN_GLOB", str(tmp_path / "postgresql" / "*" / "bin"))
    monkeypatch.setenv("PATH", str(tmp_path))
    env = {"PARLEY_COOKIE_KEY": TEST_COOKIE_KEY, "DATABASE_URL": "postgresql+psycopg://parley:pw@127.0.0.1:9/parley"}
    failed = parley("backup", env=env)
    assert (failed.exit_code, failed.stdout) == (1, "") and failed.stderr == (
        "Error: pg_dump is not installed, and backups of a PostgreSQL database need it "
        "(Debian: apt-get install postgresql-client).\n"
    )
    assert list(Path("backups").iterdir()) == []  # no partial file left behind
