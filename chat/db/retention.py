"""The retention purge: conversations past their time, and sign-in leftovers.

Two rules, deleted conversations first:

- a conversation its owner deleted is kept `deleted_retention_days` after the
  deletion (for the audit log), then removed;
- any conversation whose last activity (`updated_at`) is older than
  `retention_days` is removed (0: never).

A conversation with a reply still `streaming` is never removed. Conversations go in
batches, each its own short write transaction, so a purge of a live SQLite database
never holds the writer lock for long; their messages go with them (ON DELETE CASCADE),
and with the messages their search entries (SQLite's FTS triggers; PostgreSQL's
index is on the row). Sign-in sessions ended over `ENDED_SESSIONS_KEPT` ago and
login failures older than the throttle's window go too. A purge that removed
anything leaves an `audit_events` row.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, false, func, not_, or_, select
from sqlalchemy.orm import Session, aliased, sessionmaker

from chat.db import attachments as stored_files
from chat.db.engine import ENDED_SESSIONS_KEPT, purge_ended
from chat.db.tables import AuditEvent, AuthSession, Conversation, LoginFailure, Message
from chat.domain.status import ReplyStatus
from chat.errors import StorageError
from chat.settings import Settings

BATCH_SIZE = 500
# Files kept but never sent (removed from above the prompt box, a tab closed) wait this long first.
UNSENT_FILES_KEPT = timedelta(days=1)


@dataclass(frozen=True)
class RetentionPolicy:
    retention_days: int  # 0: conversations are kept forever
    deleted_retention_days: int  # 0: deleted conversations go at the next purge
    login_window: timedelta
    ended_sessions_kept: timedelta = ENDED_SESSIONS_KEPT

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            retention_days=settings.retention_days,
            deleted_retention_days=settings.deleted_retention_days,
            login_window=timedelta(minutes=settings.login_window_minutes),
        )


@dataclass(frozen=True)
class Removed:
    conversations: int = 0
    messages: int = 0

    def __add__(self, other: Removed) -> Removed:
        return Removed(self.conversations + other.conversations, self.messages + other.messages)


@dataclass(frozen=True)
class PurgeReport:
    deleted: Removed  # deleted by their owners, past deleted_retention_days
    inactive: Removed  # past retention_days since their last activity
    auth_sessions: int
    login_failures: int
    files: int = 0  # attached files' contents no message refers to any more
    dry_run: bool = False

    @property
    def anything(self) -> bool:
        counts = (self.deleted.conversations, self.inactive.conversations, self.auth_sessions, self.login_failures)
        return any(counts) or self.files > 0

    def summary(self) -> str:
        """Counts per kind, short enough for an audit row's target."""
        return (
            f"{_conversations(self.deleted)} deleted, {_conversations(self.inactive)} inactive, "
            f"{_plural(self.auth_sessions, 'ended sign-in')}, {_plural(self.login_failures, 'old login failure')}, "
            f"{_plural(self.files, 'unused file')}"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _conversations(removed: Removed) -> str:
    return f"{_plural(removed.conversations, 'conversation')} ({_plural(removed.messages, 'message')})"


def purge(
    database: sessionmaker[Session],
    policy: RetentionPolicy,
    *,
    now: datetime,
    dry_run: bool = False,
    actor: str = "system",
    batch_size: int = BATCH_SIZE,
) -> PurgeReport:
    """Remove (or, `dry_run`, count) what `policy` says is past its time at `now`."""
    deleted, inactive = _due(policy, now)
    if dry_run:
        with database() as session:
            return PurgeReport(
                deleted=_count(session, deleted),
                inactive=_count(session, inactive),
                auth_sessions=_count_rows(session, AuthSession, _ended_sessions(policy, now)),
                login_failures=_count_rows(session, LoginFailure, _old_failures(policy, now)),
                files=stored_files.count_unreferenced(session, taken_before=now - UNSENT_FILES_KEPT),
                dry_run=True,
            )
    removed_deleted = _remove(database, deleted, batch_size)  # deleted ones first
    removed_inactive = _remove(database, inactive, batch_size)
    with _writing(database) as session:
        ended = purge_ended(session, before=now - policy.ended_sessions_kept)
        failures = session.execute(delete(LoginFailure).where(_old_failures(policy, now)))
        # A file's content goes with the last message that refers to it (files are kept once per user).
        files = stored_files.drop_unreferenced(session, taken_before=now - UNSENT_FILES_KEPT)
        failed = int(getattr(failures, "rowcount", 0) or 0)
        report = PurgeReport(removed_deleted, removed_inactive, ended, failed, files)
        if report.anything:
            session.add(AuditEvent(at=now, actor=actor, action="purge", target=report.summary()[:200]))
    return report


# --- what is due --------------------------------------------------------------------


def _cutoff(now: datetime, days: int) -> datetime | None:
    """`days` before `now`; None when that is before any date there can be."""
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return None


def _due(policy: RetentionPolicy, now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The conditions for (deleted, inactive) conversations that are due; the two never overlap."""
    deleted_cutoff = _cutoff(now, policy.deleted_retention_days)
    deleted = false() if deleted_cutoff is None else Conversation.deleted_at < deleted_cutoff
    inactive_cutoff = _cutoff(now, policy.retention_days) if policy.retention_days else None
    inactive: ColumnElement[bool] = false()
    if inactive_cutoff is not None:
        not_deleted_due = Conversation.deleted_at.is_(None) | not_(deleted)
        inactive = and_(Conversation.updated_at < inactive_cutoff, not_deleted_due)
    reply = aliased(Message)  # not Message itself: counting joins Message, and this must not correlate to it
    streaming = exists().where(reply.conversation_id == Conversation.id, reply.status == ReplyStatus.STREAMING)
    return and_(deleted, ~streaming), and_(inactive, ~streaming)


def _ended_sessions(policy: RetentionPolicy, now: datetime) -> ColumnElement[bool]:
    before = now - policy.ended_sessions_kept
    return or_(AuthSession.expires_at < before, AuthSession.revoked_at < before)  # as purge_ended


def _old_failures(policy: RetentionPolicy, now: datetime) -> ColumnElement[bool]:
    return LoginFailure.failed_at < now - policy.login_window  # the throttle counts none older


# --- counting and removing -----------------------------------------------------------


def _count(session: Session, due: ColumnElement[bool]) -> Removed:
    conversations = session.scalar(select(func.count()).select_from(Conversation).where(due)) or 0
    messages = session.scalar(select(func.count()).select_from(Message).join(Conversation).where(due)) or 0
    return Removed(conversations, messages)


def _count_rows(session: Session, model: type[AuthSession] | type[LoginFailure], where: ColumnElement[bool]) -> int:
    return session.scalar(select(func.count()).select_from(model).where(where)) or 0


def _remove(database: sessionmaker[Session], due: ColumnElement[bool], batch_size: int) -> Removed:
    removed = Removed()
    while True:
        with _writing(database) as session:
            # SKIP LOCKED (PostgreSQL): a conversation someone is writing to right now is
            # left for the next purge rather than waited for.
            ids = list(
                session.scalars(select(Conversation.id).where(due).limit(batch_size).with_for_update(skip_locked=True))
            )
            if not ids:
                return removed
            batch = _count(session, Conversation.id.in_(ids))
            session.execute(delete(Conversation).where(Conversation.id.in_(ids)))  # messages: ON DELETE CASCADE
        removed += batch
        if len(ids) < batch_size:
            return removed


@contextmanager
def _writing(database: sessionmaker[Session]) -> Iterator[Session]:
    """A transaction that writes, committed at the end.

    On SQLite it takes the writer lock first (BEGIN IMMEDIATE, waiting out the busy
    timeout): a read followed by a write in a deferred transaction fails at once if
    another writer committed in between. It also checks that foreign keys are on,
    without which the messages would outlive their conversation."""
    with database() as session:
        connection = session.connection()
        if connection.dialect.name == "sqlite":
            if not connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
                raise StorageError("SQLite's foreign keys are off on this connection: messages would be left behind.")
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        yield session
        session.commit()
