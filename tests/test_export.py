"""Export and import: Markdown to read, JSON that comes back without loss."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

from chat.export import as_markdown, main, user_export
from chat.service import ChatService, ConversationOptions
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.test_conversations import chat


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
    assert main(["import", str(path), "--user", "carol"], sessions=sessions) == 0
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
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["export", "--user", "bob"], sessions=sessions) == 0
    assert json.loads(out.getvalue())["conversations"] == []  # nothing of Alice's


def test_markdown_reads_well(service: ChatService, fake_openai: FakeOpenAI, sessions) -> None:
    fake_openai.enqueue(FakeReply(text="**Bold** answer."), FakeReply(status=500))
    conversation = chat(service, "alice", "Question one")
    chat(service, "alice", "Question two", conversation)
    record = user_export(sessions, "alice", conversation)["conversations"][0]
    text = as_markdown(record)
    assert text.startswith("# Question one\n")
    assert "## You\n\nQuestion one" in text and "## Assistant\n\n**Bold** answer." in text
    assert "Ended early: The model server had an internal error (500)" in text


def test_a_damaged_or_foreign_file_imports_nothing(sessions, tmp_path: Path, capsys) -> None:
    foreign = tmp_path / "other.json"
    foreign.write_text(json.dumps({"hello": "world"}))
    assert main(["import", str(foreign), "--user", "carol"], sessions=sessions) == 1
    damaged = tmp_path / "damaged.json"
    damaged.write_text(json.dumps({"format": "parley.conversations", "version": 1, "conversations": [{"title": "x"}]}))
    assert main(["import", str(damaged), "--user", "carol"], sessions=sessions) == 1
    err = capsys.readouterr().err
    assert "not a Parley conversations export" in err and "damaged" in err
    assert user_export(sessions, "carol")["conversations"] == []
