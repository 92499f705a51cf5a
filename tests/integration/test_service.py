"""One turn end to end against the fake server: what is sent, shown and logged."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from chat.db.engine import init_db, make_engine, session_factory
from chat.db.tables import Message, utcnow
from chat.domain.messages import ChatMessage
from chat.domain.records import ReplyRecord
from chat.domain.status import ReplyStatus
from chat.errors import SignedOutError, StorageError
from chat.llm.client import PLACEHOLDER_API_KEY, build_model
from chat.turns import wiring
from chat.turns.service import ChatService, ConversationOptions
from chat.ui.pacing import MIN_RENDER_INTERVAL, RENDERS_PER_SECOND, pace, render_interval
from chat.ui.wording import conversation_usage, ending_note, usage_note
from tests.conftest import PASSWORDS, make_settings, new_conversation, service_with, url_of
from tests.fake_openai import DEFAULT_TEXT, FakeOpenAI, FakeReply
from tests.waiting import wait_until


def rows(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def run_turn(service: ChatService, prompt: str = "Hello?", history: list[ChatMessage] | None = None, **kw: str):
    turn = service.start_turn(
        username="alice", conversation_id=kw.get("conversation_id"), history=history or [], prompt=prompt
    )
    pieces = list(turn.follow(min_interval=0))
    assert turn.done
    return turn, pieces


@pytest.mark.both_engines
def test_a_turn_streams_and_is_logged_with_usage(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="One two three four.", delay=0.01))
    turn, pieces = run_turn(service)
    assert "".join(pieces) == "One two three four." == turn.text
    assert turn.status == ReplyStatus.COMPLETE and turn.error is None
    prompt, reply = rows(sessions)
    assert (prompt.role, prompt.content, prompt.username) == ("user", "Hello?", "alice")
    assert (reply.role, reply.content, reply.status) == ("assistant", "One two three four.", "complete")
    assert reply.model == "gpt-4o-mini" and reply.conversation_id == prompt.conversation_id
    assert reply.completion_tokens == 4 and reply.prompt_tokens and reply.prompt_tokens > 0
    assert reply.duration_ms is not None and reply.duration_ms >= 30
    assert reply.created_at.tzinfo is not None and reply.finished_at is not None
    request = fake_openai.chat_requests[-1].body
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert request["messages"] == [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": "Hello?"},
    ]


def test_reported_usage_is_stored_as_reported(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="a b c", prompt_tokens=1234))
    turn, _ = run_turn(service)
    reply = rows(sessions)[-1]
    assert (reply.prompt_tokens, reply.completion_tokens, reply.usage_estimated) == (1234, 3, False)
    assert (
        reply.cost_usd is None and usage_note(turn.as_message()) == "1,234 prompt + 3 reply tokens"
    )  # no price: no cost line


def test_usage_is_estimated_when_the_server_sends_none(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="no usage here", usage=False))
    turn, _ = run_turn(service)
    reply = rows(sessions)[-1]
    counter = service.tokens.counter("gpt-4o-mini")
    assert reply.status == "complete" and reply.usage_estimated
    assert reply.prompt_tokens == counter.messages(fake_openai.chat_requests[-1].body["messages"])
    assert reply.completion_tokens == counter.text("no usage here") == 3
    note = usage_note(turn.as_message())
    assert note is not None and note.startswith("≈ ") and "(estimated)" in note


def test_cost_comes_from_the_price_table(tmp_path: Path, fake_openai: FakeOpenAI, sessions) -> None:
    service = service_with(
        tmp_path, fake_openai, sessions, PARLEY_PRICES="gpt-4o-mini=0.15/0.60,other=1/1", PARLEY_MODELS="unpriced"
    )
    fake_openai.enqueue(FakeReply(text="one two three", prompt_tokens=1_000_000), FakeReply(text="x"))
    priced, _ = run_turn(service)
    assert priced.cost == pytest.approx(0.15 + 3 * 0.60 / 1_000_000)
    unpriced = service.start_turn(
        username="alice",
        conversation_id=None,
        history=[],
        prompt="Hi",
        options=ConversationOptions("unpriced", ""),
    )
    assert unpriced.wait(10) and unpriced.cost is None
    costs = {m.model: m.cost_usd for m in rows(sessions) if m.role == "assistant"}
    assert costs == {"gpt-4o-mini": pytest.approx(0.1500018), "unpriced": None}
    history = [priced.as_message(), unpriced.as_message()]
    tokens = sum((m.prompt_tokens or 0) + (m.completion_tokens or 0) for m in history)
    assert conversation_usage(history) == f"{tokens:,} tokens · $0.1500 + unknown"
    unpriced_only = conversation_usage([unpriced.as_message()])
    assert unpriced_only is not None and unpriced_only.endswith(" tokens") and "$" not in unpriced_only  # never $0


def test_a_request_that_never_ran_has_no_usage(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(status=401))
    turn, _ = run_turn(service)
    reply = rows(sessions)[-1]
    assert reply.status == "error" and reply.prompt_tokens is None and reply.cost_usd is None
    assert usage_note(turn.as_message()) is None


def test_the_whole_conversation_goes_with_each_request(service: ChatService, fake_openai: FakeOpenAI) -> None:
    first, _ = run_turn(service, "First question")
    history = [ChatMessage("user", "First question"), first.as_message()]
    run_turn(service, "Second question", history, conversation_id=first.conversation_id)
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "user"]
    assert sent[2]["content"] == DEFAULT_TEXT and sent[3]["content"] == "Second question"


@pytest.mark.both_engines
def test_the_prompt_is_saved_before_the_model_answers(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="slow reply here", first_delay=0.6, delay=0.2))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Are you there?")
    # Before the model answers: the prompt, and the reply's row, empty and marked as streaming,
    # so another tab opening the conversation finds the reply and follows it.
    prompt, reply = rows(sessions)
    assert (prompt.role, prompt.content) == ("user", "Are you there?")
    assert (reply.role, reply.status, reply.content, reply.id) == ("assistant", "streaming", "", turn.reply_id)
    # It is written as it arrives, from the first token on: saved before the reply ends.
    reply = wait_until(lambda: (row := rows(sessions)[-1]).content and row, 5, "the first token in the reply's row")
    assert reply.content.startswith("slow") and reply.status == "streaming"
    assert turn.wait(5)
    assert [(m.role, m.status) for m in rows(sessions)] == [("user", "complete"), ("assistant", "complete")]


FAILURES = [
    (FakeReply(status=401), "auth", "refused the API key"),
    (FakeReply(status=404), "not_found", "'gpt-4o-mini' was not found"),
    (FakeReply(status=429), "rate_limit", "rate limiting"),
    (FakeReply(status=500), "server_error", "internal error (500)"),
    (FakeReply(status=503), "server_error", "internal error (503)"),
    (FakeReply(hang_before_headers=4), "timeout", "did not answer within 2 seconds"),
    (FakeReply(error_event_after=2, error_message="overloaded"), "stream_error", "reported an error: overloaded"),
]


@pytest.mark.parametrize(("reply", "kind", "says"), FAILURES, ids=[f[1] + str(i) for i, f in enumerate(FAILURES)])
def test_upstream_failures_become_sentences(
    service: ChatService, fake_openai: FakeOpenAI, sessions, reply: FakeReply, kind: str, says: str
) -> None:
    fake_openai.enqueue(reply)
    turn, _ = run_turn(service)
    assert turn.status == ReplyStatus.ERROR and turn.error is not None
    assert turn.error.kind == kind and says in turn.error.message
    assert "Traceback" not in turn.error.message and "sk-test" not in turn.error.message
    logged = rows(sessions)[-1]
    assert (logged.status, logged.error_kind, logged.error_message) == ("error", kind, turn.error.message)
    # The next prompt works.
    fake_openai.enqueue(FakeReply(text="fine again"))
    again, _ = run_turn(service)
    assert again.status == "complete" and again.text == "fine again"


@pytest.mark.parametrize(
    ("reply", "kind", "says"),
    [
        (FakeReply(reset_after=3), "connection_lost", "lost in the middle"),
        (FakeReply(stall_after=3, stall_seconds=4), "timeout", "did not answer within 2 seconds"),
        (FakeReply(finish_reason=None), "incomplete", "closed the stream before the reply was finished"),
        (FakeReply(error_event_after=3), "stream_error", "reported an error"),
    ],
    ids=["reset", "read-timeout", "no-finish-reason", "error-event"],
)
def test_a_stream_that_fails_midway_keeps_its_partial_reply(
    service: ChatService, fake_openai: FakeOpenAI, sessions, reply: FakeReply, kind: str, says: str
) -> None:
    fake_openai.enqueue(reply)
    turn, pieces = run_turn(service)
    assert turn.error is not None and turn.error.kind == kind and says in turn.error.message
    assert turn.text and DEFAULT_TEXT.startswith(turn.text)
    if kind != "incomplete":  # that one sends every token, just never says it is done
        assert turn.text != DEFAULT_TEXT
    assert "".join(pieces) == turn.text
    logged = rows(sessions)[-1]
    assert (logged.status, logged.content) == ("error", turn.text)


@pytest.mark.parametrize(("finish", "status"), [("length", "length"), ("content_filter", "content_filter")])
def test_finish_reasons_are_recorded(service: ChatService, fake_openai: FakeOpenAI, sessions, finish, status) -> None:
    fake_openai.enqueue(FakeReply(text="cut short", finish_reason=finish))
    turn, _ = run_turn(service)
    assert turn.status == status and ending_note(turn.as_message())
    assert rows(sessions)[-1].status == status


@pytest.mark.parametrize("interval", [60.0, lambda: 60.0], ids=["number", "function"])
def test_follow_gathers_text_between_renders_but_never_holds_back_the_end(
    service: ChatService, fake_openai: FakeOpenAI, interval
) -> None:
    """The first piece at once, then text gathered for `min_interval` (a number, or the
    page's pace asked before each pause), except that the reply's last words go out the
    moment the stream ends, not when the interval is up."""
    fake_openai.enqueue(FakeReply(text="one two three four five six", delay=0.02))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Count")
    started = time.monotonic()
    pieces = list(turn.follow(min_interval=interval))
    assert pieces == ["one", " two three four five six"]  # everything after the first, in one render
    assert time.monotonic() - started < 30  # the end woke it: it did not sit out the 60 s interval


def test_replies_streaming_at_once_share_one_render_budget(service: ChatService, fake_openai: FakeOpenAI) -> None:
    """Each redraw re-sends a reply's whole Markdown: with many replies streaming, each
    one is redrawn less often, so the process as a whole stays near RENDERS_PER_SECOND."""
    page_pace = pace(service)  # what the page hands Turn.follow
    assert page_pace() == MIN_RENDER_INTERVAL  # nothing streaming
    for _ in range(8):
        fake_openai.enqueue(FakeReply(text="slow", first_delay=30))
    turns = [service.start_turn(username="alice", conversation_id=None, history=[], prompt=f"Q{n}") for n in range(8)]
    try:
        assert service.running_count == 8
        assert page_pace() == render_interval(8) == pytest.approx(8 / RENDERS_PER_SECOND)
    finally:
        for turn in turns:
            turn.stop()
        for turn in turns:
            assert turn.wait(10)
    assert page_pace() == MIN_RENDER_INTERVAL
    assert render_interval(20) == pytest.approx(0.2)  # twenty at once: each every 200 ms


def test_connection_refused(tmp_path: Path, sessions) -> None:
    settings = make_settings(tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1")
    service = ChatService(settings, sessions, build_model(settings))
    turn, _ = run_turn(service)
    assert turn.error is not None and turn.error.kind == "connection"
    assert "Could not connect to the model server at http://127.0.0.1:9/v1" in turn.error.message


def test_stop_keeps_the_partial_reply(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(200)), delay=0.02))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="long please")
    seen = ""
    for piece in turn.follow(min_interval=0):
        seen += piece
        if len(seen) > 20:
            turn.stop()
    assert turn.status == ReplyStatus.STOPPED and turn.error is None
    assert 20 < len(turn.text) < 600 and seen == turn.text
    logged = rows(sessions)[-1]
    assert (logged.status, logged.content) == ("stopped", turn.text)


def test_a_base_url_without_a_key_sends_a_placeholder(tmp_path: Path, fake_openai: FakeOpenAI, sessions) -> None:
    settings = make_settings(tmp_path, OPENAI_BASE_URL=fake_openai.base_url)
    run_turn(ChatService(settings, sessions, build_model(settings)))
    assert fake_openai.chat_requests[-1].headers["authorization"] == f"Bearer {PLACEHOLDER_API_KEY}"


def test_demo_mode_goes_through_the_same_path(tmp_path: Path, sessions) -> None:
    settings = make_settings(tmp_path)
    assert settings.demo_mode
    service = ChatService(settings, sessions, build_model(settings))
    turn, pieces = run_turn(service, "Tell me about Parley")
    assert len(pieces) >= 1 and "offline demo model" in turn.text and "Tell me about Parley" in turn.text
    again, _ = run_turn(service, "Tell me about Parley")
    assert again.text == turn.text  # deterministic
    reply = rows(sessions)[-1]
    assert reply.model == "parley-demo" and reply.status == "complete"
    assert reply.completion_tokens and reply.prompt_tokens


@pytest.mark.both_engines
def test_a_prompt_whose_conversation_cannot_be_read_is_not_sent(
    service: ChatService, fake_openai: FakeOpenAI, sessions
) -> None:
    """The log refusing writes spools a turn (tests/integration/test_spool.py); one that cannot even read the
    conversation it continues cannot answer it: nothing is sent, the prompt goes back."""
    first, _ = run_turn(service, "hello")
    asked = len(fake_openai.chat_requests)
    with sessions.begin() as session:
        session.execute(
            text("DROP TABLE messages CASCADE" if session.bind.dialect.name == "postgresql" else "DROP TABLE messages")
        )
    with pytest.raises(StorageError, match="could not be saved.*not sent"):
        service.start_turn(username="alice", conversation_id=first.conversation_id, history=[], prompt="again")
    assert len(fake_openai.chat_requests) == asked


@pytest.mark.both_engines
def test_replies_left_streaming_by_a_dead_process_are_marked_interrupted(tmp_path: Path, sessions) -> None:
    from chat.db import store
    from chat.db.engine import process_owner

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    with sessions.begin() as session:
        conversation = new_conversation(session, "alice")

        def reply(owner: str | None, content: str = "half") -> int:
            streaming = ReplyRecord(content=content, status=ReplyStatus.STREAMING, created_at=utcnow(), model="m")
            return store.start_reply(session, conversation.id, "alice", streaming, owner=owner).id

        killed_here = reply(f"{host}:{dead.pid}")  # fresh, but its process is gone
        alive_here = reply(process_owner())  # this very process: alive
        elsewhere = reply("other-host:123")  # a replica on another host, recently touched
        silent = reply("other-host:456")
        session.flush()
        session.get(Message, silent).updated_at = utcnow() - timedelta(minutes=10)
    engine = make_engine(url_of(sessions))
    assert init_db(engine) == 2
    status = {m.id: (m.status, m.content) for m in rows(sessions)}
    assert status[killed_here] == ("interrupted", "half") and status[silent] == ("interrupted", "half")
    assert status[alive_here][0] == "streaming" and status[elsewhere][0] == "streaming"
    engine.dispose()


def test_keep_alive_comments_are_ignored(service: ChatService, fake_openai: FakeOpenAI) -> None:
    # A 3 s pause, longer than the 2 s read timeout, filled with keep-alive comments.
    fake_openai.enqueue(FakeReply(text="slow but steady reply", stall_after=2, stall_seconds=3, keepalive_every=0.3))
    turn, _ = run_turn(service)
    assert turn.status == "complete" and turn.text == "slow but steady reply"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_with_a_busy_timeout(sessions) -> None:
    with sessions() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.both_engines
def test_no_transaction_stays_open_while_a_reply_streams(
    service: ChatService, fake_openai: FakeOpenAI, sessions
) -> None:
    fake_openai.enqueue(FakeReply(text=" ".join(["tick"] * 80), delay=0.05))  # 4 s of stream
    url = url_of(sessions)
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="go")
    if url.startswith("sqlite"):
        writer = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0.5)

        def check() -> None:
            writer.execute("BEGIN IMMEDIATE")  # raises "database is locked" if anyone holds the write lock long
            writer.rollback()
    else:
        watcher = make_engine(url)
        writer = watcher.raw_connection()

        def check() -> None:
            cursor = writer.cursor()
            cursor.execute(
                # A save's own transaction is idle for an instant between its statements (longer
                # on a busy machine); one that stays open while the reply streams, for seconds.
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
                " AND now() - state_change > interval '1 second'"
            )
            assert cursor.fetchone()[0] == 0
            writer.rollback()

    try:
        attempts = 0
        while not turn.done:
            check()
            attempts += 1
            time.sleep(0.05)
        assert attempts >= 10
    finally:
        writer.close()
    assert turn.status == "complete"


@pytest.fixture
def impatient_service(tmp_path: Path, fake_openai: FakeOpenAI) -> Iterator[ChatService]:
    """A service whose SQLite gives up on a lock after 200 ms instead of 5 s."""
    engine = make_engine(f"sqlite:///{tmp_path / 'parley.db'}", busy_timeout_ms=200)
    init_db(engine)
    with engine.connect() as connection:  # the timeout in force, not the one asked for
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 200
    settings = make_settings(tmp_path, OPENAI_BASE_URL=fake_openai.base_url)
    yield ChatService(settings, session_factory(engine), build_model(settings))
    engine.dispose()


def test_a_reply_the_locked_log_cannot_take_says_so_and_waits_in_the_spool(
    impatient_service: ChatService, tmp_path: Path, fake_openai: FakeOpenAI
) -> None:
    service = impatient_service
    fake_openai.enqueue(FakeReply(text="a reply worth keeping", first_delay=0.5))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="hello")
    holder = sqlite3.connect(tmp_path / "parley.db")
    holder.execute("BEGIN IMMEDIATE")  # the database stays locked until the reply is over
    try:
        assert turn.wait(15)
    finally:
        holder.rollback()
        holder.close()
    assert turn.text == "a reply worth keeping" and turn.status == "complete"
    assert turn.save_error is not None and turn.save_error.kind == "spooled"
    assert "not taking writes right now (the database is busy)" in turn.save_error.message
    assert "kept on disk" in turn.save_error.message
    service.spool.stop()
    assert [r.reply.content for r in service.spool.records()] == ["a reply worth keeping"]


@pytest.mark.both_engines
def test_a_reply_whose_progress_save_failed_is_still_saved_whole(
    service: ChatService, fake_openai: FakeOpenAI, sessions
) -> None:
    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    failures = []

    def fail_first_progress_commit(session: Session) -> None:
        # The watcher's first commit of an UPDATE: a progress save (the final save is the worker's).
        if not failures and session.info.get("progress") and threading.current_thread().name.startswith("parley-watch"):
            failures.append(1)
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    def mark(state) -> None:  # type: ignore[no-untyped-def]
        if state.is_update:
            state.session.info["progress"] = True

    event.listen(sessions, "do_orm_execute", mark)  # progress saves are bulk UPDATEs
    event.listen(sessions, "before_commit", fail_first_progress_commit)
    fake_openai.enqueue(FakeReply(text="every word of this must be saved", delay=0.05))
    turn, _ = run_turn(service)
    assert failures == [1] and turn.save_error is None
    reply = rows(sessions)[-1]
    assert (reply.role, reply.status, reply.content) == ("assistant", "complete", "every word of this must be saved")
    assert reply.id == turn.reply_id


@pytest.mark.parametrize(
    ("owner", "elsewhere", "role"),
    [("bob", True, "assistant"), ("alice", True, "assistant"), ("alice", False, "user")],
    ids=["another-users-reply", "her-reply-in-another-conversation", "her-own-prompt"],
)
def test_a_reply_whose_row_id_now_names_another_message_is_written_anew(
    service: ChatService, fake_openai: FakeOpenAI, sessions, owner: str, elsewhere: bool, role: str
) -> None:
    """A database restored while a reply streams may give its row's id to another message:
    the final save leaves that message as it is and writes the reply as a new row."""

    fake_openai.enqueue(FakeReply(text="alice's answer, cut short here", stall_after=2))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Hello?")
    assert next(turn.follow(min_interval=0))  # streaming, its row in the log
    taken = turn.reply_id
    assert taken is not None
    with sessions.begin() as session:  # what a restore may leave: the id is another message's
        session.delete(session.get(Message, taken))
        session.flush()
        conversation_id = turn.conversation_id
        if elsewhere:
            conversation_id = new_conversation(session, owner).id
        session.add(
            Message(id=taken, conversation_id=conversation_id, username=owner, role=role, content="not alice's reply")
        )
    turn.stop()
    assert turn.wait(15) and turn.status == "stopped" and turn.text
    with sessions() as session:
        other = session.get(Message, taken)
        assert other is not None and turn.reply_id is not None and turn.reply_id != taken
        assert (other.username, other.conversation_id, other.role) == (owner, conversation_id, role)
        assert (other.content, other.status) == ("not alice's reply", "complete")
        reply = session.get(Message, turn.reply_id)
        assert reply is not None
        assert (reply.username, reply.conversation_id, reply.role) == ("alice", turn.conversation_id, "assistant")
        assert (reply.status, reply.content) == ("stopped", turn.text)


def test_a_turn_asked_for_under_an_ended_session_starts_nothing(
    tmp_path: Path, auth_file: Path, fake_openai: FakeOpenAI
) -> None:
    """The page checks the session when its run begins; the service checks it again as the prompt
    is sent (it may have been signed out elsewhere in between)."""
    opened = wiring.shared(make_settings(tmp_path, OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test"))
    result = opened.accounts.sign_in("alice", PASSWORDS["alice"], "127.0.0.1")
    assert result.user is not None
    hashed = result.user.session_hash
    live = opened.service.start_turn(username="alice", conversation_id=None, history=[], prompt="one", session=hashed)
    list(live.follow(min_interval=0))
    opened.accounts.sign_out(hashed)
    with pytest.raises(SignedOutError, match="sign-in has ended"):
        opened.service.start_turn(
            username="alice", conversation_id=live.conversation_id, history=[], prompt="two", session=hashed
        )
    for redo in (opened.service.regenerate, opened.service.edit_prompt):
        extra = {"prompt": "three"} if redo == opened.service.edit_prompt else {}
        with pytest.raises(SignedOutError):
            redo(username="alice", conversation_id=live.conversation_id, session=hashed, **extra)
    assert [m.content for m in rows(opened.service.sessions)] == ["one", DEFAULT_TEXT]
    assert len(fake_openai.chat_requests) == 1
