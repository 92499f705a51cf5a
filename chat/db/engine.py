"""Engine and session factory for the conversation log.

SQLite is set up for a web app with concurrent sessions: WAL (readers never block
the writer), a busy timeout (a writer waits instead of failing with "database is
locked"), and foreign keys on. PostgreSQL gets `pool_pre_ping`, so a connection
dropped by the server is replaced instead of failing a request.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import sqlite3
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, delete, event
from sqlalchemy.orm import Session, sessionmaker

from chat.db import migrate, store
from chat.db.tables import AuthSession, utcnow
from chat.db.urls import parsed_url, sqlite_file

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 5_000
# A streaming reply is touched at least this often; rows older than
# STALE_AFTER were left by a process that no longer runs.
HEARTBEAT_SECONDS = 2.0
STALE_AFTER = timedelta(minutes=2)
# Sign-in sessions that ended (expired or revoked) are forgotten this long after, at start.
ENDED_SESSIONS_KEPT = timedelta(days=30)
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal", ".migrate.lock")


def make_engine(url: str, *, busy_timeout_ms: int = SQLITE_BUSY_TIMEOUT_MS) -> Engine:
    parsed = parsed_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = sqlite_file(parsed)
        if database is not None:
            private_sqlite_file(Path(database))
        engine = create_engine(parsed, connect_args={"timeout": busy_timeout_ms / 1000, "check_same_thread": False})
        event.listen(engine, "connect", functools.partial(_configure_sqlite, busy_timeout_ms=busy_timeout_ms))
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def private_sqlite_file(database: Path) -> None:
    """Make the database's folder (0700) and file (0600) before SQLite opens it, and close
    existing ones to other users: the file holds every conversation, and SQLite gives its
    `-wal` and `-shm` the database file's own mode."""
    folder = database.parent
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
    elif _dedicated(folder, database):
        _restrict(folder, 0o700)
    if not database.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first: fine
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # SQLite takes an empty file
    for path in (database, *(database.with_name(database.name + end) for end in SQLITE_SIDE_FILES)):
        if path.exists():
            _restrict(path, 0o600)


def _dedicated(folder: Path, database: Path) -> bool:
    """A folder Parley may close to others: its own, not shared (/tmp's sticky bit), not a
    home folder, and holding only Parley's data (`sqlite:///parley.db` names the project's
    own folder, which is not Parley's to close)."""
    info = folder.stat()
    if info.st_uid != os.geteuid() or info.st_mode & stat.S_ISVTX or folder.resolve() == Path.home():
        return False
    return all(entry.name.startswith((database.name, "spool", "parley")) for entry in folder.iterdir())


def _restrict(path: Path, mode: int) -> None:
    info = path.stat()
    if info.st_uid == os.geteuid() and stat.S_IMODE(info.st_mode) & ~mode:
        try:
            path.chmod(mode)  # only a file of ours, only to take rights away
        except OSError as error:  # a read-only file system: Parley still starts, and says so
            log.warning("could not make %s private to its owner: %s", path, error.strerror)


def _configure_sqlite(connection: sqlite3.Connection, _record: Any, *, busy_timeout_ms: int) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: rows read in a short transaction stay usable after it.
    return sessionmaker(engine, expire_on_commit=False)


def process_owner() -> str:
    """Names this process in the replies it streams."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_dead_here(owner: str) -> bool:
    """True if `owner` ran on this host and its process no longer exists."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's replica: only its silence tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def init_db(engine: Engine, *, apply_migrations: bool = True) -> int:
    """Bring the schema to this Parley's revision and close replies left `streaming` by a dead process.

    With `apply_migrations=False` (PARLEY_AUTO_MIGRATE=false) a database that is
    behind is refused with a sentence instead (ConfigError).

    A reply is abandoned if the process that streamed it ran on this host and is
    gone, or if it has not been touched for `STALE_AFTER` (a replica elsewhere
    that died). Returns how many replies were marked `interrupted`.
    """
    migrate.ensure_current(engine, apply=apply_migrations)
    with session_factory(engine).begin() as session:
        purge_ended(session, before=utcnow() - ENDED_SESSIONS_KEPT)
        dead = {owner for owner in store.streaming_owners(session) if _is_dead_here(owner)}
        return store.mark_abandoned_replies(session, older_than=utcnow() - STALE_AFTER, dead_owners=dead)


def purge_ended(session: Session, *, before: datetime) -> int:
    """Forget sign-in sessions (`auth_sessions` rows) that expired or were revoked before `before`."""
    result = session.execute(
        delete(AuthSession).where((AuthSession.expires_at < before) | (AuthSession.revoked_at < before))
    )
    return int(getattr(result, "rowcount", 0) or 0)
