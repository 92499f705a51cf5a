"""Export and import: Markdown to read, JSON that comes back without loss."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from chat.db.documents import user_export
from chat.db.tables import Message
from chat.ops.export import as_markdown
from chat.turns.service import ChatService, ConversationOptions
from tests.conftest import TEST_COOKIE_KEY, parley, url_of
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.integration.test_conversations import chat

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def command(sessions: sessionmaker[Session], *argv: str) -> Result:
    """`python -m chat ARGV` on the database of `sessions`."""
    return parley(*argv, env={"DATABASE_URL": url_of(sessions), "PARLEY_COOKIE_KEY": TEST_COOKIE_KEY})


def comparable(document: dict) -> list[dict]:
    """An export without what an import is meant to change: ids and the owner."""
    return [{k: v for k, v in c.items() if k != "id"} for c in document["conversations"]]


def test_json_export_imports_back_without_loss(
    service: ChatService,
    fake_openai: FakeOpenAI,
    sessions,
    tmp_path: Path,
) -> None:
    fake_openai.enqueue(FakeReply(text="Paris, *of course*."), FakeReply(text="cut", finish_reason="length"))
    options = ConversationOptions("fake-model", "Be terse.", 0.4)
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="France?", options=options)
    assert first.wait(10)
    chat(service, "alice", "Spain?", first.conversation_id)
    chat(service, "alice", "A second conversation")
    exported = user_export(sessions, "alice")
    path = tmp_path / "alice.json"
    path.write_text(json.dumps(exported))
    imported = command(sessions, "import", str(path), "--user", "carol")
    assert (imported.exit_code, imported.stdout) == (0, "Imported 2 conversation(s) for carol.\n")
    again = user_export(sessions, "carol")
    assert comparable(again) == comparable(exported)
    assert len(again["conversations"]) == 2 and again["conversations"][0]["temperature"] == 0.4
    statuses = [m["status"] for m in again["conversations"][0]["messages"]]
    assert statuses == ["complete", "complete", "complete", "length"]
    replies = [m for m in again["conversations"][0]["messages"] if m["role"] == "assistant"]
    assert all(m["context_tokens"] > 0 and m["context_left_out"] == 0 for m in replies)
    assert {c["id"] for c in again["conversations"]}.isdisjoint({c["id"] for c in exported["conversations"]})


def test_export_cli_and_scoping(service: ChatService, sessions) -> None:
    chat(service, "alice", "Alice only")
    bobs = command(sessions, "export", "--user", "bob")
    assert bobs.exit_code == 0 and json.loads(bobs.stdout)["conversations"] == []  # nothing of Alice's
    assert command(sessions, "export", "--user", "Alice", "--out", "alice.json").exit_code == 0
    assert [c["title"] for c in json.loads(Path("alice.json").read_text())["conversations"]] == ["Alice only"]
    assert command(sessions, "export").exit_code == 2  # --user is required


def test_markdown_reads_well(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="**Bold** answer."), FakeReply(status=500))
    conversation = chat(service, "alice", "Question one")
    chat(service, "alice", "Question two", conversation)
    record = user_export(sessions, "alice", conversation)["conversations"][0]
    text = as_markdown(record)
    assert text.startswith("# Question one\n")
    assert "## You\n\nQuestion one" in text and "## Assistant\n\n**Bold** answer." in text
    assert "Ended early: The model server had an internal error (500)" in text


def test_a_damaged_or_foreign_file_imports_nothing(sessions, tmp_path: Path) -> None:
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"hello": "world"}))
    refused = command(sessions, "import", str(foreign), "--user", "carol")
    assert (refused.exit_code, refused.stdout) == (1, "")
    assert refused.stderr == "Error: This file is not a Parley conversations export.\n"
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({"format": "parley.conversations", "version": 1, "conversations": [{"title": "x"}]}))
    refused = command(sessions, "import", str(damaged), "--user", "carol")
    assert refused.exit_code == 1 and refused.stderr.startswith("Error: The export file is damaged (KeyError")
    missing = command(sessions, "import", str(tmp_path / "nothing.json"), "--user", "carol")
    assert missing.exit_code == 1 and missing.stderr.startswith(f"Error: Cannot read {tmp_path / 'nothing.json'}: ")
    assert user_export(sessions, "carol")["conversations"] == []


# As Parley wrote an export before the later fields of a message (usage, reasoning, context...).
OLDER_EXPORT = {
    "format": "parley.conversations",
    "version": 1,
    "user": "alice",
    "conversations": [
        {
            "id": "0" * 32,
            "title": "Trip",
            "model": "gpt-4o-mini",
            "system_prompt": "",
            "temperature": None,
            "created_at": "2026-01-05T09:00:00+00:00",
            "updated_at": "2026-01-05T09:01:00+00:00",
            "messages": [
                {
                    "role": "user",
                    "content": "Where to?",
                    "status": "complete",
                    "created_at": "2026-01-05T09:00:00+00:00",
                    "feedback": None,
                    "superseded": False,
                    "updated_at": "2026-01-05T09:00:00+00:00",
                },
                {
                    "role": "assistant",
                    "content": "Lisbon.",
                    "status": "complete",
                    "created_at": "2026-01-05T09:00:01+00:00",
                    "finished_at": "2026-01-05T09:00:03+00:00",
                    "model": "gpt-4o-mini",
                    "feedback": 1,
                    "superseded": False,
                    "updated_at": "2026-01-05T09:00:03+00:00",
                },
            ],
        }
    ],
}


def test_an_older_export_and_a_later_one_with_fields_this_parley_does_not_know_import(sessions, tmp_path: Path) -> None:
    older = tmp_path / "older.json"
    older.write_text(json.dumps(OLDER_EXPORT))
    assert command(sessions, "import", str(older), "--user", "carol").exit_code == 0
    # A later Parley added fields to the document, a conversation and a message: ignored, not fatal.
    later = json.loads(json.dumps(OLDER_EXPORT))
    later["exported_by"] = "Parley 9"
    later["conversations"][0]["pinned"] = True
    later["conversations"][0]["messages"][1]["language"] = "pt"
    (tmp_path / "later.json").write_text(json.dumps(later))
    imported = command(sessions, "import", str(tmp_path / "later.json"), "--user", "dave")
    assert (imported.exit_code, imported.stdout) == (0, "Imported 1 conversation(s) for dave.\n")

    for user in ("carol", "dave"):
        (conversation,) = user_export(sessions, user)["conversations"]
        assert (conversation["title"], conversation["updated_at"]) == ("Trip", "2026-01-05T09:01:00+00:00")
        assert "pinned" not in conversation and conversation["id"] != "0" * 32
        prompt, reply = conversation["messages"]
        assert (prompt["content"], reply["content"], reply["feedback"]) == ("Where to?", "Lisbon.", 1)
        assert reply["prompt_tokens"] is None and reply["usage_estimated"] is False  # later fields: their defaults
        assert "language" not in reply


def test_a_row_with_a_status_parley_does_not_know_still_opens_and_exports(
    service: ChatService, sessions, caplog: pytest.LogCaptureFixture
) -> None:
    """An older import took any word as a status: such a row reads as `error`, said in the log."""
    conversation = chat(service, "alice", "Hello")
    with sessions.begin() as session:
        session.execute(update(Message).where(Message.role == "assistant").values(status="paused"))
    with caplog.at_level(logging.WARNING, logger="chat.db.store"):
        opened = service.open_conversation("alice", conversation)
        exported = service.export("alice", conversation)
    assert opened is not None and [m.status for m in opened] == ["complete", "error"]
    assert [m["status"] for m in exported["conversations"][0]["messages"]] == ["complete", "error"]
    assert "a status Parley does not know ('paused'): read as error" in caplog.text
