"""One bad row must not stop the log: a spooled record refused for good is set aside in the
quarantine file, shown on the admin page and in the log, and the records behind it are written;
the quotas count the turns waiting in the spool."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool, store
from chat.db.engine import init_db, make_engine, session_factory
from chat.db.quotas import Quota, QuotaError
from chat.db.tables import Message
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from chat.ops.reports import Reports
from chat.turns.service import ChatService
from tests.conftest import service_with
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.unit.test_quarantine import quarantined

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

SECRET = "words only the user may read"
AT = datetime(2026, 11, 26, 10, tzinfo=UTC)


def record(username: str, conversation: str, prompt: str, reply: str, **conversation_fields: Any) -> spool.Record:
    """A whole turn as the service spools it."""
    return spool.Record(
        conversation=ConversationRecord(
            **{
                "id": conversation * 32,
                "username": username,
                "title": prompt,
                "model": "m",
                "system_prompt": "",
                "temperature": None,
                "created_at": AT,
                **conversation_fields,
            }
        ),
        prompt=PromptRecord(content=prompt, model="m", created_at=AT),
        reply=ReplyRecord(
            content=reply,
            status=ReplyStatus.COMPLETE,
            created_at=AT + timedelta(seconds=1),
            finished_at=AT + timedelta(seconds=2),
        ),
    )


def add_line(file: spool.Spool, data: dict[str, Any]) -> None:
    """A line as another Parley (or a hand) may have left it."""
    with file.path.open("a") as handle:
        handle.write(json.dumps(data) + "\n")


def logged(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        return [(m.username, m.content) for m in session.scalars(select(Message).order_by(Message.id))]


def test_a_record_refused_for_good_is_set_aside_and_the_ones_behind_it_are_written_in_order(
    tmp_path: Path, sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    poison = record("bob", "b", SECRET, SECRET, model=None)  # NOT NULL: an IntegrityError on both engines
    misshapen = record("bob", "d", SECRET, SECRET).to_json()
    del misshapen["reply"]["created_at"]  # does not fit the record
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.add(record("alice", "a", "first", "one"))
    file.add(poison)
    file.add(record("alice", "a", "second", "two"))
    add_line(file, misshapen)
    file.add(record("carol", "c", "third", "three"))

    with caplog.at_level(logging.INFO):
        assert file.replay(sessions) == spool.Replayed(written=3, left=0, quarantined=2)
    assert logged(sessions) == [
        ("alice", "first"),
        ("alice", "one"),
        ("alice", "second"),
        ("alice", "two"),
        ("carol", "third"),
        ("carol", "three"),
    ]
    assert not file.has_pending()

    # The record that does not fit is set aside as the file is read; the refused one when written.
    entries = quarantined(file)
    assert [e["record"] for e in entries] == [misshapen, poison.to_json()]  # whole, text included, for the operator
    assert entries[0]["reason"] == "KeyError: 'created_at'"
    assert entries[1]["reason"].startswith("IntegrityError: ") and "model" in entries[1]["reason"]
    assert oct(file.quarantine_path.stat().st_mode & 0o777) == "0o600"
    shown = file.set_aside()
    assert [(s.record_id, s.username, s.what, s.reason) for s in shown] == [
        (misshapen["id"], "bob", "a turn", entries[0]["reason"]),
        (poison.id, "bob", "a turn", entries[1]["reason"]),
    ]
    assert all(s.at is not None for s in shown)
    # The log names the record and the reason, never what the user wrote; and says which
    # record the log refused, and which one never reached it.
    said = [r.getMessage() for r in caplog.records if r.name == "chat.db.spool" and r.levelno == logging.ERROR]
    assert said == [
        f"spooled record {misshapen['id']} cannot be read as a turn ({entries[0]['reason']}), "
        f"so it never reached the conversation log: moved to {file.quarantine_path}",
        f"the conversation log refused spooled record {poison.id} for good ({entries[1]['reason']}): "
        f"moved to {file.quarantine_path}",
    ]
    assert SECRET not in caplog.text


def test_a_nul_left_by_an_older_parley_in_the_spool_is_written_the_same_on_both_engines(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    """A record spooled before chat/domain/text.py: PostgreSQL refused it (and everything behind it)."""
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.add(record("alice", "a", "nul\x00here", "and\x00there"))
    file.add(record("bob", "b", "behind", "it"))
    assert file.replay(sessions) == spool.Replayed(written=2, left=0)
    assert logged(sessions) == [
        ("alice", "nul\ufffdhere"),
        ("alice", "and\ufffdthere"),
        ("bob", "behind"),
        ("bob", "it"),
    ]
    assert not file.quarantine_path.exists()


class ReadOnly:
    """Makes the log refuse writes (transiently) on either engine: SQLite's `query_only` on every
    connection handed out; PostgreSQL's database-wide `default_transaction_read_only`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.on = False
        if engine.dialect.name == "sqlite":
            event.listen(engine, "checkout", self._sqlite_checkout)

    def _sqlite_checkout(self, connection: Any, _record: object, _proxy: object) -> None:
        connection.execute(f"PRAGMA query_only = {1 if self.on else 0}")

    def set(self, on: bool) -> None:
        self.on = on
        if self.engine.dialect.name == "postgresql":
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.exec_driver_sql("SET default_transaction_read_only = off")  # this session may alter
                connection.exec_driver_sql(
                    f'ALTER DATABASE "{self.engine.url.database}" SET default_transaction_read_only = '
                    f"{'on' if on else 'off'}"
                )
            self.engine.dispose()  # pooled connections keep the old setting

    @contextmanager
    def refusing(self) -> Iterator[None]:
        self.set(True)
        try:
            yield
        finally:
            self.set(False)


@pytest.fixture
def refusing_log(database_url: str) -> Iterator[tuple[sessionmaker[Session], ReadOnly]]:
    engine = make_engine(database_url, busy_timeout_ms=200)
    init_db(engine)
    yield session_factory(engine), ReadOnly(engine)
    engine.dispose()


def spooling_service(tmp_path: Path, fake: FakeOpenAI, sessions: sessionmaker[Session]) -> ChatService:
    service = service_with(tmp_path, fake, sessions, PARLEY_SPOOL_FILE=str(tmp_path / "data" / "spool.jsonl"))
    service.spool.retry_seconds = 3600  # the spool keeps what it holds for the whole test
    return service


def test_a_transient_refusal_still_waits_and_sets_nothing_aside(
    tmp_path: Path, refusing_log: tuple[sessionmaker[Session], ReadOnly]
) -> None:
    sessions, read_only = refusing_log
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.add(record("alice", "a", "first", "one"))
    file.add(record("bob", "b", "second", "two"))
    with read_only.refusing():
        assert file.replay(sessions) == spool.Replayed(written=0, left=2)
    assert not file.quarantine_path.exists() and len(file.records()) == 2
    assert file.replay(sessions) == spool.Replayed(written=2, left=0)
    assert [content for _, content in logged(sessions)] == ["first", "one", "second", "two"]


def test_the_quotas_count_the_turns_waiting_in_the_spool(
    tmp_path: Path, fake_openai: FakeOpenAI, refusing_log: tuple[sessionmaker[Session], ReadOnly]
) -> None:
    sessions, read_only = refusing_log
    service = spooling_service(tmp_path, fake_openai, sessions)
    per_minute = Quota(messages_per_minute=2, tokens_per_day=0)
    with read_only.refusing():
        for number in range(2):
            turn = service.start_turn(
                username="alice", conversation_id=None, history=[], prompt=f"turn {number}", quota=per_minute
            )
            assert turn.wait(15) and turn.unlogged
        assert len(service.spool.records()) == 2 and logged(sessions) == []
        with pytest.raises(QuotaError, match="You have sent 2 messages in the last minute"):
            service.start_turn(username="alice", conversation_id=None, history=[], prompt="third", quota=per_minute)
        assert len(fake_openai.chat_requests) == 2  # the third was never sent
        # Another user's limit is theirs alone.
        service.start_turn(username="bob", conversation_id=None, history=[], prompt="bob's", quota=per_minute).wait(15)

        usage = service.quota_usage("alice")
        spooled_tokens = sum(
            (r.reply.prompt_tokens or 0) + (r.reply.completion_tokens or 0)
            for r in service.spool.records()
            if r.conversation.username == "alice"
        )
        assert usage.messages_last_minute == 2 and usage.tokens_last_day == spooled_tokens > 0
        with pytest.raises(QuotaError, match=f"You have used {spooled_tokens:,} tokens in the last 24 hours"):
            service.start_turn(
                username="alice",
                conversation_id=None,
                history=[],
                prompt="tokens",
                quota=Quota(messages_per_minute=0, tokens_per_day=spooled_tokens),
            )
    service.spool.stop()


def test_a_spooled_turn_still_being_answered_counts_toward_the_quota(
    tmp_path: Path, fake_openai: FakeOpenAI, refusing_log: tuple[sessionmaker[Session], ReadOnly]
) -> None:
    """Two tabs: the first turn is streaming, not yet in the spool, when the second is sent."""
    sessions, read_only = refusing_log
    service = spooling_service(tmp_path, fake_openai, sessions)
    quota = Quota(messages_per_minute=1, tokens_per_day=0)
    fake_openai.enqueue(FakeReply(text="a slow reply of many words", delay=0.2))
    with read_only.refusing():
        first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="one", quota=quota)
        assert first.unlogged and not first.done
        with pytest.raises(QuotaError):
            service.start_turn(username="alice", conversation_id=None, history=[], prompt="two", quota=quota)
        first.stop()
        assert first.wait(15)
    service.spool.stop()


def test_a_time_without_a_zone_is_refused_for_good_on_both_engines(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    """Ambiguous, so the records refuse it (chat/domain/records.py): the record's fault."""
    naive = record("bob", "b", SECRET, SECRET).to_json()
    naive["conversation"]["created_at"] = "2026-11-26T10:00:00"
    file = spool.Spool(tmp_path / "spool.jsonl")
    add_line(file, naive)
    file.add(record("alice", "a", "behind", "it"))
    assert file.replay(sessions) == spool.Replayed(written=1, left=0, quarantined=1)
    assert logged(sessions) == [("alice", "behind"), ("alice", "it")]
    (entry,) = quarantined(file)
    assert entry["record"] == naive and entry["reason"] == "ValueError: the time '2026-11-26T10:00:00' has no zone"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_data_error_is_refused_for_good_on_postgresql(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    """PostgreSQL checks a varchar's length (SQLite does not): its DataError, in its own words."""
    too_long = record("u" * 65, "b", SECRET, SECRET)
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.add(too_long)
    file.add(record("alice", "a", "behind", "it"))
    assert file.replay(sessions) == spool.Replayed(written=1, left=0, quarantined=1)
    assert logged(sessions) == [("alice", "behind"), ("alice", "it")]
    (entry,) = quarantined(file)
    assert entry["reason"] == "DataError: value too long for type character varying(64)"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_bug_in_the_replay_keeps_what_was_written_and_the_rest_waits(
    tmp_path: Path, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neither the log's refusal nor the record's fault: raised for the retry loop to log, and
    neither set aside (it may be Parley's fault) nor written twice."""
    first, odd, last = record("alice", "a", "one", "1"), record("bob", "b", "two", "2"), record("carol", "c", "x", "3")
    file = spool.Spool(tmp_path / "spool.jsonl")
    for each in (first, odd, last):
        file.add(each)
    real_write = store.write_turn

    def failing_write(session: Session, conversation: ConversationRecord, *rest: Any) -> None:
        if conversation.username == "bob":
            raise RuntimeError("a bug")
        real_write(session, conversation, *rest)

    monkeypatch.setattr(store, "write_turn", failing_write)
    with pytest.raises(RuntimeError, match="a bug"):
        file.replay(sessions)
    assert [r.id for r in file.records()] == [odd.id, last.id]
    assert logged(sessions) == [("alice", "one"), ("alice", "1")] and not file.quarantine_path.exists()


NOBODY = 65534


@pytest.fixture
def read_only_data() -> Iterator[Path]:
    """A data folder Parley cannot write to (mode 0555). Root writes through any mode, so
    as root the test runs as nobody meanwhile, in a folder nobody may reach."""
    base = Path(tempfile.mkdtemp(prefix="parley-read-only-"))  # pytest's tmp_path is closed to nobody
    base.chmod(0o755)
    data = base / "data"
    data.mkdir()
    data.chmod(0o555)
    as_root = os.geteuid() == 0
    if as_root:
        os.seteuid(NOBODY)
    try:
        yield data
    finally:
        if as_root:
            os.seteuid(0)
        data.chmod(0o755)
        shutil.rmtree(base)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_a_data_folder_that_cannot_be_written_is_reported_not_raised(
    sessions: sessionmaker[Session], read_only_data: Path
) -> None:
    """The spool's lock cannot even be taken there: the admin page's read model says so."""
    reports = Reports(sessions, spool=spool.Spool(read_only_data / "spool.jsonl"))
    quarantine = reports.quarantine()
    assert quarantine is not None
    (shown,) = quarantine.records
    assert shown.reason == "the quarantine file cannot be read (Permission denied)" and shown.what == "the file itself"
