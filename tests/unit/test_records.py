"""A reply's, a prompt's and a conversation's fields are spelled once (chat/domain/records.py):
the log's rows, the spool file, the export and the page all take them from there, and a
turn written late through the spool lands as the same row as one written at once."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import UTC, datetime, timedelta

import pytest

from chat.db.tables import Conversation, Message
from chat.domain.records import ConversationRecord, PromptRecord, ReplyRecord, from_json, to_json
from chat.domain.status import ReplyStatus

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
