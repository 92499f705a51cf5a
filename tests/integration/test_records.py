"""Records written as rows (chat/domain/records.py, chat/db/store.py): a turn written late through the
spool lands as the same row as one written at once, and the export reads a row back as its record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool, store
from chat.db.documents import user_export
from chat.db.tables import Message
from chat.domain.messages import ChatMessage
from chat.domain.records import ConversationRecord, ReplyRecord, field_names, from_json, values
from chat.domain.status import ReplyStatus
from tests.conftest import new_conversation
from tests.unit.test_records import AT, CONVERSATION, PROMPT, REPLY

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def test_a_turn_through_the_spool_is_the_row_the_direct_path_writes(
    tmp_path: Path, sessions: sessionmaker[Session]
) -> None:
    with sessions.begin() as session:  # at once: the chat's own calls
        conversation = new_conversation(session, "bob", system_prompt="Be terse.")
        store.write_prompt(session, conversation, PROMPT)
        streaming = ReplyRecord(content="", status=ReplyStatus.STREAMING, created_at=AT, model="m")
        started = store.start_reply(session, conversation.id, "bob", streaming)
        store.finish_reply(session, started.id, REPLY)
    file = spool.Spool(tmp_path / "spool.jsonl")  # late: a whole turn the log refused
    file.add(spool.Record(conversation=CONVERSATION, prompt=PROMPT, reply=REPLY))
    (line,) = file.path.read_text().splitlines()
    assert set(json.loads(line)["reply"]) == set(field_names(ReplyRecord))  # the file's format is the record's
    assert file.replay(sessions) == spool.Replayed(written=1, left=0)

    with sessions() as session:
        rows = list(session.scalars(select(Message).order_by(Message.id)))
    direct, late = [row for row in rows if row.role == "assistant"]
    assert store.record_of(late) == REPLY
    # All but when it started, which the row of a streaming reply knows itself.
    assert store.record_of(direct) == ReplyRecord(**{**values(REPLY), "created_at": direct.created_at})
    for row in rows:
        if row.role == "user":
            assert (row.content, row.model, row.status) == (PROMPT.content, PROMPT.model, ReplyStatus.COMPLETE)
    assert late.owner is None and direct.owner is None  # ended: no process owns either any more

    # The page shows what the record says.
    shown = ChatMessage.of(REPLY, id=late.id)
    assert store.as_chat_message(late) == shown
    assert (shown.cost, shown.left_out, shown.error_message) == (0.25, 2, "cut")


def test_the_export_writes_a_message_as_its_record_and_reads_it_back(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        store.write_turn(session, CONVERSATION, PROMPT, REPLY)
    (conversation,) = user_export(sessions, "alice")["conversations"]
    # A conversation is its record without its user (the document's, once), and what only the log knows.
    named = [name for name in field_names(ConversationRecord) if name != "username"]
    assert list(conversation) == [*named, "updated_at", "messages"]
    assert from_json(ConversationRecord, {**conversation, "username": "alice"}, ignore_unknown=True) == CONVERSATION
    _prompt, reply = conversation["messages"]
    assert set(reply) == {
        *field_names(ReplyRecord),
        "role",
        "feedback",
        "superseded",
        "parent",
        "chosen_at",
        "updated_at",
        "files",
    }
    assert from_json(ReplyRecord, {k: v for k, v in reply.items() if k in field_names(ReplyRecord)}) == REPLY
