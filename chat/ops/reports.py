"""What the admin page shows: usage per user, day and model, recent upstream errors,
and the audited read-only view of any conversation.

This is the one place that reads across users. Reading someone's conversation goes
through `read_conversation`, which writes an audit event in the same transaction:
no audit row, no conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins
from chat.db import quotas
from chat.db.quarantine import SetAside
from chat.db.spool import Spool, waiting_usage
from chat.db.store import WITH_FILES, as_chat_message
from chat.db.tables import AuditEvent, Conversation, Message, utcnow
from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.domain.times import as_utc

DAYS_SHOWN = timedelta(days=30)


@dataclass(frozen=True)
class UserReport:
    username: str
    conversations: int
    messages: int
    tokens: int
    cost_usd: float | None  # None: no reply had a known price
    last_activity: datetime | None
    usage: quotas.QuotaUsage


@dataclass(frozen=True)
class DailyUsage:
    day: date
    username: str
    model: str
    messages: int
    tokens: int
    cost_usd: float


@dataclass(frozen=True)
class UpstreamFailure:
    at: datetime
    username: str
    model: str
    kind: str
    message: str


@dataclass(frozen=True)
class Quarantine:
    """Spooled records the log refused for good: where they are kept, and when and why
    each was set aside (never their text)."""

    path: Path
    records: list[SetAside]


def user_reports(
    session: Session,
    usernames: Sequence[str],
    *,
    now: datetime,
    waiting: Mapping[str, Sequence[quotas.Waiting]] | None = None,
) -> list[UserReport]:
    """One row per user in `usernames` (and per user who left data behind); their quota
    usage counts the turns `waiting` in the spool."""
    conversations = dict(
        session.execute(select(Conversation.username, func.count()).group_by(Conversation.username)).all()
    )
    totals = {
        username: (count, tokens, cost, last)
        for username, count, tokens, cost, last in session.execute(
            select(
                Message.username,
                func.count(),
                func.coalesce(func.sum(quotas.tokens_used()), 0),
                func.sum(Message.cost_usd),
                func.max(Message.created_at),
            ).group_by(Message.username)
        )
    }
    seen = signins.last_seen_by_user(session)
    names = list(dict.fromkeys([*usernames, *sorted(totals)]))
    reports = []
    for username in names:
        count, tokens, cost, last_message = totals.get(username, (0, 0, None, None))
        moments = [m for m in (seen.get(username), last_message and as_utc(last_message)) if m is not None]
        reports.append(
            UserReport(
                username=username,
                conversations=int(conversations.get(username, 0)),
                messages=int(count),
                tokens=int(tokens),
                cost_usd=None if cost is None else float(cost),
                last_activity=max(moments) if moments else None,
                usage=quotas.usage(session, username, now=now, waiting=(waiting or {}).get(username, ())),
            )
        )
    return reports


def daily_usage(session: Session, *, since: datetime) -> list[DailyUsage]:
    """Messages, tokens and cost per day (UTC), user and model, since `since`."""
    # date() is SQLite's function and PostgreSQL's cast syntax alike (a string on SQLite).
    day = func.date(Message.created_at)
    model = func.coalesce(Message.model, Conversation.model)
    rows = session.execute(
        select(
            day,
            Message.username,
            model,
            func.count(),
            func.coalesce(func.sum(quotas.tokens_used()), 0),
            func.coalesce(func.sum(Message.cost_usd), 0.0),
        )
        .join(Conversation, Conversation.id == Message.conversation_id)
        .where(Message.created_at >= since)
        .group_by(day, Message.username, model)
        .order_by(day)
    )
    return [
        DailyUsage(
            day=d if isinstance(d, date) else date.fromisoformat(str(d)),
            username=username,
            model=model,
            messages=int(messages),
            tokens=int(tokens),
            cost_usd=float(cost or 0.0),
        )
        for d, username, model, messages, tokens, cost in rows
    ]


def recent_failures(session: Session, *, limit: int = 20) -> list[UpstreamFailure]:
    rows = session.scalars(
        select(Message)
        .where(Message.role == "assistant", Message.status == ReplyStatus.ERROR)
        .order_by(Message.id.desc())
        .limit(limit)
    ).all()
    return [
        UpstreamFailure(
            at=row.created_at,
            username=row.username,
            model=row.model or "",
            kind=row.error_kind or "",
            message=row.error_message or "",
        )
        for row in rows
    ]


@dataclass(frozen=True)
class ConversationChoice:
    """A conversation as the audit picker lists it: no content (a title is the first words
    of a prompt), only when, how long and which, until an audited read opens it."""

    id: str
    updated_at: datetime
    messages: int
    deleted: bool

    @property
    def label(self) -> str:
        when = as_utc(self.updated_at)
        count = f"{self.messages} message{'' if self.messages == 1 else 's'}"
        return f"{when:%Y-%m-%d %H:%M} · {count} · {self.id[:8]}" + (" (deleted)" if self.deleted else "")


def conversations_of(session: Session, username: str, *, limit: int = 200) -> list[ConversationChoice]:
    """A user's conversations for the audit picker, newest first, deleted ones included."""
    count = select(func.count(Message.id)).where(Message.conversation_id == Conversation.id).scalar_subquery()
    rows = session.execute(
        select(Conversation.id, Conversation.updated_at, Conversation.deleted_at, count)
        .where(Conversation.username == username)
        .order_by(Conversation.updated_at.desc())
        .limit(limit)
    )
    return [ConversationChoice(key, updated, int(count), deleted is not None) for key, updated, deleted, count in rows]


def read_conversation(
    session: Session, conversation_id: str, *, actor: str
) -> tuple[Conversation, Sequence[Message]] | None:
    """Any user's conversation, every attempt included, for an admin's audit. Logs the
    read (in the caller's transaction, which must commit it)."""
    conversation = session.get(Conversation, conversation_id)
    if conversation is None:
        return None
    session.add(
        AuditEvent(actor=actor, action="read_conversation", target=f"{conversation.username}/{conversation.id}")
    )
    messages = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).options(WITH_FILES).order_by(Message.id)
    ).all()
    return conversation, messages


def audit_events(session: Session, *, limit: int = 50) -> Sequence[AuditEvent]:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)).all()


@dataclass(frozen=True)
class AuditedConversation:
    username: str
    title: str
    model: str
    deleted: bool
    messages: list[ChatMessage]
    superseded: frozenset[int]  # ids of messages replaced by a regenerate or an edit


class TheLog(Protocol):
    """What the read model reads through: the chat service's log and spool. `ChatService`
    fits it (chat.ops may not import chat.turns), so a screen hands over the service and
    never a sessionmaker."""

    @property
    def sessions(self) -> sessionmaker[Session]: ...

    @property
    def spool(self) -> Spool: ...


class Reports:
    """The admin page's reads, each in its own short transaction."""

    def __init__(self, database: sessionmaker[Session], spool: Spool | None = None) -> None:
        self.database = database
        self.spool = spool

    @classmethod
    def of(cls, log: TheLog) -> Reports:
        """The reports over the service's log and spool (what the admin page reads)."""
        return cls(log.sessions, spool=log.spool)

    def users(self, usernames: Sequence[str]) -> list[UserReport]:
        waiting = None
        if self.spool is not None and self.spool.has_pending():
            records = self.spool.records()  # read once for every user
            waiting = {name: waiting_usage(records, name) for name in usernames}
        with self.database() as session:
            return user_reports(session, usernames, now=utcnow(), waiting=waiting)

    def quarantine(self) -> Quarantine | None:
        """None without a spool."""
        if self.spool is None:
            return None
        return Quarantine(path=self.spool.quarantine_path.resolve(), records=self.spool.set_aside())

    def daily(self) -> list[DailyUsage]:
        with self.database() as session:
            return daily_usage(session, since=utcnow() - DAYS_SHOWN)

    def failures(self) -> list[UpstreamFailure]:
        with self.database() as session:
            return recent_failures(session)

    def conversations_of(self, username: str) -> list[tuple[str, str]]:
        """(id, label) of a user's conversations, newest first: no title until an audited read."""
        with self.database() as session:
            return [(choice.id, choice.label) for choice in conversations_of(session, username)]

    def read(self, conversation_id: str, *, actor: str) -> AuditedConversation | None:
        """A conversation for audit; the read is logged before anything is returned."""
        with self.database.begin() as session:
            found = read_conversation(session, conversation_id, actor=actor)
            if found is None:
                return None
            conversation, rows = found
            return AuditedConversation(
                username=conversation.username,
                title=conversation.title,
                model=conversation.model,
                deleted=conversation.deleted_at is not None,
                messages=[as_chat_message(row) for row in rows],
                superseded=frozenset(row.id for row in rows if row.superseded),
            )

    def audit_log(self) -> Sequence[AuditEvent]:
        with self.database() as session:
            return audit_events(session)
