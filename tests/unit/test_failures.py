"""chat/db/failures.py: a database error in words for the log, for a user, and for the spool.

Where SQLite can make the error itself (a file in the test's folder), the error is the driver's own;
the refusals it cannot make here (a full disk, an unreachable server, PostgreSQL's states) carry the
words their drivers say."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, exc, text

from chat.db.failures import Refusal, driver_words, error_detail, first_line, in_words, refusal, refused_for_good

SECRET = "my-secret-prompt-words"


def _driver_error(message: str, sqlstate: str | None = None) -> Exception:
    error = Exception(message)
    error.sqlstate = sqlstate  # type: ignore[attr-defined]  # as psycopg's errors carry it
    return error


def raised(engine: Engine, statement: str, **parameters: object) -> exc.DBAPIError:
    """The error the database raises for `statement`."""
    with pytest.raises(exc.DBAPIError) as caught, engine.begin() as connection:
        connection.execute(text(statement), parameters)
    return caught.value


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite file with one table, a unique column and a row holding SECRET."""
    path = tmp_path / "t.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE notes (body TEXT NOT NULL UNIQUE)")
        connection.execute("INSERT INTO notes VALUES (?)", (SECRET,))
    connection.close()
    return path


def test_first_line_is_the_first_line_that_says_something() -> None:
    assert first_line("\n  \n  database is locked  \nsecond line\n") == "database is locked"
    assert first_line(" \n\t\n") == "" and first_line("") == ""


def test_the_log_gets_the_type_and_the_drivers_first_line_never_the_users_words(database: Path) -> None:
    engine = create_engine(f"sqlite:///{database}")
    error = raised(engine, "INSERT INTO notes VALUES (:body)", body=SECRET)
    engine.dispose()
    assert isinstance(error, exc.IntegrityError) and SECRET in str(error)  # SQLAlchemy quotes the parameters
    assert error_detail(error) == "IntegrityError: UNIQUE constraint failed: notes.body"
    assert driver_words(error) == "UNIQUE constraint failed: notes.body"


def test_an_error_with_nothing_said_is_its_type_and_one_not_from_the_database_is_cut() -> None:
    assert error_detail(exc.NoResultFound()) == "NoResultFound"  # SQLAlchemy's own, no driver behind it
    assert error_detail(exc.OperationalError("SELECT 1", {}, _driver_error(""))) == "OperationalError"
    long = RuntimeError("\n" + "x" * 300 + "\nthe rest")
    assert driver_words(long) == "x" * 200
    assert error_detail(long) == f"RuntimeError: {'x' * 200}"


def test_a_locked_database_is_busy(database: Path) -> None:
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the lock
    engine = create_engine(f"sqlite:///{database}", connect_args={"timeout": 0})
    try:
        error = raised(engine, "INSERT INTO notes VALUES ('more')")
    finally:
        holder.close()
        engine.dispose()
    assert refusal(error) is Refusal.BUSY
    assert in_words(error) == "the database is busy"


def test_a_read_only_database_is_named(database: Path) -> None:
    engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    error = raised(engine, "INSERT INTO notes VALUES ('more')")
    engine.dispose()
    assert refusal(error) is Refusal.READ_ONLY
    assert in_words(error) == "the database is read-only"


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "damaged.db"
    path.write_bytes(b"this is not SQLite, " * 100)
    engine = create_engine(f"sqlite:///{path}")
    error = raised(engine, "SELECT * FROM notes")
    engine.dispose()
    assert refusal(error) is Refusal.NOT_A_DATABASE
    assert in_words(error) == "the database file is not a SQLite database (damaged?)"


@pytest.mark.parametrize(
    ("said", "kind", "words"),
    [
        ("database or disk is full", Refusal.DISK_FULL, "the disk is full"),  # SQLite's SQLITE_FULL
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: Connection refused',
            Refusal.UNREACHABLE,
            "cannot connect to the database",
        ),
        ("cannot execute INSERT in a read-only transaction", Refusal.READ_ONLY, "the database is read-only"),
        ("could not obtain lock on row in relation", None, "the database did not accept the write"),
    ],
)
def test_what_other_drivers_say_is_named_too(said: str, kind: Refusal | None, words: str) -> None:
    error = exc.OperationalError("INSERT", {}, _driver_error(said))
    assert refusal(error) is kind
    assert in_words(error) == words


def test_a_refusal_no_one_can_name_says_what_the_caller_chose() -> None:
    error = exc.IntegrityError("INSERT", {}, _driver_error("NOT NULL constraint failed: notes.body"))
    assert refusal(error) is None
    assert in_words(error, otherwise="the prompt could not be saved") == "the prompt could not be saved"
    assert refusal(OSError("disk I/O error")) is None  # an error without a driver is read as itself


@pytest.mark.parametrize(
    ("error", "for_good"),
    [
        (exc.OperationalError("INSERT", {}, _driver_error("database is locked")), False),
        (exc.OperationalError("INSERT", {}, _driver_error("connection refused")), False),
        (exc.InterfaceError("INSERT", {}, _driver_error("connection already closed")), False),
        (exc.DisconnectionError("server closed the connection"), False),
        (exc.InternalError("INSERT", {}, _driver_error("cannot execute INSERT in a read-only transaction")), False),
        (exc.ProgrammingError("INSERT", {}, _driver_error("Cannot operate on a closed database.")), False),
        (exc.ProgrammingError("INSERT", {}, _driver_error('relation "messages" does not exist', "42P01")), False),
        (exc.ProgrammingError("INSERT", {}, _driver_error("permission denied for table messages", "42501")), False),
        (exc.DataError("INSERT", {}, _driver_error("value too long", "22001"), connection_invalidated=True), False),
        (exc.DataError("INSERT", {}, _driver_error("text fields cannot contain NUL", "22021")), True),
        (exc.IntegrityError("INSERT", {}, _driver_error("NOT NULL constraint failed")), True),
        (exc.ProgrammingError("INSERT", {}, _driver_error("Error binding parameter 1: type 'dict'")), True),
        (exc.StatementError("naive datetime", "INSERT", {}, ValueError("naive datetimes are ambiguous")), True),
        (exc.StatementError("a bug in a type", "INSERT", {}, RuntimeError("a bug")), False),
        (UnicodeEncodeError("utf-8", "a\ud800", 1, 2, "surrogates not allowed"), True),
        (KeyError("created_at"), True),
        (RuntimeError("a bug"), False),
    ],
)
def test_what_retrying_cannot_cure(error: BaseException, for_good: bool) -> None:
    assert refused_for_good(error) is for_good


def test_the_real_refusals_are_retried_and_a_broken_constraint_is_not(database: Path) -> None:
    engine = create_engine(f"sqlite:///file:{database}?mode=ro&uri=true")
    read_only = raised(engine, "INSERT INTO notes VALUES ('more')")
    engine.dispose()
    engine = create_engine(f"sqlite:///{database}")
    duplicate = raised(engine, "INSERT INTO notes VALUES (:body)", body=SECRET)
    missing = raised(engine, "INSERT INTO notes VALUES (NULL)")
    engine.dispose()
    assert not refused_for_good(read_only)  # an operator can cure it: the record waits
    assert refused_for_good(duplicate) and refused_for_good(missing)  # no retry will cure the record
