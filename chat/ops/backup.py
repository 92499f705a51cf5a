"""`python -m chat backup [--output FILE]` and `python -m chat restore FILE`.

A backup is a consistent copy taken while Parley runs:

- SQLite: SQLite's online backup API, which copies every page inside one read
  transaction. Under WAL a plain file copy can miss committed pages still in the
  `-wal` file or catch a half-written checkpoint; the API cannot. The copy is made a
  self-contained rollback-journal file (no `-wal` beside it), mode 0600.
- PostgreSQL: `pg_dump --format=custom`, which reads one snapshot by design.

Restore checks the file first (a SQLite database or a pg_dump archive holding
Parley's tables; SQLite's integrity check) and refuses anything else with the live
database untouched. It then saves the live database beside the backups, and brings
the file back: on SQLite with the same backup API pointed the other way (it takes
the writer lock, so a running Parley sees the restored data at its next read and no
`-wal` file goes stale); on PostgreSQL with `pg_restore --clean --single-transaction`,
so a restore that fails leaves the database as it was.
"""

from __future__ import annotations

import glob
import math
import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import SQLAlchemyError

from chat.accounts import signins
from chat.db.engine import make_engine, private_sqlite_file, session_factory
from chat.db.failures import driver_words, error_detail, first_line
from chat.db.tables import AuthSession, utcnow
from chat.db.urls import parsed_url, require_existing_file, sqlite_file
from chat.errors import ChatError
from chat.settings import Settings

BACKUP_FOLDER = Path("backups")
# Without these a file is not a Parley database, whatever else it holds.
PARLEY_TABLES = ("conversations", "messages")
SQLITE_BUSY_SECONDS = 30.0  # the backup waits this long for a writer holding the lock
SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"
# Debian keeps each PostgreSQL version's programs here, off PATH (PATH has a wrapper).
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"


class BackupError(ChatError):
    kind = "backup"


def default_output(url: str, *, now: datetime | None = None, note: str = "") -> Path:
    """backups/parley-YYYYMMDD-HHMMSS[-note].db (SQLite) or .dump (PostgreSQL), in UTC."""
    stamp = (now or utcnow()).strftime("%Y%m%d-%H%M%S")
    suffix = ".db" if _backend(url) == "sqlite" else ".dump"
    return BACKUP_FOLDER / f"parley-{stamp}{'-' + note if note else ''}{suffix}"


def create(url: str, output: Path | None = None, *, note: str = "") -> Path:
    """Write a consistent copy of the database at `url` to `output` (default: a new `default_output`)."""
    database = _sqlite_path(url) if _backend(url) == "sqlite" else None
    require_existing_file(parsed_url(url))  # a copy of the empty file SQLite would make is no backup
    target = output or _unused(default_output(url, note=note))
    partial = _reserve(target)
    try:
        if database is not None:
            _sqlite_backup(database, partial)
        else:
            _pg_dump(make_url(url), partial)
        partial.replace(target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def restore(url: str, source: Path) -> Path | None:
    """Replace the database at `url` with the backup `source`, after checking it is one.

    Returns where the live database was saved first (None if it held no Parley data)."""
    if not source.is_file():
        raise BackupError(f"{source} does not exist or is not a file.")
    if _backend(url) == "sqlite":
        _check_sqlite_backup(source)
        live = _sqlite_path(url)
        saved = create(url, note="before-restore") if _sqlite_has_parley(live) else None
        _sqlite_restore(source, live)
    else:
        _check_pg_backup(source)
        parsed = make_url(url)
        saved = create(url, note="before-restore") if _pg_has_parley(parsed) else None
        _pg_restore(parsed, source)
    _end_sign_ins(url)
    return saved


def _end_sign_ins(url: str) -> None:
    """Revoke every sign-in session in the restored database.

    A backup holds the session rows of its day: without this, a cookie signed out (or
    stolen and revoked) after the backup was taken would sign in again. Everyone signs
    in again instead; the restore's output says so."""
    engine = make_engine(url)
    try:
        with session_factory(engine).begin() as session:
            # A backup older than sign-in sessions has no such table: nothing to revive.
            if inspect(session.connection()).has_table(AuthSession.__tablename__):
                signins.revoke_all(session, now=utcnow())
    except SQLAlchemyError as error:
        raise BackupError(
            f"The data was restored, but its sign-in sessions could not be ended ({error_detail(error)}); "
            "restore again before anyone signs in."
        ) from None
    finally:
        engine.dispose()


def describe(url: str | URL) -> str:
    """The database in words, without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(parsed.database)
    return f"the PostgreSQL database {parsed.database} on {parsed.host or 'localhost'}:{parsed.port or 5432}"


# --- shared -------------------------------------------------------------------------


def _backend(url: str) -> str:
    backend = parsed_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"Backups support SQLite and PostgreSQL databases, not {backend}.")
    return backend


def _unused(path: Path) -> Path:
    """`path`, or path-2, path-3… when two backups fall in the same second."""
    candidate, number = path, 1
    while candidate.exists():
        number += 1
        candidate = path.with_stem(f"{path.stem}-{number}")
    return candidate


def _reserve(target: Path) -> Path:
    """A new, empty, owner-only `.partial` file beside `target`: the backup holds everyone's conversations."""
    if target.exists():
        raise BackupError(f"{target} already exists; choose another name.")
    if not target.parent.exists():
        target.parent.mkdir(mode=0o700, parents=True)
    partial = target.with_name(target.name + ".partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
        partial.chmod(0o600)  # O_CREAT's mode does not apply to a leftover file
    except OSError as error:
        raise BackupError(f"Cannot write {target}: {error.strerror}.") from None
    return partial


def _magic(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(len(SQLITE_MAGIC))


# --- SQLite -------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    database = sqlite_file(make_url(url))
    if database is None:
        raise BackupError("Backups need a SQLite database in a file (DATABASE_URL=sqlite:///path/to/parley.db).")
    return database


def _sqlite_backup(database: str, target: Path) -> None:
    try:
        with closing(sqlite3.connect(database, timeout=SQLITE_BUSY_SECONDS)) as live:
            _require_parley_tables(live, f"The database {database}")
            with closing(sqlite3.connect(target)) as copy:
                live.backup(copy)  # all pages in one step: one read transaction, one snapshot
                copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                _require_ok(copy, "quick_check", f"The copy of {database}")
    except sqlite3.Error as error:
        raise BackupError(f"The backup of {database} failed: {error}.") from None


def _check_sqlite_backup(source: Path) -> None:
    if _magic(source).startswith(PG_DUMP_MAGIC):
        raise BackupError(f"{source} is a PostgreSQL backup, but DATABASE_URL names a SQLite database.")
    if _magic(source) != SQLITE_MAGIC:
        raise BackupError(f"{source} is not a SQLite database, so it is not a Parley backup.")
    try:
        with closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as backup:
            _require_parley_tables(backup, str(source))
            _require_ok(backup, "integrity_check", str(source))
    except sqlite3.Error as error:
        raise BackupError(f"{source} cannot be read as a SQLite database ({error}).") from None


def _require_parley_tables(connection: sqlite3.Connection, what: str) -> None:
    names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not set(PARLEY_TABLES) <= names:
        raise BackupError(f"{what} has no Parley tables, so it is not a Parley database.")


def _require_ok(connection: sqlite3.Connection, pragma: str, what: str) -> None:
    result = [row[0] for row in connection.execute(f"PRAGMA {pragma}")]
    if result != ["ok"]:
        raise BackupError(f"{what} is damaged: {pragma} says {result[0]}.")


def _sqlite_has_parley(database: str) -> bool:
    if not Path(database).is_file():
        return False
    try:
        with closing(sqlite3.connect(database, timeout=SQLITE_BUSY_SECONDS)) as live:
            names = {row[0] for row in live.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as error:
        raise BackupError(
            f"The database {database} cannot be read ({error}); move it aside and restore again."
        ) from None
    return set(PARLEY_TABLES) <= names


def _sqlite_restore(source: Path, database: str) -> None:
    private_sqlite_file(Path(database))  # a restore into a new place makes it 0600 in a 0700 folder
    try:
        with (
            closing(sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)) as backup,
            closing(sqlite3.connect(database, timeout=SQLITE_BUSY_SECONDS)) as live,
        ):
            # Into the live file, page by page, under its writer lock: other connections
            # see the new schema and rows at their next transaction; a live WAL stays WAL.
            backup.backup(live)
    except sqlite3.Error as error:
        raise BackupError(f"The restore into {database} failed: {error}.") from None


# --- PostgreSQL ---------------------------------------------------------------------


def libpq_command(url: URL) -> tuple[str, dict[str, str]]:
    """The libpq connection URI for the PostgreSQL tools, and the environment they need.

    The password goes in PGPASSWORD: on the command line, `ps` would show it to
    every user of the machine."""
    environment = {} if url.password is None else {"PGPASSWORD": str(url.password)}
    bare = URL.create("postgresql", url.username, None, url.host, url.port, url.database, url.query)
    conninfo = bare.render_as_string(hide_password=False)
    return conninfo, environment


def pg_tool(name: str) -> str:
    """The newest installed `name` (pg_dump, pg_restore): it must be at least the server's version."""
    versioned = sorted(glob.glob(f"{PG_BIN_GLOB}/{name}"), key=_pg_version)
    found = versioned[-1] if versioned else shutil.which(name)
    if found is None:
        raise BackupError(
            f"{name} is not installed, and backups of a PostgreSQL database need it "
            "(Debian: apt-get install postgresql-client)."
        )
    return found


def _pg_version(path: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", Path(path).parts[-3]))


def _run_pg(tool: str, url: URL, *arguments: str) -> subprocess.CompletedProcess[str]:
    conninfo, secrets = libpq_command(url)
    command = [pg_tool(tool), "--no-password", f"--dbname={conninfo}", *arguments]
    return subprocess.run(command, env={**os.environ, **secrets}, capture_output=True, text=True, check=False)


def _pg_dump(url: URL, target: Path) -> None:
    result = _run_pg("pg_dump", url, "--format=custom", f"--file={target}")
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {_pg_reason(result.stderr)}.")


def _check_pg_backup(source: Path) -> None:
    if _magic(source) == SQLITE_MAGIC:
        raise BackupError(f"{source} is a SQLite backup, but DATABASE_URL names a PostgreSQL database.")
    if not _magic(source).startswith(PG_DUMP_MAGIC):
        raise BackupError(f"{source} is not a pg_dump archive (--format=custom), so it is not a Parley backup.")
    listing = subprocess.run(
        [pg_tool("pg_restore"), "--list", str(source)], capture_output=True, text=True, check=False
    )
    if listing.returncode != 0:
        raise BackupError(f"{source} cannot be read by pg_restore: {_pg_reason(listing.stderr)}.")
    tables = set(re.findall(r"^\d+; \d+ \d+ TABLE \S+ (\S+) ", listing.stdout, flags=re.MULTILINE))
    if not set(PARLEY_TABLES) <= tables:
        raise BackupError(f"{source} has no Parley tables, so it is not a Parley backup.")


def _pg_has_parley(url: URL) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return all(inspect(connection).has_table(name) for name in PARLEY_TABLES)
    except SQLAlchemyError as error:
        detail = (driver_words(error) or type(error).__name__).rstrip(".")
        raise BackupError(f"Cannot connect to {describe(url)}: {detail}.") from None
    finally:
        engine.dispose()


def _pg_restore(url: URL, source: Path) -> None:
    # --clean --if-exists: drop what the archive holds before recreating it;
    # --single-transaction: all of it or, on any error, none of it.
    result = _run_pg("pg_restore", url, "--clean", "--if-exists", "--no-owner", "--single-transaction", str(source))
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed, and the database is unchanged: {_pg_reason(result.stderr)}.")


def _pg_reason(stderr: str) -> str:
    """The tool's first error line, without its `pg_dump: error:` prefix."""
    return re.sub(r"^\S+: (error: )?", "", first_line(stderr) or "no message").rstrip(".")


# --- what the commands print --------------------------------------------------------


def run_create(output: Path | None = None) -> str:
    """Back up the database DATABASE_URL names; the line to print."""
    url = Settings.from_env().database_url
    path = create(url, output)
    return f"Backed up {describe(url)} to {path} ({_size(path)})."


def run_restore(source: Path) -> str:
    """Restore the database DATABASE_URL names from `source`; the lines to print."""
    url = Settings.from_env().database_url
    saved = restore(url, source)
    kept = f"; what it held before is in {saved}" if saved else ""
    return (
        f"Restored {describe(url)} from {source}{kept}.\n"
        "Every sign-in was ended: everyone signs in again, so no session signed out since the backup comes back."
    )


def _size(path: Path) -> str:
    size = path.stat().st_size
    if size < 1000:
        return f"{size} bytes"
    exponent = min(int(math.log(size, 1000)), 3)
    return f"{size / 1000**exponent:.1f} {('kB', 'MB', 'GB')[exponent - 1]}"
