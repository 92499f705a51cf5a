"""Quotas, counted from the log: requests per minute, tokens per day, and failing open."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session, sessionmaker

from chat.db import quotas
from chat.db.quotas import Quota, QuotaError
from chat.db.tables import Message, utcnow
from chat.turns.service import ChatService
from tests.conftest import new_conversation, service_with
from tests.fake_openai import FakeOpenAI

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def add_reply(sessions: sessionmaker[Session], username: str, *, minutes_ago: float, tokens: int = 0) -> None:
    with sessions.begin() as session:
        conversation = new_conversation(session, username)
        session.add(
            Message(
                conversation_id=conversation.id,
                username=username,
                role="assistant",
                content="reply",
                prompt_tokens=tokens // 2,
                completion_tokens=tokens - tokens // 2,
                created_at=utcnow() - timedelta(minutes=minutes_ago),
            )
        )


def check(sessions: sessionmaker[Session], quota: Quota, *, later: timedelta = timedelta(0)) -> None:
    with sessions() as session:
        quotas.check(session, "alice", quota, now=utcnow() + later)


def test_messages_per_minute_counts_the_last_minute_only(sessions: sessionmaker[Session]) -> None:
    add_reply(sessions, "alice", minutes_ago=2)  # outside the minute
    add_reply(sessions, "alice", minutes_ago=0.5)
    add_reply(sessions, "alice", minutes_ago=0.25)
    add_reply(sessions, "bob", minutes_ago=0.1)  # someone else's
    check(sessions, Quota(messages_per_minute=3, tokens_per_day=0))
    with pytest.raises(QuotaError, match=r"2 messages in the last minute.*continue in (2\d|3\d) seconds"):
        check(sessions, Quota(messages_per_minute=2, tokens_per_day=0))
    # The older of the two leaves the minute after ~30 s.
    check(sessions, Quota(messages_per_minute=2, tokens_per_day=0), later=timedelta(seconds=31))


def test_tokens_per_day_say_when_enough_usage_has_left_the_window(sessions: sessionmaker[Session]) -> None:
    add_reply(sessions, "alice", minutes_ago=25 * 60, tokens=10_000)  # yesterday's
    add_reply(sessions, "alice", minutes_ago=20 * 60, tokens=600)
    add_reply(sessions, "alice", minutes_ago=2 * 60, tokens=500)
    check(sessions, Quota(messages_per_minute=0, tokens_per_day=1_101))
    with pytest.raises(QuotaError, match=r"1,100 tokens in the last 24 hours; your limit is 1,000") as refused:
        check(sessions, Quota(messages_per_minute=0, tokens_per_day=1_000))
    # Dropping the 600 of 20 hours ago is enough: about 4 hours from now.
    assert "in 4 h" in refused.value.message or "in 3 h" in refused.value.message
    check(sessions, Quota(messages_per_minute=0, tokens_per_day=1_000), later=timedelta(hours=4, minutes=1))


def test_zero_means_no_limit(sessions: sessionmaker[Session]) -> None:
    for _ in range(5):
        add_reply(sessions, "alice", minutes_ago=0.1, tokens=10**6)
    check(sessions, Quota(messages_per_minute=0, tokens_per_day=0))


def test_the_service_refuses_before_anything_is_saved_or_sent(service: ChatService, fake_openai: FakeOpenAI) -> None:
    quota = Quota(messages_per_minute=1, tokens_per_day=0)
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="one", quota=quota)
    assert turn.wait(10)
    with pytest.raises(QuotaError):
        service.start_turn(
            username="alice", conversation_id=turn.conversation_id, history=[], prompt="two", quota=quota
        )
    with pytest.raises(QuotaError):
        service.regenerate(username="alice", conversation_id=turn.conversation_id, quota=quota)
    assert len(fake_openai.chat_requests) == 1
    assert [m.content for m in service.open_conversation("alice", turn.conversation_id) or []] == ["one", turn.text]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_an_unreadable_database_does_not_stop_the_chat_on_quotas(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    broken = create_engine(f"sqlite:///{tmp_path / 'missing-folder' / 'parley.db'}")
    service = service_with(tmp_path, fake_openai, sessionmaker(broken))
    with caplog.at_level(logging.WARNING):
        # The quota check is skipped (fail open); the save that follows fails too, so the
        # turn is answered and kept in the spool file (tests/integration/test_spool.py).
        turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="hi", quota=Quota(1, 1))
        turn.wait(15)
    service.spool.stop()
    assert "quota check skipped (fail open)" in caplog.text
    assert turn.unlogged and turn.status == "complete" and service.spool.records()
