"""A reply outlives the page: its worker goes on after the session that started it,
another session of the same user can follow it, workers are bounded, and they end
cleanly when Parley stops."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db.tables import Message
from chat.errors import BusyError
from chat.turns.service import ChatService
from chat.ui.wording import ending_note
from tests.conftest import ROOT, TEST_COOKIE_KEY, service_with, url_of
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.waiting import wait_until

SLOW = FakeReply(text="one two three four five six seven eight nine ten", delay=0.15)


def rows(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as session:
        return list(session.scalars(select(Message).order_by(Message.id)))


def wait_for_text(turn, timeout: float = 5) -> None:  # type: ignore[no-untyped-def]
    wait_until(lambda: turn.has_text, timeout, "the reply's first token")


def test_a_running_reply_is_found_by_its_owner_only(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(SLOW)
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Count")
    assert service.running_turn("alice", turn.reply_id) is turn
    assert service.running_turn("bob", turn.reply_id) is None
    assert service.running_turn("alice", None) is None
    assert turn.wait(10)
    assert service.running_turn("alice", turn.reply_id) is None and service.running_count == 0


def test_workers_are_bounded_and_a_refused_prompt_saves_nothing(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MAX_WORKERS="1")
    fake_openai.enqueue(SLOW)
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="First")
    before = len(rows(sessions))
    with pytest.raises(BusyError, match="already writing 1 replies"):
        service.start_turn(username="bob", conversation_id=None, history=[], prompt="Second")
    assert len(rows(sessions)) == before
    assert first.wait(10)
    assert len(fake_openai.chat_requests) == 1  # the refused prompt was never sent
    again = service.start_turn(username="bob", conversation_id=None, history=[], prompt="Second")
    assert again.wait(10) and again.status == "complete"


@pytest.mark.both_engines
def test_shutdown_ends_every_reply_as_interrupted_with_what_arrived(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    fake_openai.enqueue(SLOW, SLOW)
    turns = [
        service.start_turn(username=name, conversation_id=None, history=[], prompt="Count") for name in ("alice", "bob")
    ]
    for turn in turns:
        wait_for_text(turn)
    service.shutdown(timeout=5)
    for turn in turns:
        assert turn.done and turn.status == "interrupted"
        assert ending_note(turn.as_message()) == "The reply was interrupted when Parley stopped."
    replies = [m for m in rows(sessions) if m.role == "assistant"]
    assert [r.status for r in replies] == ["interrupted", "interrupted"]
    assert all(r.content.startswith("one") and r.finished_at is not None for r in replies)


@pytest.mark.both_engines
def test_a_process_that_exits_mid_reply_saves_it_as_interrupted(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    """What Streamlit does on SIGTERM: the interpreter exits, and the exit hook the app
    registers ends the replies before their daemon threads would be cut off."""
    fake_openai.default = SLOW
    script = textwrap.dedent(
        f"""
        import atexit, time
        from chat.db.engine import make_engine, session_factory
        from chat.llm.client import build_model
        from chat.turns.service import ChatService
        from chat.settings import Settings
        settings = Settings.from_env({{
            "PARLEY_COOKIE_KEY": {TEST_COOKIE_KEY!r}, "DATABASE_URL": {url_of(sessions)!r},
            "OPENAI_BASE_URL": {fake_openai.base_url!r}, "OPENAI_API_KEY": "sk-test",
        }}, env_file=None)
        service = ChatService(settings, session_factory(make_engine(settings.database_url)), build_model(settings))
        atexit.register(service.shutdown)
        turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Count")
        while not turn.has_text:
            time.sleep(0.02)
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True, timeout=60)
    reply = rows(sessions)[-1]
    assert reply.role == "assistant" and reply.status == "interrupted" and reply.content.startswith("one")


@pytest.mark.both_engines
def test_two_tabs_of_one_user_streaming_at_once_both_save(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    """Two tabs: one in its own conversation, two more sending into one shared conversation."""
    first = "alpha " * 30
    second = "beta " * 30
    third = "gamma " * 30
    fake_openai.enqueue(
        FakeReply(text=first, delay=0.01), FakeReply(text=second, delay=0.01), FakeReply(text=third, delay=0.01)
    )
    shared = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Tab one")
    other = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Tab two")
    same = service.start_turn(username="alice", conversation_id=shared.conversation_id, history=[], prompt="Tab three")
    for turn in (shared, other, same):
        assert turn.wait(15) and turn.status == "complete"
    assert {shared.text, other.text, same.text} == {first, second, third}
    by_conversation: dict[str, list[tuple[str, str]]] = {}
    for row in rows(sessions):
        by_conversation.setdefault(row.conversation_id, []).append((row.role, row.status))
    assert sorted(len(v) for v in by_conversation.values()) == [2, 4]
    assert all(status == "complete" for v in by_conversation.values() for _, status in v)
    replies = {row.id: row.content for row in rows(sessions) if row.role == "assistant"}
    assert {replies[t.reply_id] for t in (shared, other, same)} == {first, second, third}


def test_a_reply_still_thinking_is_never_taken_for_abandoned(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    import chat.turns.start
    import chat.turns.watchdog

    # A heartbeat every 0.1 s, so the model's 1.8 s of thinking holds many of them, even on a
    # loaded machine: the wait below is for one of them, not for a moment between two timings.
    monkeypatch.setattr(chat.turns.watchdog, "HEARTBEAT_SECONDS", 0.2)
    # A line in the future: every streaming row looks silent to the next prompt's sweep, so
    # only "this process is still writing it" can keep the thinking reply from being abandoned.
    monkeypatch.setattr(chat.turns.start, "STALE_AFTER", timedelta(minutes=-1))
    fake_openai.enqueue(FakeReply(text="After a long think.", first_delay=1.8), FakeReply(text="Quick."))
    thinking = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Think hard")

    def reply_row() -> Message:
        return next(m for m in rows(sessions) if m.id == thinking.reply_id)

    first_touch = reply_row().updated_at
    touched = wait_until(lambda: (row := reply_row()).updated_at > first_touch and row, 10, "the reply's heartbeat")
    assert touched.content == "" and touched.status == "streaming"  # the heartbeat, before any token
    other = service.start_turn(username="bob", conversation_id=None, history=[], prompt="Meanwhile")
    assert reply_row().status != "interrupted"  # the sweep in bob's prompt passed it by
    assert other.wait(10) and thinking.wait(10)
    assert thinking.status == "complete" and thinking.text == "After a long think.", thinking.error
    reply = reply_row()
    assert (reply.status, reply.content) == ("complete", "After a long think.")


def test_the_page_changing_its_history_does_not_change_a_request(service: ChatService, fake_openai: FakeOpenAI) -> None:
    from chat.domain.messages import ChatMessage

    history = [ChatMessage("user" if n % 2 == 0 else "assistant", f"Earlier message {n} " * 20) for n in range(24)]
    fake_openai.context_window = 400  # the first request is refused: the retry re-plans from the history
    turn = service.start_turn(username="alice", conversation_id=None, history=history, prompt="NEW PROMPT")
    history.append(ChatMessage("user", "NEW PROMPT"))  # what the page does right after
    assert turn.wait(10) and turn.status == "complete", turn.error
    retried = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in retried].count("NEW PROMPT") == 1 and retried[-1]["content"] == "NEW PROMPT"


def reading_a_stream() -> bool:
    """Whether a thread is inside the model client's stream, waiting for its next chunk."""
    for frame in sys._current_frames().values():
        while frame is not None:
            if frame.f_code.co_name == "__iter__" and frame.f_code.co_filename.endswith("chat/llm/client.py"):
                return True
            frame = frame.f_back
    return False


def test_stop_ends_a_reply_at_once_while_the_model_is_still_silent(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    """The worker blocks reading a stream whose server says nothing yet: Stop wakes it (the socket
    is shut down, not only closed), rather than the request's timeout a minute later."""
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_REQUEST_TIMEOUT="60")
    fake_openai.enqueue(FakeReply(text="Too late.", first_delay=60))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Think hard")
    wait_until(lambda: fake_openai.chat_requests, 10, "the request at the model")
    wait_until(reading_a_stream, 10, "the worker blocked reading the reply's stream")
    turn.stop()
    assert turn.wait(10) and turn.status == "stopped" and turn.text == ""
