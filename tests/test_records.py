"""A reply's, a prompt's and a conversation's fields are spelled once (chat/domain/records.py):
the log's rows, the spool file, the export and the page all take them from there, and a
turn written late through the spool lands as the same row as one written at once."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db import spool, store
from chat.db.documents import user_export
from chat.db.tables import Conversation, Message
from chat.domain.messages import ChatMessage
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord, field_names, from_json, to_json, values
from chat.domain.status import ReplyStatus
from tests.conftest import new_conversation

AT = datetime(2026, 11, 26, 10, tzinfo=UTC)
# Every field set to something other than its default: a field the store or the spool
# forgot would come back as its default and differ.
REPLY = ReplyRecord(
    content="Paris.",
    status=ReplyStatus.LENGTH,
    created_at=AT + timedelta(seconds=1),
    finished_at=AT + timedelta(seconds=3),
    model="m",
    system_prompt="Be terse.",
    temperature=0.5,
    error_kind="length",
    error_message="cut",
    prompt_tokens=12,
    completion_tokens=3,
    usage_estimated=True,
    cost_usd=0.25,
    reasoning="It is the capital.",
    context_tokens=14,
    context_left_out=2,
    duration_ms=2000,
)
CONVERSATION = ConversationRecord(
    id="c" * 32, username="alice", title="France?", model="m", system_prompt="Be terse.", temperature=0.5, created_at=AT
)
PROMPT = PromptRecord(content="France?", model="m", created_at=AT)


def test_every_field_of_a_record_is_a_column_of_its_row() -> None:
    assert not {f.name for f in fields(ReplyRecord)} - set(Message.__table__.columns.keys())
    assert not {f.name for f in fields(PromptRecord)} - set(Message.__table__.columns.keys())
    assert not {f.name for f in fields(ConversationRecord)} - set(Conversation.__table__.columns.keys())


def test_a_record_comes_back_from_its_json_and_an_older_one_reads_with_defaults() -> None:
    for record in (REPLY, CONVERSATION, PROMPT):
        assert from_json(type(record), json.loads(json.dumps(to_json(record)))) == record
    older = {"content": "hi", "status": "complete", "created_at": AT.isoformat()}  # before the later fields
    assert from_json(ReplyRecord, older) == ReplyRecord(content="hi", status=ReplyStatus.COMPLETE, created_at=AT)
    with pytest.raises(TypeError, match="no field 'renamed'"):
        from_json(ReplyRecord, {**older, "renamed": 1})  # a field this Parley does not know: never dropped
    # ...unless the reader says it may be (the import: a later Parley's export still imports).
    assert from_json(ReplyRecord, {**older, "renamed": 1}, ignore_unknown=True) == from_json(ReplyRecord, older)
    with pytest.raises(TypeError, match="prompt_tokens must be int, not str"):
        from_json(ReplyRecord, {**older, "prompt_tokens": "12"})


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
    assert set(reply) == {*field_names(ReplyRecord), "role", "feedback", "superseded", "updated_at"}
    assert from_json(ReplyRecord, {k: v for k, v in reply.items() if k in field_names(ReplyRecord)}) == REPLY
