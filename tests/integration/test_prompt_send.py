"""`chat/ui/prompt.send` against the real service: a prompt sent as the last reply's last words
showed (the reply whole, its final save still under way) is sent, not refused as "still answering"."""

from __future__ import annotations

import sqlite3
import threading

from sqlalchemy.orm import Session, sessionmaker

from chat.accounts.auth import SignedIn
from chat.db.quotas import Quota
from chat.domain.messages import ChatMessage
from chat.turns.service import ChatService
from chat.ui.prompt import send
from chat.ui.state import ChatState
from tests.conftest import url_of
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.waiting import wait_until

ALICE = SignedIn("alice", "Alice", ("user",), session_hash="alice-session", quota=Quota(0, 0))


def test_a_prompt_sent_while_the_last_reply_is_being_saved_waits_for_the_save(
    service: ChatService, sessions: sessionmaker[Session], fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="The first answer."), FakeReply(text="The second answer."))
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="First")
    # The log's write lock, held by someone else: the worker's final save of the reply waits for it.
    holder = sqlite3.connect(url_of(sessions).removeprefix("sqlite:///"), check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        wait_until(lambda: first.text_complete, 10, "the first reply's last words")
        assert not first.done  # whole on screen, not yet saved
        chat = ChatState(history=[ChatMessage(role="user", content="First")], turn=first)
        chat.conversation_id = first.conversation_id
        threading.Timer(0.3, holder.rollback).start()  # the lock goes; the save completes
        assert send(chat, "Second", ALICE, service)
    finally:
        holder.close()
    assert [m.content for m in chat.history] == ["First", "The first answer.", "Second"]
    assert chat.turn is not None and chat.turn is not first and chat.turn.wait(10)
    assert chat.turn.text == "The second answer."
