"""Turns the log refuses go to a spool file on disk and reach the log, in order, once it takes writes again."""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool
from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Message, SpooledWrite
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord
from chat.domain.status import ReplyStatus
from chat.errors import StorageError
from chat.llm.client import build_model
from chat.turns.service import ChatService, Turn
from tests.conftest import make_settings
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.waiting import wait_until

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
AT = datetime(2026, 11, 26, 10, tzinfo=UTC)


class Faults:
    """Makes SQLite itself refuse writes: read-only (`PRAGMA query_only` on every connection
    handed out) or locked past the busy timeout (another connection holds the write lock)."""

    def __init__(self, engine: Engine, path: Path) -> None:
        self.read_only = False
        self.path = path
        event.listen(engine, "checkout", self._on_checkout)

    def _on_checkout(self, dbapi_connection: sqlite3.Connection, _record: object, _proxy: object) -> None:
        dbapi_connection.execute(f"PRAGMA query_only = {1 if self.read_only else 0}")

    @contextmanager
    def locked(self) -> Iterator[None]:
        holder = sqlite3.connect(self.path, timeout=10)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.rollback()
            holder.close()


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[sessionmaker[Session], Faults]]:
    path = tmp_path / "parley.db"
    engine = make_engine(f"sqlite:///{path}", busy_timeout_ms=200)
    init_db(engine)
    yield session_factory(engine), Faults(engine, path)
    engine.dispose()


def new_service(tmp_path: Path, fake: FakeOpenAI, sessions: sessionmaker[Session]) -> ChatService:
    settings = make_settings(
        tmp_path,
        OPENAI_BASE_URL=fake.base_url,
        OPENAI_API_KEY="sk-test",
        PARLEY_SPOOL_FILE=str(tmp_path / "data" / "spool.jsonl"),
    )
    service = ChatService(settings, sessions, build_model(settings))
    service.spool.retry_seconds = 0.1
    return service


def rows(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def wait_for(condition: Callable[[], bool], seconds: float = 15) -> None:
    wait_until(condition, seconds, "the condition", every=0.05)


def refused_replays(caplog: pytest.LogCaptureFixture) -> int:
    """How many times the replayer has tried the log and been refused, by its own log."""
    return sum(r.getMessage().startswith("the conversation log still refuses writes") for r in caplog.records)


def finish(turn: Turn) -> str:
    text = "".join(turn.follow(min_interval=0))
    assert turn.wait(15)
    return text


def test_a_new_conversation_the_log_refuses_is_answered_spooled_and_written_later(
    tmp_path: Path, fake_openai: FakeOpenAI, log, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="chat.db.spool")
    sessions, faults = log
    service = new_service(tmp_path, fake_openai, sessions)
    faults.read_only = True
    fake_openai.enqueue(FakeReply(text="Kept on disk, then written."))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Are you there?")
    assert turn.unlogged and "not taking writes right now (the database is read-only)" in turn.notices[0]
    assert finish(turn) == "Kept on disk, then written."
    assert turn.status == "complete" and turn.save_error is None
    records = service.spool.records()
    assert [(r.prompt and r.prompt.content, r.reply.content) for r in records] == [
        ("Are you there?", "Kept on disk, then written.")
    ]
    spooled = list(service.spool.path.parent.glob(f"{service.spool.path.name}*"))  # its lock too
    assert spooled and {oct(path.stat().st_mode & 0o777) for path in spooled} == {"0o600"}
    # The replayer retries meanwhile and is refused, more than once.
    wait_until(lambda: refused_replays(caplog) >= 2, 15, "two refused replays of the spool")
    assert rows(sessions) == [] and service.spool.has_pending()

    faults.read_only = False
    wait_for(lambda: not service.spool.has_pending())
    prompt, reply = rows(sessions)
    assert (prompt.role, prompt.content, prompt.conversation_id) == ("user", "Are you there?", turn.conversation_id)
    assert (reply.role, reply.content, reply.status) == ("assistant", "Kept on disk, then written.", "complete")
    assert reply.completion_tokens and reply.created_at >= prompt.created_at
    conversations = service.conversations("alice")
    assert [c.title for c in conversations] == ["Are you there?"]


def test_a_reply_ending_the_log_refuses_is_spooled_with_a_warning(
    tmp_path: Path, fake_openai: FakeOpenAI, log, caplog: pytest.LogCaptureFixture
) -> None:
    sessions, faults = log
    service = new_service(tmp_path, fake_openai, sessions)
    fake_openai.enqueue(FakeReply(text="one two three four five six seven eight", delay=0.05))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Count")
    assert not turn.unlogged and turn.reply_id is not None
    wait_for(lambda: turn.has_text)
    with faults.locked():  # locked past the busy timeout until the reply has ended
        finish(turn)
        assert turn.status == "complete"
        assert turn.save_error is not None and turn.save_error.kind == "spooled"
        assert "the database is busy" in turn.save_error.message
        assert rows(sessions)[-1].status == "streaming"
    wait_for(lambda: not service.spool.has_pending())
    reply = rows(sessions)[-1]
    assert (reply.id, reply.status, reply.content) == (turn.reply_id, "complete", turn.text)
    # The log says why (the driver's words), and never what was being written.
    assert "could not save a reply: OperationalError: database is locked" in caplog.text
    assert "three four" not in caplog.text and "Count" not in caplog.text


def test_the_turns_of_a_spooled_conversation_stay_in_order_and_in_context(
    tmp_path: Path, fake_openai: FakeOpenAI, log
) -> None:
    sessions, faults = log
    service = new_service(tmp_path, fake_openai, sessions)
    service.spool.retry_seconds = 3600  # no background replay: the log takes writes, the spool still waits
    faults.read_only = True
    fake_openai.enqueue(FakeReply(text="First answer."))
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="First question")
    finish(first)
    faults.read_only = False
    fake_openai.enqueue(FakeReply(text="Second answer."))
    second = service.start_turn(username="alice", conversation_id=first.conversation_id, history=[], prompt="Second")
    assert second.unlogged  # behind its conversation's waiting turn, never before it
    finish(second)
    sent = [m["content"] for m in fake_openai.chat_requests[-1].body["messages"] if m["role"] != "system"]
    assert sent == ["First question", "First answer.", "Second"]
    assert rows(sessions) == []
    # No other version can be chosen meanwhile: the turns waiting were answered after the branch shown.
    with pytest.raises(StorageError, match="waiting to be written to the log"):
        service.choose_version("alice", first.conversation_id, 1)

    assert service.spool.replay(sessions) == spool.Replayed(written=2, left=0)
    written = rows(sessions)
    assert [(m.role, m.content) for m in written] == [
        ("user", "First question"),
        ("assistant", "First answer."),
        ("user", "Second"),
        ("assistant", "Second answer."),
    ]
    # Each follows the one before it: one branch, as if the log had taken them at once.
    assert [m.parent_id for m in written] == [None, *[m.id for m in written[:-1]]]


def test_the_spool_is_written_after_a_restart(tmp_path: Path, fake_openai: FakeOpenAI, log) -> None:
    sessions, faults = log
    service = new_service(tmp_path, fake_openai, sessions)
    service.spool.retry_seconds = 3600
    faults.read_only = True
    finish(service.start_turn(username="alice", conversation_id=None, history=[], prompt="Before the restart"))
    service.spool.stop()
    faults.read_only = False

    restarted = new_service(tmp_path, fake_openai, sessions)  # a new process: finds the file, writes it
    wait_for(lambda: not restarted.spool.has_pending())
    assert [m.content for m in rows(sessions)][0] == "Before the restart"


@SQLITE_ONLY
def test_a_record_is_written_once_even_if_the_file_outlives_the_write(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    """A crash between the log's commit and the file's rewrite leaves the record in the file."""
    record = spool.Record(
        conversation=ConversationRecord(
            id="c" * 32, username="alice", title="t", model="m", system_prompt="", temperature=None, created_at=AT
        ),
        prompt=PromptRecord(content="hi", model="m", created_at=AT),
        reply=ReplyRecord(
            content="hello",
            status=ReplyStatus.COMPLETE,
            created_at=AT + timedelta(seconds=1),
            finished_at=AT + timedelta(seconds=2),
        ),
    )
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.add(record)
    assert spool.write(sessions, record) is True  # written, then "crashed" before the rewrite
    assert file.replay(sessions) == spool.Replayed(written=1, left=0)
    assert [m.content for m in rows(sessions)] == ["hi", "hello"]
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(SpooledWrite)) == 1


def test_five_sessions_of_five_turns_through_a_locked_and_a_read_only_log(
    tmp_path: Path, fake_openai: FakeOpenAI, log, caplog: pytest.LogCaptureFixture
) -> None:
    """The load test in small (the browser version with figures is benchmarks/load.py): every
    prompt and reply lands exactly once, in order, complete, though the log refused writes twice."""
    caplog.set_level(logging.INFO, logger="chat.db.spool")
    sessions, faults = log
    service = new_service(tmp_path, fake_openai, sessions)
    fake_openai.default = FakeReply(text="a reply of several tokens to keep the stream going", delay=0.01)
    users = [f"user{n}" for n in range(5)]
    errors: list[BaseException] = []
    spooled: list[str] = []
    # Each session's third turn starts once the log is locked and its fifth once it is read-only:
    # however fast the sessions run, each fault meets turns.
    locked, read_only = threading.Event(), threading.Event()
    gates = {2: locked, 4: read_only}

    def chat(user: str) -> None:
        try:
            conversation = None
            for number in range(5):
                if number in gates:
                    assert gates[number].wait(60), f"{user}: the fault before turn {number} never came"
                turn = service.start_turn(
                    username=user, conversation_id=conversation, history=[], prompt=f"{user} prompt {number}"
                )
                conversation = turn.conversation_id
                finish(turn)
                assert turn.status == "complete", turn.error
                if turn.unlogged or turn.save_error is not None:
                    spooled.append(user)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=chat, args=(user,)) for user in users]
    for thread in threads:
        thread.start()

    def refused_while(fault: str) -> None:
        """Until the spool holds a turn the log refused and the replayer was refused too."""
        before = refused_replays(caplog)
        wait_until(
            lambda: service.spool.has_pending() and refused_replays(caplog) > before, 30, f"refusals of the {fault} log"
        )

    with faults.locked():  # locked past the 200 ms busy timeout
        locked.set()
        refused_while("locked")
    wait_for(lambda: not service.spool.has_pending(), 30)  # written once the lock is gone
    faults.read_only = True
    read_only.set()
    refused_while("read-only")
    faults.read_only = False
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert spooled, "the faults hit no turn: the test proves nothing"
    wait_for(lambda: not service.spool.has_pending())

    logged = rows(sessions)
    assert len(logged) == 5 * 5 * 2
    for user in users:
        mine = [m for m in logged if m.username == user]
        assert [m.content for m in mine if m.role == "user"] == [f"{user} prompt {n}" for n in range(5)]
        replies = [m for m in mine if m.role == "assistant"]
        assert [m.status for m in replies] == ["complete"] * 5
        assert all(m.content == "a reply of several tokens to keep the stream going" for m in replies)
        assert len({m.conversation_id for m in mine}) == 1
        assert [m.role for m in mine] == ["user", "assistant"] * 5  # in order, by id


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_read_only_postgresql_spools_and_is_written_once_writable(
    tmp_path: Path, fake_openai: FakeOpenAI, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL made read-only (as a failover or a full disk does): sessions reconnect read-only."""
    caplog.set_level(logging.INFO, logger="chat.db.spool")
    engine = make_engine(database_url)
    init_db(engine)
    sessions = session_factory(engine)
    name = engine.url.database

    def set_read_only(on: bool) -> None:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("SET default_transaction_read_only = off")  # this session may alter
            connection.exec_driver_sql(
                f'ALTER DATABASE "{name}" SET default_transaction_read_only = {"on" if on else "off"}'
            )
        engine.dispose()  # the pool's connections keep the old setting: start afresh

    service = new_service(tmp_path, fake_openai, sessions)
    set_read_only(True)
    fake_openai.enqueue(FakeReply(text="Written once the database is writable."))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Read-only?")
    assert turn.unlogged and "(the database is read-only)" in turn.notices[0]
    finish(turn)
    wait_until(lambda: refused_replays(caplog) >= 2, 15, "two refused replays of the spool")
    assert rows(sessions) == []
    set_read_only(False)
    wait_for(lambda: not service.spool.has_pending())
    assert [(m.role, m.content) for m in rows(sessions)] == [
        ("user", "Read-only?"),
        ("assistant", "Written once the database is writable."),
    ]
    engine.dispose()


@SQLITE_ONLY
def test_a_spool_file_left_by_the_previous_parley_is_written(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    """Lines exactly as Parley wrote them before the records (chat/domain/records.py): a whole turn
    and the ending of a reply whose row exists. Same names, so the same file."""
    conversation = {
        "id": "c" * 32,
        "username": "alice",
        "title": "Old",
        "model": "m",
        "system_prompt": "",
        "temperature": 0.7,
        "created_at": "2026-11-26T10:00:00.123456+00:00",
    }
    reply = {
        "content": "from before",
        "status": "complete",
        "model": "m",
        "system_prompt": "",
        "temperature": 0.7,
        "error_kind": None,
        "error_message": None,
        "prompt_tokens": 5,
        "completion_tokens": 2,
        "usage_estimated": True,
        "cost_usd": None,
        "reasoning": None,
        "context_tokens": 5,
        "context_left_out": 0,
        "duration_ms": 40,
        "created_at": "2026-11-26T10:00:00.123456+00:00",
        "finished_at": "2026-11-26T10:00:01+00:00",
    }
    whole = {
        "id": "1" * 32,
        "conversation": conversation,
        "prompt": {"content": "Old?", "model": "m", "created_at": "2026-11-26T10:00:00.123456+00:00"},
        "reply": reply,
        "reply_id": None,
    }
    ending = {"id": "2" * 32, "conversation": conversation, "prompt": {}, "reply": reply, "reply_id": 2}
    file = spool.Spool(tmp_path / "spool.jsonl")
    file.path.write_text(json.dumps(whole, ensure_ascii=False) + "\n")
    assert file.replay(sessions) == spool.Replayed(written=1, left=0)
    file.path.write_text(json.dumps({**ending, "reply": {**reply, "content": "ended again"}}) + "\n")
    assert file.replay(sessions) == spool.Replayed(written=1, left=0)
    prompt, answer = rows(sessions)
    assert (prompt.content, answer.id, answer.content, answer.temperature) == ("Old?", 2, "ended again", 0.7)
    assert (answer.usage_estimated, answer.duration_ms, answer.finished_at) == (
        True,
        40,
        datetime(2026, 11, 26, 10, 0, 1, tzinfo=UTC),
    )
    assert not file.quarantine_path.exists()
