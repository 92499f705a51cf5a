"""chat/db/urls.py: what a database URL names, and a sentence for one that names nothing usable."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from chat.db.urls import parsed_url, require_existing_file, sqlite_file
from chat.errors import ConfigError


def test_a_database_url_is_read_as_sqlalchemy_reads_it() -> None:
    url = parsed_url("postgresql+psycopg://parley:pw@db.example:5433/parley")
    assert (url.get_backend_name(), url.host, url.port, url.database) == ("postgresql", "db.example", 5433, "parley")


@pytest.mark.parametrize("url", ["not a url", "postgresql+psycopg://parley:s3cret-pw@db:5432x/parley", ""])
def test_a_url_that_is_not_one_is_a_sentence_that_quotes_nothing(url: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parsed_url(url)
    assert refused.value.message == "DATABASE_URL is not a valid database URL."
    assert refused.value.__cause__ is None and refused.value.__suppress_context__  # no traceback quoting it


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///data/parley.db", "data/parley.db"),  # as written: relative to the working folder
        ("sqlite:////var/lib/parley/parley.db", "/var/lib/parley/parley.db"),
        ("sqlite+pysqlite:///parley.db", "parley.db"),
        ("sqlite://", None),
        ("sqlite:///:memory:", None),
        ("sqlite:///file:parley.db?mode=ro&uri=true", None),  # SQLite resolves a URI itself
        ("postgresql+psycopg://parley@localhost/parley.db", None),
    ],
)
def test_the_file_a_sqlite_url_names(url: str, file: str | None) -> None:
    assert sqlite_file(make_url(url)) == file


def test_an_existing_sqlite_file_and_another_engine_pass(tmp_path: Path) -> None:
    (tmp_path / "parley.db").write_bytes(b"")
    require_existing_file(make_url(f"sqlite:///{tmp_path / 'parley.db'}"))
    require_existing_file(make_url("sqlite:///parley.db"))  # relative: the sandbox is the working folder
    require_existing_file(make_url("postgresql+psycopg://parley@127.0.0.1:1/nothing"))  # not looked up
    require_existing_file(make_url("sqlite://"))


def test_a_missing_sqlite_file_or_a_folder_in_its_place_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "data" / "parley.db"
    with pytest.raises(ConfigError) as refused:
        require_existing_file(make_url(f"sqlite:///{missing}"))
    assert refused.value.message == f"The database file {missing} does not exist."
    missing.mkdir(parents=True)  # a folder is not the database either
    with pytest.raises(ConfigError, match="does not exist"):
        require_existing_file(make_url(f"sqlite:///{missing}"))
    assert not (tmp_path / "data" / "parley.db" / "parley.db").exists()  # and nothing was made


def test_a_file_that_cannot_be_reached_is_not_called_missing(tmp_path: Path) -> None:
    too_long = tmp_path / ("x" * 300 + ".db")  # longer than any file name may be
    with pytest.raises(ConfigError) as refused:
        require_existing_file(make_url(f"sqlite:///{too_long}"))
    assert refused.value.message == f"The database file {too_long} cannot be read: File name too long."
