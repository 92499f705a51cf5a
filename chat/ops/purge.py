"""`python -m chat purge [--dry-run]`: remove what the retention settings say is past its time.

Conversations deleted by their owners more than PARLEY_DELETED_RETENTION_DAYS ago
(default 30) go first, then those inactive for more than PARLEY_RETENTION_DAYS
(default 0: kept forever); then sign-in sessions that ended over 30 days ago and
login failures older than the throttle's window. `--dry-run` says what would go and
changes nothing. Prints one line; exits 1 with the reason when it cannot run.
Safe while Parley runs (see chat/db/retention.py); run it daily from cron.
"""

from __future__ import annotations

from sqlalchemy import Engine, inspect
from sqlalchemy.exc import SQLAlchemyError

from chat.db.engine import make_engine, session_factory
from chat.db.failures import driver_words
from chat.db.retention import PurgeReport, Removed, RetentionPolicy, purge
from chat.db.tables import utcnow
from chat.db.urls import parsed_url, require_existing_file
from chat.errors import ChatError, StorageError
from chat.settings import Settings


def _engine(url: str) -> Engine:
    """The app's engine (busy timeout, foreign keys on), for a database that already exists."""
    require_existing_file(parsed_url(url))  # SQLite would make an empty one, with nothing to purge
    engine = make_engine(url)
    if not inspect(engine).has_table("conversations"):
        engine.dispose()
        raise ChatError("The database has no Parley tables yet (start Parley once, or run `make migrate`).")
    return engine


def describe(report: PurgeReport, policy: RetentionPolicy) -> str:
    """One line: what went (or would go), per kind."""
    parts = [
        _kind(report.deleted, f"deleted over {_days(policy.deleted_retention_days)} ago"),
        _kind(report.inactive, f"inactive for over {_days(policy.retention_days)}"),
        _count(report.auth_sessions, "sign-in session", "that ended over 30 days ago"),
        _count(report.login_failures, "login failure", "older than the throttle's window"),
        _count(report.files, "attached file", "no message refers to any more"),
    ]
    done = [part for part in parts if part]
    if not done:
        kept = (
            f"others {_days(policy.retention_days)} after their last activity"
            if policy.retention_days
            else ("others forever")
        )
        return f"Nothing to purge: deleted conversations are kept {_days(policy.deleted_retention_days)}, {kept}."
    listed = done[0] if len(done) == 1 else ", ".join(done[:-1]) + " and " + done[-1]
    return f"{'Would purge' if report.dry_run else 'Purged'} {listed}."


def _days(count: int) -> str:
    return f"{count} day{'' if count == 1 else 's'}"


def _count(count: int, noun: str, qualifier: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'} {qualifier}" if count else ""


def _kind(removed: Removed, qualifier: str) -> str:
    if not removed.conversations:
        return ""
    messages = f"{removed.messages} message{'' if removed.messages == 1 else 's'}"
    return f"{_count(removed.conversations, 'conversation', qualifier)} ({messages})"


def run_purge(*, dry_run: bool) -> str:
    """Purge (or, dry_run, only count) what the settings say is past its time; the line to print."""
    settings = Settings.from_env()
    policy = RetentionPolicy.from_settings(settings)
    try:
        engine = _engine(settings.database_url)
        try:
            report = purge(session_factory(engine), policy, now=utcnow(), dry_run=dry_run, actor="cli")
        finally:
            engine.dispose()
    except SQLAlchemyError as error:
        # A database that refuses (locked, gone, read-only) is the operator's to fix: said in one line.
        detail = driver_words(error) or type(error).__name__
        raise StorageError(f"The database failed: {detail}") from None
    return describe(report, policy)
