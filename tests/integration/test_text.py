"""Text PostgreSQL cannot store (U+0000, lone surrogates) is kept the same way on both engines.

Before chat/domain/text.py, PostgreSQL refused a NUL in a prompt (the turn was spooled and then blocked
the spool for good) while SQLite stored it: the same conversation differed by engine.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import documents
from chat.db.tables import Conversation, Message
from chat.ops import export
from chat.turns.service import ChatService, ConversationOptions
from tests.fake_openai import FakeOpenAI, FakeReply

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines

FFFD = "\ufffd"


def test_a_nul_in_a_prompt_a_reply_and_its_reasoning_is_stored_the_same_on_both_engines(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    fake_openai.enqueue(FakeReply(text="re\x00ply \ud800!", reasoning="th\x00ink"))
    options = ConversationOptions(model="fake-model", system_prompt="sys\x00tem")
    turn = service.start_turn(
        username="alice", conversation_id=None, history=[], prompt="before\x00after", options=options
    )
    assert turn.wait(15)
    assert not turn.unlogged and turn.save_error is None and turn.status == "complete", turn.error
    assert not service.spool.has_pending()
    # What the model was sent is the stored text too.
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent] == [f"sys{FFFD}tem", f"before{FFFD}after"]

    assert service.rename_conversation("alice", turn.conversation_id, "ti\x00tle")
    with sessions() as session:
        conversation = session.get(Conversation, turn.conversation_id)
        assert conversation is not None
        assert (conversation.title, conversation.system_prompt) == (f"ti{FFFD}tle", f"sys{FFFD}tem")
        prompt, reply = session.scalars(select(Message).order_by(Message.id)).all()
    assert prompt.content == f"before{FFFD}after"
    assert (reply.content, reply.reasoning) == (f"re{FFFD}ply {FFFD}!", f"th{FFFD}ink")
    assert reply.system_prompt == f"sys{FFFD}tem"
    # The page shows what was stored, from the live turn and from the log alike.
    assert turn.text == reply.content and turn.reasoning == reply.reasoning
    shown = service.open_conversation("alice", turn.conversation_id)
    assert shown is not None and [m.content for m in shown] == [prompt.content, reply.content]


def test_the_turn_after_a_nul_prompt_is_written_at_once(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    """The defect as found: on PostgreSQL the NUL prompt was spooled, then every later turn
    of every user waited behind it."""
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="a\x00b")
    assert first.wait(15)
    second = service.start_turn(username="bob", conversation_id=None, history=[], prompt="Next")
    assert second.wait(15)
    assert not first.unlogged and not second.unlogged and not service.spool.has_pending()
    with sessions() as session:
        prompts = session.scalars(select(Message.content).where(Message.role == "user").order_by(Message.id)).all()
    assert prompts == [f"a{FFFD}b", "Next"]


def test_an_imported_export_with_nul_and_surrogate_escapes_is_stored_the_same_on_both_engines(
    service: ChatService, sessions: sessionmaker[Session]
) -> None:
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="plain")
    assert turn.wait(15)
    document = json.loads(export.as_json(documents.user_export(sessions, "alice")))
    record = document["conversations"][0]
    record["title"] = "t\x00itle"
    record["system_prompt"] = "s\ud800p"
    record["messages"][0]["content"] = "im\x00ported"
    # As a file would spell them: JSON escapes, read back with json.loads.
    (new_id,) = documents.import_document(sessions, json.loads(json.dumps(document)), "bob")
    with sessions() as session:
        conversation = session.get(Conversation, new_id)
        assert conversation is not None
        assert (conversation.title, conversation.system_prompt) == (f"t{FFFD}itle", f"s{FFFD}p")
        contents = session.scalars(
            select(Message.content).where(Message.conversation_id == new_id).order_by(Message.id)
        ).all()
    assert contents[0] == f"im{FFFD}ported"
