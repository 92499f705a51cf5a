"""Many conversations per user: list, open, rename, delete, each scoped to its owner."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.db.tables import Conversation
from chat.errors import InputError
from chat.llm.client import build_model
from chat.turns.service import ChatService
from chat.ui.wording import ending_note
from tests.conftest import make_settings
from tests.fake_openai import FakeOpenAI, FakeReply


def chat(service: ChatService, username: str, prompt: str, conversation_id: str | None = None) -> str:
    turn = service.start_turn(username=username, conversation_id=conversation_id, history=[], prompt=prompt)
    assert turn.wait(10)
    return turn.conversation_id


def test_conversations_are_listed_newest_first_and_titled_by_their_first_prompt(service: ChatService) -> None:
    first = chat(service, "alice", "What is the capital of France?")
    second = chat(service, "alice", "Write a haiku about the sea " + "and the waves " * 10)
    chat(service, "alice", "Follow-up", first)  # activity moves it to the top
    listed = service.conversations("alice")
    assert [c.id for c in listed] == [first, second]
    assert listed[0].title == "What is the capital of France?"
    assert listed[1].title.endswith("…") and len(listed[1].title) <= 80


def test_opening_a_conversation_returns_its_messages_with_how_they_ended(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="Paris."), FakeReply(status=429))
    conversation = chat(service, "alice", "Capital of France?")
    chat(service, "alice", "And Spain?", conversation)
    messages = service.open_conversation("alice", conversation)
    assert messages is not None
    assert [(m.role, m.content, m.status) for m in messages] == [
        ("user", "Capital of France?", "complete"),
        ("assistant", "Paris.", "complete"),
        ("user", "And Spain?", "complete"),
        ("assistant", "", "error"),
    ]
    assert messages[1].completion_tokens == 1
    assert "rate limiting" in (ending_note(messages[3]) or "")


def test_rename_and_delete(service: ChatService, sessions) -> None:
    conversation = chat(service, "alice", "Original title")
    assert service.rename_conversation("alice", conversation, "  Trip   planning  ")
    assert service.conversations("alice")[0].title == "Trip planning"
    with pytest.raises(InputError):
        service.rename_conversation("alice", conversation, "   ")
    assert service.delete_conversation("alice", conversation)
    assert service.conversations("alice") == []
    assert service.open_conversation("alice", conversation) is None
    assert not service.delete_conversation("alice", conversation)  # already gone from her views
    with sessions() as session:  # the audit log keeps it
        kept = session.get(Conversation, conversation)
        assert kept is not None and kept.deleted_at is not None and len(kept.messages) == 2


@pytest.mark.both_engines
def test_user_b_can_reach_none_of_user_as_conversations(service: ChatService) -> None:
    mine = chat(service, "alice", "Alice's secret plan")
    assert service.conversations("bob") == []
    assert service.open_conversation("bob", mine) is None
    assert not service.rename_conversation("bob", mine, "hijacked")
    assert not service.delete_conversation("bob", mine)
    # Bob sending into Alice's conversation id starts a conversation of his own instead.
    his = chat(service, "bob", "Let me in", mine)
    assert his != mine
    alice_view = service.open_conversation("alice", mine)
    assert alice_view is not None and [m.content for m in alice_view if m.role == "user"] == ["Alice's secret plan"]
    assert service.conversations("alice")[0].title == "Alice's secret plan"


@pytest.mark.both_engines
@pytest.mark.parametrize("bad_id", ["", "nope", "../../etc/passwd", "0" * 31, "Z" * 32, "' OR 1=1 --"])
def test_malformed_ids_are_simply_not_found(service: ChatService, bad_id: str) -> None:
    assert service.open_conversation("alice", bad_id) is None


def test_a_conversation_keeps_its_own_options_and_each_reply_records_them(
    service: ChatService, fake_openai: FakeOpenAI, sessions
) -> None:
    from chat.db.tables import Message
    from chat.turns.service import ConversationOptions

    options = ConversationOptions(model="fake-model", system_prompt="Answer in French.", temperature=0.3)
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Hello", options=options)
    assert turn.wait(10)
    sent = fake_openai.chat_requests[-1].body
    assert sent["model"] == "fake-model" and sent["temperature"] == 0.3
    assert sent["messages"][0] == {"role": "system", "content": "Answer in French."}
    assert service.conversation_options("alice", turn.conversation_id) == options
    # Changed later: the next reply uses and records the new options; the first keeps the old.
    changed = ConversationOptions(model="gpt-4o-mini", system_prompt="Be brief.", temperature=None)
    assert service.set_conversation_options("alice", turn.conversation_id, changed)
    assert not service.set_conversation_options("bob", turn.conversation_id, options)  # not his
    second = service.start_turn(username="alice", conversation_id=turn.conversation_id, history=[], prompt="Again")
    assert second.wait(10)
    sent = fake_openai.chat_requests[-1].body
    assert sent["model"] == "gpt-4o-mini" and "temperature" not in sent
    with sessions() as session:
        replies = session.query(Message).filter_by(role="assistant").order_by(Message.id).all()
        assert [(r.model, r.system_prompt, r.temperature) for r in replies] == [
            ("fake-model", "Answer in French.", 0.3),
            ("gpt-4o-mini", "Be brief.", None),
        ]


def test_bad_options_are_refused(service: ChatService) -> None:
    from chat.turns.service import ConversationOptions

    with pytest.raises(InputError, match="between 0 and 2"):
        service.start_turn(
            username="alice",
            conversation_id=None,
            history=[],
            prompt="x",
            options=ConversationOptions("fake-model", "", 3.5),
        )


def test_models_come_from_settings_and_the_server(tmp_path: Path, fake_openai: FakeOpenAI, sessions) -> None:
    settings = make_settings(tmp_path, OPENAI_BASE_URL=fake_openai.base_url, PARLEY_MODELS="model-a, model-b")
    service = ChatService(settings, sessions, build_model(settings))
    fake_openai.models = ["served-1", "model-a"]
    assert service.available_models() == ["gpt-4o-mini", "model-a", "model-b", "served-1"]
    down = make_settings(tmp_path, OPENAI_BASE_URL="http://127.0.0.1:9/v1", PARLEY_MODELS="model-a")
    assert ChatService(down, sessions, build_model(down)).available_models() == ["gpt-4o-mini", "model-a"]
