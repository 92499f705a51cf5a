"""The retention purge (`python -m chat purge`) on SQLite and PostgreSQL: what goes
and when, deleted conversations first, streaming replies kept, messages and search
entries gone with their conversation, the dry run, the command line."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import threading
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from chat.db.engine import session_factory
from chat.db.retention import PurgeReport, Removed, RetentionPolicy, purge
from chat.db.search import search_messages
from chat.db.tables import AuditEvent, AuthSession, Conversation, LoginFailure, Message, utcnow
from chat.domain.status import ReplyStatus
from chat.errors import StorageError
from tests.conftest import chat_process, url_of
from tests.waiting import wait_until

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)
POLICY = RetentionPolicy(retention_days=90, deleted_retention_days=30, login_window=timedelta(minutes=15))


def conversation(
    sessions: sessionmaker[Session],
    *,
    active: datetime,
    deleted: datetime | None = None,
    words: str = "",
    streaming: bool = False,
    username: str = "alice",
) -> str:
    """A conversation last active at `active` with a prompt and a reply (still streaming, if asked)."""
    with sessions.begin() as session:
        row = Conversation(
            username=username, model="m", title="t", system_prompt="", created_at=active, updated_at=active
        )
        row.deleted_at = deleted
        session.add(row)
        session.flush()
        for role, status in (("user", ReplyStatus.COMPLETE), ("assistant", ReplyStatus.STREAMING)):
            session.add(
                Message(
                    conversation_id=row.id,
                    username=username,
                    role=role,
                    content=f"{role} says {words}",
                    status=status if streaming else ReplyStatus.COMPLETE,
                    created_at=active,
                    updated_at=active,
                )
            )
        return row.id


def remaining(sessions: sessionmaker[Session]) -> set[str]:
    with sessions() as session:
        return set(session.scalars(select(Conversation.id)))


def counts(sessions: sessionmaker[Session]) -> dict[str, int]:
    with sessions() as session:
        return {
            model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
            for model in (Conversation, Message, AuthSession, LoginFailure, AuditEvent)
        }


def test_conversations_just_inside_each_limit_stay_and_just_past_it_go(sessions: sessionmaker[Session]) -> None:
    inside = conversation(sessions, active=NOW - 90 * DAY + MINUTE)
    past = conversation(sessions, active=NOW - 90 * DAY - MINUTE)
    deleted_inside = conversation(sessions, active=NOW - 40 * DAY, deleted=NOW - 30 * DAY + MINUTE)
    deleted_past = conversation(sessions, active=NOW - 40 * DAY, deleted=NOW - 30 * DAY - MINUTE)

    report = purge(sessions, POLICY, now=NOW)
    assert (report.deleted, report.inactive) == (Removed(1, 2), Removed(1, 2))
    assert remaining(sessions) == {inside, deleted_inside}
    assert past not in remaining(sessions) and deleted_past not in remaining(sessions)

    later = purge(sessions, POLICY, now=NOW + 2 * MINUTE)  # the clock moves on: the other two are past too
    assert (later.deleted, later.inactive) == (Removed(1, 2), Removed(1, 2))
    assert remaining(sessions) == set()


def test_deleted_conversations_go_before_live_ones_of_the_same_age(sessions: sessionmaker[Session]) -> None:
    live = conversation(sessions, active=NOW - 40 * DAY)
    conversation(sessions, active=NOW - 40 * DAY, deleted=NOW - 40 * DAY)
    conversation(sessions, active=NOW - 200 * DAY, deleted=NOW - 100 * DAY)  # due by both rules: counted as deleted

    report = purge(sessions, POLICY, now=NOW)
    assert (report.deleted, report.inactive) == (Removed(2, 4), Removed(0, 0))
    assert remaining(sessions) == {live}


def test_retention_zero_keeps_conversations_forever_and_deleted_zero_removes_them_at_once(
    sessions: sessionmaker[Session],
) -> None:
    ancient = conversation(sessions, active=NOW - 3650 * DAY)
    conversation(sessions, active=NOW - MINUTE, deleted=NOW - MINUTE)
    report = purge(sessions, RetentionPolicy(0, 0, login_window=timedelta(minutes=15)), now=NOW)
    assert (report.deleted, report.inactive) == (Removed(1, 2), Removed(0, 0))
    assert remaining(sessions) == {ancient}
    huge = RetentionPolicy(999_999_999, 999_999_999, login_window=timedelta(minutes=15))  # past datetime's range
    assert purge(sessions, huge, now=NOW) == PurgeReport(Removed(), Removed(), 0, 0)


def test_a_conversation_with_a_streaming_reply_is_kept(sessions: sessionmaker[Session]) -> None:
    streaming = conversation(sessions, active=NOW - 400 * DAY, deleted=NOW - 300 * DAY, streaming=True)
    assert purge(sessions, POLICY, now=NOW, dry_run=True).deleted == Removed(0, 0)
    assert purge(sessions, POLICY, now=NOW).deleted == Removed(0, 0)
    assert remaining(sessions) == {streaming}
    with sessions.begin() as session:  # the reply ends
        session.execute(update(Message).values(status=ReplyStatus.INTERRUPTED))
    assert purge(sessions, POLICY, now=NOW).deleted == Removed(1, 2)


def test_messages_and_search_hits_go_with_their_conversation(sessions: sessionmaker[Session]) -> None:
    old = conversation(sessions, active=NOW - 100 * DAY, words="zanzibar spice")
    kept = conversation(sessions, active=NOW - DAY, words="zanzibar beach")
    with sessions() as session:
        assert len(search_messages(session, "alice", "zanzibar")) == 4

    purge(sessions, POLICY, now=NOW)
    with sessions() as session:
        assert {hit.conversation_id for hit in search_messages(session, "alice", "zanzibar")} == {kept}
        assert search_messages(session, "alice", "spice") == []
        orphans = select(func.count()).select_from(Message).where(Message.conversation_id == old)
        assert session.scalar(orphans) == 0  # ON DELETE CASCADE happened, on either engine
        assert session.scalar(select(func.count()).select_from(Message)) == 2
        if session.get_bind().dialect.name == "sqlite":  # the FTS index itself, not just the join
            indexed = session.execute(text("SELECT rowid FROM messages_fts WHERE messages_fts MATCH 'zanzibar'"))
            assert {row[0] for row in indexed} == set(session.scalars(select(Message.id)))


def test_conversations_go_in_batches(sessions: sessionmaker[Session]) -> None:
    for age in range(7):
        conversation(sessions, active=NOW - (100 + age) * DAY)
    report = purge(sessions, POLICY, now=NOW, batch_size=2)
    assert report.inactive == Removed(7, 14) and remaining(sessions) == set()


def test_a_purge_runs_beside_a_writer_without_either_failing(sessions: sessionmaker[Session]) -> None:
    """Batches are short write transactions: turns written meanwhile all land, and every old conversation goes."""
    for age in range(60):
        conversation(sessions, active=NOW - (100 + age) * DAY)
    written: list[str] = []
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            written.append(conversation(sessions, active=NOW))

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        wait_until(lambda: written or not thread.is_alive(), 30, "the writer under way", every=0.005)
        assert written, "the writer failed"
        report = purge(sessions, POLICY, now=NOW, batch_size=5)
    finally:
        stop.set()
        thread.join()
    assert report.inactive == Removed(60, 120)
    assert remaining(sessions) == set(written) and written


def test_ended_sign_ins_and_old_login_failures_go_and_the_purge_is_audited(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for name, expires, revoked in [
            ("expired-long-ago", NOW - 31 * DAY, None),
            ("revoked-long-ago", NOW + DAY, NOW - 31 * DAY),
            ("expired-lately", NOW - 29 * DAY, None),
            ("live", NOW + DAY, None),
        ]:
            session.add(
                AuthSession(
                    token_hash=name,
                    username="alice",
                    password_mark="m",
                    created_at=NOW - 40 * DAY,
                    last_seen_at=NOW - 40 * DAY,
                    expires_at=expires,
                    revoked_at=revoked,
                )
            )
        session.add(LoginFailure(username_key="k", address="a", failed_at=NOW - 16 * MINUTE))
        session.add(LoginFailure(username_key="k", address="a", failed_at=NOW - 14 * MINUTE))
    conversation(sessions, active=NOW - 40 * DAY, deleted=NOW - 31 * DAY)

    report = purge(sessions, POLICY, now=NOW, actor="cli")
    assert (report.auth_sessions, report.login_failures) == (2, 1)
    with sessions() as session:
        assert set(session.scalars(select(AuthSession.token_hash))) == {"expired-lately", "live"}
        assert session.scalars(select(LoginFailure.failed_at)).all() == [NOW - 14 * MINUTE]
        events = session.scalars(select(AuditEvent)).all()
    assert [(e.actor, e.action, e.at) for e in events] == [("cli", "purge", NOW)]
    assert events[0].target == (
        "1 conversation (2 messages) deleted, 0 conversations (0 messages) inactive, "
        "2 ended sign-ins, 1 old login failure, 0 unused files"
    )
    assert not purge(sessions, POLICY, now=NOW).anything
    assert counts(sessions)["audit_events"] == 1  # a purge that removed nothing writes no event


def test_a_dry_run_changes_nothing_and_says_what_a_purge_removes(sessions: sessionmaker[Session]) -> None:
    conversation(sessions, active=NOW - 100 * DAY)
    conversation(sessions, active=NOW - 50 * DAY, deleted=NOW - 45 * DAY)
    conversation(sessions, active=NOW - DAY)
    with sessions.begin() as session:
        session.add(LoginFailure(username_key="k", address="a", failed_at=NOW - DAY))
    before = counts(sessions)

    dry = purge(sessions, POLICY, now=NOW, dry_run=True)
    assert counts(sessions) == before and dry.dry_run
    real = purge(sessions, POLICY, now=NOW)
    assert (
        (dry.deleted, dry.inactive, dry.auth_sessions, dry.login_failures)
        == (
            real.deleted,
            real.inactive,
            real.auth_sessions,
            real.login_failures,
        )
        == (Removed(1, 2), Removed(1, 2), 0, 1)
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_purge_refuses_a_sqlite_connection_without_foreign_keys(sessions: sessionmaker[Session]) -> None:
    conversation(sessions, active=NOW - 100 * DAY)
    bare = create_engine(url_of(sessions))  # not chat.db.engine.make_engine: foreign keys off
    with pytest.raises(StorageError, match="foreign keys are off"):
        purge(session_factory(bare), POLICY, now=NOW)
    bare.dispose()
    assert counts(sessions)["messages"] == 2


def cli_purge(url: str, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return chat_process(url, "purge", *argv, **env)


def test_the_command_line(sessions: sessionmaker[Session]) -> None:
    url, now = url_of(sessions), utcnow()  # the command purges as of the real clock
    conversation(sessions, active=now - 40 * DAY, deleted=now - 31 * DAY)
    conversation(sessions, active=now - 100 * DAY)
    conversation(sessions, active=now - 100 * DAY)
    fresh = conversation(sessions, active=now - DAY)
    before = counts(sessions)

    dry = cli_purge(url, "--dry-run", PARLEY_RETENTION_DAYS="90")
    assert (dry.returncode, dry.stderr) == (0, "")
    assert dry.stdout == (
        "Would purge 1 conversation deleted over 30 days ago (2 messages)"
        " and 2 conversations inactive for over 90 days (4 messages).\n"
    )
    assert counts(sessions) == before

    done = cli_purge(url, PARLEY_RETENTION_DAYS="90")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == dry.stdout.replace("Would purge", "Purged")
    assert remaining(sessions) == {fresh}
    with sessions() as session:
        assert session.scalars(select(AuditEvent.actor)).all() == ["cli"]

    again = cli_purge(url, PARLEY_RETENTION_DAYS="90")
    assert again.stdout == (
        "Nothing to purge: deleted conversations are kept 30 days, others 90 days after their last activity.\n"
    )
    bad = cli_purge(url, PARLEY_DELETED_RETENTION_DAYS="soon")
    assert (bad.returncode, bad.stdout) == (1, "")
    assert bad.stderr == (
        "Error: Parley's configuration has problems: - PARLEY_DELETED_RETENTION_DAYS must be a whole number, "
        "not 'soon'.\n"
    )
    unknown = cli_purge(url, "--all")
    assert unknown.returncode == 2 and "No such option '--all'" in unknown.stderr  # click's usage error


def test_the_command_line_names_a_missing_or_empty_database() -> None:
    missing = cli_purge("sqlite:///nowhere/parley.db")
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == "Error: The database file nowhere/parley.db does not exist.\n"
    assert not os.path.exists("nowhere")
    with closing(sqlite3.connect("empty.db")):
        pass
    empty = cli_purge("sqlite:///empty.db")
    assert empty.returncode == 1
    assert empty.stderr == "Error: The database has no Parley tables yet (start Parley once, or run `make migrate`).\n"
