"""What a database error means: for the log (the driver's words), for a user (a short
sentence), and for the spool (retry later, or set the record aside for good).

Never SQLAlchemy's own text: it quotes the statement's parameters, which are what users wrote.
"""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError, SQLAlchemyError, StatementError


def first_line(text: str) -> str:
    """The first line of `text` that says something, stripped; "" if none does."""
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def driver_words(error: BaseException) -> str:
    """The first line the driver said (or, for an error not from the database, the error
    itself, cut to 200 characters); "" if nothing was said."""
    if isinstance(error, SQLAlchemyError):
        orig = getattr(error, "orig", None)
        return first_line(str(orig if orig is not None else ""))
    return first_line(str(error))[:200]


def error_detail(error: BaseException) -> str:
    """An error for the log and the quarantine: its type and the driver's first line
    ("OperationalError: database is locked")."""
    words = driver_words(error)
    return f"{type(error).__name__}: {words}" if words else type(error).__name__


class Refusal(StrEnum):
    BUSY = "busy"  # locked by another writer past the busy timeout
    READ_ONLY = "read-only"
    DISK_FULL = "disk full"
    NOT_A_DATABASE = "not a database"  # SQLite: the file is something else, or damaged
    UNREACHABLE = "unreachable"


def refusal(error: BaseException) -> Refusal | None:
    """Which of the refusals an operator can name `error` is, from the driver's words; None if none."""
    orig = getattr(error, "orig", None)
    said = str(orig if orig is not None else error).lower()
    if "locked" in said or "busy" in said:
        return Refusal.BUSY
    if "readonly" in said or "read-only" in said or "read only" in said:
        return Refusal.READ_ONLY
    if "disk" in said and "full" in said:
        return Refusal.DISK_FULL
    if "not a database" in said:
        return Refusal.NOT_A_DATABASE
    if "connect" in said:
        return Refusal.UNREACHABLE
    return None


_IN_WORDS: dict[Refusal, str] = {
    Refusal.BUSY: "the database is busy",
    Refusal.READ_ONLY: "the database is read-only",
    Refusal.DISK_FULL: "the disk is full",
    Refusal.NOT_A_DATABASE: "the database file is not a SQLite database (damaged?)",
    Refusal.UNREACHABLE: "cannot connect to the database",
}


def in_words(error: BaseException, *, otherwise: str = "the database did not accept the write") -> str:
    """What the database's refusal was, as the chat tells its user and the health check an
    operator; `otherwise` for a refusal no one can name."""
    kind = refusal(error)
    return otherwise if kind is None else _IN_WORDS[kind]


# PostgreSQL's states for a missing table, column or function, a refused privilege and a
# missing schema: raised as ProgrammingError, yet about the log (mid-restore, not migrated,
# wrong grants), not the record, and cured once an operator fixes it. Retried.
_ABOUT_THE_LOG = frozenset({"42P01", "42703", "42883", "42501", "3F000"})


def refused_for_good(error: BaseException) -> bool:
    """True if retrying cannot cure `error`: the record itself is at fault (bad data,
    a broken constraint, text the driver cannot encode, a shape the schema does not fit).
    Anything else (locked, read-only, unreachable, unknown) is retried."""
    if isinstance(error, DBAPIError):
        if error.connection_invalidated:
            return False
        if isinstance(error, (DataError, IntegrityError)):
            return True
        if isinstance(error, ProgrammingError):
            state = getattr(error.orig, "sqlstate", None)
            # SQLite says "Cannot operate on a closed database." for a connection gone.
            return state not in _ABOUT_THE_LOG and "closed" not in str(error.orig).lower()
        return False
    if isinstance(error, StatementError) and error.orig is not None:  # a value SQLAlchemy could not bind
        error = error.orig
    # UnicodeEncodeError is a ValueError; KeyError, TypeError, AttributeError: not the schema's shape.
    return isinstance(error, (KeyError, TypeError, ValueError, AttributeError))
