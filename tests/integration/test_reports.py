"""chat/ops/reports.py: the admin page's reads, counted exactly, and the audited read of a conversation.

The page drawing them is tests/app/test_accounts.py's; the quarantine's report,
tests/integration/test_quarantine.py's. Here the figures themselves, on both engines (the daily
grouping is SQL each engine spells its own way)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.accounts import signins
from chat.db import spool, store
from chat.db.quotas import QuotaUsage, Waiting
from chat.db.tables import AuditEvent, new_id, utcnow
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from chat.ops import reports
from chat.ops.reports import Reports

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

NOW = utcnow().replace(microsecond=0)


def conversation(username: str, *, model: str = "conv-model", at: datetime = NOW) -> ConversationRecord:
    return ConversationRecord(
        id=new_id(), username=username, title="T", model=model, system_prompt="", temperature=None, created_at=at
    )


def turn(
    session: Session,
    record: ConversationRecord,
    at: datetime,
    *,
    tokens: tuple[int | None, int | None] = (None, None),
    cost: float | None = None,
    model: str | None = "m",
    status: ReplyStatus = ReplyStatus.COMPLETE,
    error: tuple[str, str] | None = None,
) -> int:
    """A prompt and its reply at `at`; the reply's id."""
    reply = ReplyRecord(
        content="A",
        status=status,
        created_at=at,
        finished_at=at,
        model=model,
        prompt_tokens=tokens[0],
        completion_tokens=tokens[1],
        cost_usd=cost,
        error_kind=error[0] if error else None,
        error_message=error[1] if error else None,
    )
    return store.write_turn(session, record, PromptRecord(content="Q", model=model, created_at=at), reply)


def test_each_user_is_counted_with_their_last_activity_and_quota_usage(sessions: sessionmaker[Session]) -> None:
    alice, carol = conversation("alice"), conversation("carol")
    with sessions.begin() as session:
        turn(session, alice, NOW - timedelta(hours=3), tokens=(10, 5), cost=0.01)
        turn(session, alice, NOW - timedelta(hours=2), tokens=(100, 50))  # no price: adds no cost
        turn(session, alice, NOW - timedelta(days=2), tokens=(1000, 0), cost=0.5)  # outside the day's quota
        turn(session, carol, NOW - timedelta(seconds=20), tokens=(None, 7))
        signins.create(
            session,
            token="a-token",
            username="alice",
            password_hash="h",
            address="10.0.0.1",
            now=NOW - timedelta(hours=1),
            expires_at=NOW + timedelta(days=1),
        )
    waiting = {"alice": [Waiting(at=NOW - timedelta(seconds=10), tokens=8, new_request=True)]}
    with sessions() as session:
        found = reports.user_reports(session, ["bob", "alice"], now=NOW, waiting=waiting)
    assert [r.username for r in found] == ["bob", "alice", "carol"]  # those asked for, then who left data
    bob, alices, carols = found
    assert (bob.conversations, bob.messages, bob.tokens, bob.cost_usd, bob.last_activity) == (0, 0, 0, None, None)
    assert (alices.conversations, alices.messages, alices.tokens) == (1, 6, 1165)
    assert alices.cost_usd == pytest.approx(0.51)
    assert alices.last_activity == NOW - timedelta(hours=1)  # signed in after her last message
    assert alices.usage == QuotaUsage(messages_last_minute=1, tokens_last_day=165 + 8)  # the spool's turn too
    assert (carols.messages, carols.tokens, carols.cost_usd) == (2, 7, None)
    assert carols.last_activity == NOW - timedelta(seconds=20)
    assert carols.usage == QuotaUsage(messages_last_minute=1, tokens_last_day=7)


def test_usage_per_utc_day_user_and_model_since_a_moment(sessions: sessionmaker[Session]) -> None:
    late, early = datetime(2026, 3, 1, 23, 30, tzinfo=UTC), datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    alice, bob = conversation("alice", model="conv-model"), conversation("bob")
    with sessions.begin() as session:
        turn(session, alice, late - timedelta(days=1), tokens=(1, 1), cost=1.0)  # before `since`
        turn(session, alice, late, tokens=(10, 5), cost=0.25, model="gpt-a")
        turn(session, alice, late + timedelta(minutes=10), tokens=(1, 2), model="gpt-a")
        turn(session, alice, early, tokens=(3, 4), cost=0.5, model=None)  # the conversation's model
        turn(session, bob, early, tokens=(2, 2), model="gpt-a")
    with sessions() as session:
        rows = reports.daily_usage(session, since=late)
    assert [r.day for r in rows] == sorted(r.day for r in rows)  # by day; within a day in any order
    assert sorted((r.day, r.username, r.model, r.messages, r.tokens) for r in rows) == [
        (date(2026, 3, 1), "alice", "gpt-a", 4, 18),
        (date(2026, 3, 2), "alice", "conv-model", 2, 7),
        (date(2026, 3, 2), "bob", "gpt-a", 2, 4),
    ]
    costs = {(r.day, r.username): r.cost_usd for r in rows}
    assert costs == {
        (date(2026, 3, 1), "alice"): 0.25,
        (date(2026, 3, 2), "alice"): 0.5,
        (date(2026, 3, 2), "bob"): 0.0,
    }
    assert all(isinstance(r.day, date) for r in rows)


def test_the_page_shows_the_last_thirty_days(sessions: sessionmaker[Session]) -> None:
    alice = conversation("alice")
    with sessions.begin() as session:
        turn(session, alice, NOW - reports.DAYS_SHOWN - timedelta(hours=1), tokens=(1, 1))
        turn(session, alice, NOW - timedelta(days=1), tokens=(2, 2))
    (shown,) = Reports(sessions).daily()
    assert (shown.day, shown.tokens) == ((NOW - timedelta(days=1)).date(), 4)


def test_recent_failures_are_the_replies_that_ended_in_an_error_newest_first(sessions: sessionmaker[Session]) -> None:
    alice, bob = conversation("alice"), conversation("bob")
    with sessions.begin() as session:
        turn(session, alice, NOW, status=ReplyStatus.ERROR, error=("rate_limit", "Too many requests (429)"))
        turn(session, alice, NOW, status=ReplyStatus.INTERRUPTED, error=("interrupted", "Stopped"))
        turn(session, bob, NOW, model=None, status=ReplyStatus.ERROR, error=("server", "Internal error (500)"))
        turn(session, alice, NOW)
    with sessions() as session:
        failures = reports.recent_failures(session)
        assert [f.username for f in reports.recent_failures(session, limit=1)] == ["bob"]
    assert [(f.username, f.model, f.kind, f.message) for f in failures] == [
        ("bob", "", "server", "Internal error (500)"),
        ("alice", "m", "rate_limit", "Too many requests (429)"),
    ]
    assert [f.username for f in Reports(sessions).failures()] == ["bob", "alice"]


def test_the_audit_picker_lists_a_users_conversations_deleted_ones_too_without_content(
    sessions: sessionmaker[Session],
) -> None:
    old = conversation("alice", at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC))
    new = conversation("alice", at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    other = conversation("bob")
    with sessions.begin() as session:
        turn(session, old, datetime(2026, 3, 1, 9, 5, tzinfo=UTC))
        turn(session, new, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
        turn(session, new, datetime(2026, 3, 2, 10, 30, tzinfo=UTC))
        turn(session, other, NOW)
        store.delete_conversation(session, old.id, "alice")
        store.create_conversation(session, conversation("alice", at=datetime(2026, 3, 1, 8, 0, tzinfo=UTC)))
    with sessions() as session:
        choices = reports.conversations_of(session, "alice")
    assert [(c.id, c.messages, c.deleted) for c in choices[:2]] == [(new.id, 4, False), (old.id, 2, True)]
    assert [c.messages for c in choices] == [4, 2, 0]
    assert Reports(sessions).conversations_of("alice")[:2] == [
        (new.id, f"2026-03-02 10:30 · 4 messages · {new.id[:8]}"),
        (old.id, f"2026-03-01 09:05 · 2 messages · {old.id[:8]} (deleted)"),
    ]
    single = reports.ConversationChoice("0123456789", datetime(2026, 3, 1, 8, 0), 1, False)  # as SQLite hands it back
    assert single.label == "2026-03-01 08:00 · 1 message · 01234567"


def test_reading_a_conversation_is_recorded_and_shows_every_attempt(sessions: sessionmaker[Session]) -> None:
    alice = conversation("alice")
    with sessions.begin() as session:
        first = turn(session, alice, NOW - timedelta(minutes=2))
        store.supersede(session, [m for m in store.conversation_messages(session, alice.id, "alice") if m.id == first])
        again = ReplyRecord(content="B", status=ReplyStatus.COMPLETE, created_at=NOW)
        second = store.write_turn(session, alice, None, again)
        store.delete_conversation(session, alice.id, "alice")
    audit = Reports(sessions)
    assert audit.read("no-such-id", actor="admin") is None
    assert audit.audit_log() == []  # nothing read, nothing recorded
    read = audit.read(alice.id, actor="admin")
    assert read is not None
    assert (read.username, read.title, read.model, read.deleted) == ("alice", "T", "conv-model", True)
    assert [(m.role, m.content) for m in read.messages] == [("user", "Q"), ("assistant", "A"), ("assistant", "B")]
    assert read.superseded == {first} and second not in read.superseded
    (event,) = audit.audit_log()
    assert (event.actor, event.action, event.target) == ("admin", "read_conversation", f"alice/{alice.id}")


def test_the_audit_log_is_newest_first_and_bounded(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        session.add_all(AuditEvent(actor=f"admin{n}", action="read_conversation", target="x") for n in range(4))
    with sessions() as session:
        assert [e.actor for e in reports.audit_events(session, limit=3)] == ["admin3", "admin2", "admin1"]
        assert len(session.scalars(select(AuditEvent)).all()) == 4


def test_the_users_report_counts_the_turns_the_spool_holds(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    file = spool.Spool(tmp_path / "spool.jsonl")
    assert Reports(sessions).quarantine() is None  # no spool, no quarantine to show
    reply = ReplyRecord(
        content="A", status=ReplyStatus.COMPLETE, created_at=utcnow(), prompt_tokens=4, completion_tokens=3
    )
    file.add(spool.Record(conversation=conversation("alice"), prompt=None, reply=reply))
    alice, bob = Reports(sessions, spool=file).users(["alice", "bob"])
    assert alice.usage == QuotaUsage(messages_last_minute=1, tokens_last_day=7) and alice.messages == 0
    assert bob.usage == QuotaUsage(messages_last_minute=0, tokens_last_day=0)
    quarantine = Reports(sessions, spool=file).quarantine()
    assert quarantine is not None and quarantine.records == [] and quarantine.path.is_absolute()
