"""Regenerate, edit and feedback: earlier attempts stay in the log as superseded, the
chat and every later request carry only the current branch."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db.documents import user_export
from chat.db.tables import Message
from chat.errors import InputError
from chat.ops.export import as_markdown
from chat.turns.service import ChatService
from tests.fake_openai import FakeOpenAI, FakeReply


def log_of(sessions: sessionmaker[Session]) -> list[tuple[str, str, bool]]:
    with sessions() as session:
        return [(m.role, m.content, m.superseded) for m in session.scalars(select(Message).order_by(Message.id))]


def talk(service: ChatService, fake: FakeOpenAI) -> str:
    fake.enqueue(FakeReply(text="First answer."), FakeReply(text="Second answer."))
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Q1")
    assert first.wait(10)
    second = service.start_turn(
        username="alice",
        conversation_id=first.conversation_id,
        history=[*service.open_conversation("alice", first.conversation_id)],
        prompt="Q2",
    )
    assert second.wait(10)
    return first.conversation_id


def test_regenerate_supersedes_the_last_reply_and_sends_the_current_branch(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    conversation = talk(service, fake_openai)
    fake_openai.enqueue(FakeReply(text="Second answer, again."))

    turn = service.regenerate(username="alice", conversation_id=conversation)

    assert turn.wait(10) and turn.status == "complete"
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["Q1", "First answer.", "Q2"]
    assert log_of(sessions) == [
        ("user", "Q1", False),
        ("assistant", "First answer.", False),
        ("user", "Q2", False),
        ("assistant", "Second answer.", True),
        ("assistant", "Second answer, again.", False),
    ]
    shown = service.open_conversation("alice", conversation)
    assert [m.content for m in shown] == ["Q1", "First answer.", "Q2", "Second answer, again."]


def test_edit_supersedes_the_last_prompt_and_its_reply(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    conversation = talk(service, fake_openai)
    fake_openai.enqueue(FakeReply(text="Answer to the edit."))

    turn = service.edit_prompt(username="alice", conversation_id=conversation, prompt="Q2, better put")

    assert turn.wait(10)
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["Q1", "First answer.", "Q2, better put"]
    assert [entry for entry in log_of(sessions) if entry[2]] == [
        ("user", "Q2", True),
        ("assistant", "Second answer.", True),
    ]
    shown = service.open_conversation("alice", conversation)
    assert [m.content for m in shown] == ["Q1", "First answer.", "Q2, better put", "Answer to the edit."]
    # The next turn builds on the current branch only.
    fake_openai.enqueue(FakeReply(text="ok"))
    follow_up = service.start_turn(username="alice", conversation_id=conversation, history=shown, prompt="Q3")
    assert follow_up.wait(10)
    assert "Q2" not in [m["content"] for m in fake_openai.chat_requests[-1].body["messages"]]
    # Superseded attempts are not searchable, stay in the JSON export, and leave the Markdown.
    assert service.search("alice", "Second answer") == []
    [record] = user_export(sessions, "alice")["conversations"]
    assert [m["superseded"] for m in record["messages"]].count(True) == 2
    assert "Q2, better put" in as_markdown(record) and "## You\n\nQ2\n" not in as_markdown(record)


def test_regenerate_is_refused_while_a_reply_is_written_and_for_others(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="slow " * 30, delay=0.05))
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Q")
    with pytest.raises(InputError, match="still being written"):
        service.regenerate(username="alice", conversation_id=turn.conversation_id)
    assert turn.wait(10)
    with pytest.raises(InputError, match="not found"):
        service.regenerate(username="bob", conversation_id=turn.conversation_id)
    with pytest.raises(InputError, match="not found"):
        service.edit_prompt(username="bob", conversation_id=turn.conversation_id, prompt="mine now")


def test_feedback_is_stored_changeable_and_only_on_ones_own_replies(
    service: ChatService, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Q")
    assert turn.wait(10) and turn.reply_id is not None
    assert service.set_feedback("alice", turn.reply_id, 1)
    assert service.set_feedback("alice", turn.reply_id, 0)  # changed her mind
    assert not service.set_feedback("bob", turn.reply_id, 1)
    with pytest.raises(InputError):
        service.set_feedback("alice", turn.reply_id, 5)
    [shown] = [m for m in service.open_conversation("alice", turn.conversation_id) or [] if m.role == "assistant"]
    assert shown.feedback == 0


# --- versions (issue 20, point 3) ------------------------------------------------------------


def shown(service: ChatService, conversation: str) -> list[str]:
    return [m.content for m in service.open_conversation("alice", conversation) or []]


def sent_contents(fake: FakeOpenAI) -> list[str]:
    return [m["content"] for m in fake.chat_requests[-1].body["messages"][1:]]  # after the system prompt


def message_id(service: ChatService, conversation: str, content: str) -> int:
    found = next(m.id for m in service.open_conversation("alice", conversation) or [] if m.content == content)
    assert found is not None
    return found


def test_a_regenerated_reply_has_versions_and_the_chosen_one_is_what_the_next_request_carries(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    conversation = talk(service, fake_openai)
    fake_openai.enqueue(FakeReply(text="Second answer, again."))
    again = service.regenerate(username="alice", conversation_id=conversation)
    assert again.wait(10)
    first_version = message_id(service, conversation, "Q2") + 1  # "Second answer.", now off the branch

    [*_, reply] = service.open_conversation("alice", conversation) or []
    assert reply.versions == (first_version, reply.id) == again.as_message().versions
    assert again.prompt_message().id == message_id(service, conversation, "Q2")

    branch = service.choose_version("alice", conversation, first_version)
    assert [m.content for m in branch or []] == ["Q1", "First answer.", "Q2", "Second answer."]
    assert shown(service, conversation) == ["Q1", "First answer.", "Q2", "Second answer."]
    fake_openai.enqueue(FakeReply(text="ok"))
    follow_up = service.start_turn(username="alice", conversation_id=conversation, history=[], prompt="Q3")
    assert follow_up.wait(10)
    assert sent_contents(fake_openai) == ["Q1", "First answer.", "Q2", "Second answer.", "Q3"]
    assert follow_up.prompt_message().versions == (follow_up.prompt_message().id,)


def test_any_prompt_can_be_edited_and_each_version_keeps_the_conversation_it_had(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    conversation = talk(service, fake_openai)
    q1 = message_id(service, conversation, "Q1")
    fake_openai.enqueue(FakeReply(text="Answer to Q1 put better."))

    edit = service.edit_prompt(username="alice", conversation_id=conversation, prompt="Q1 put better", message_id=q1)

    assert edit.wait(10)
    assert sent_contents(fake_openai) == ["Q1 put better"]  # nothing of the old branch goes
    assert shown(service, conversation) == ["Q1 put better", "Answer to Q1 put better."]
    [prompt, _] = service.open_conversation("alice", conversation) or []
    assert prompt.versions == (q1, prompt.id) == edit.prompt_message().versions

    # Back to the first version: the whole conversation that followed it comes back.
    assert [m.content for m in service.choose_version("alice", conversation, q1) or []] == [
        "Q1",
        "First answer.",
        "Q2",
        "Second answer.",
    ]
    fake_openai.enqueue(FakeReply(text="Third answer."))
    assert service.start_turn(username="alice", conversation_id=conversation, history=[], prompt="Q3").wait(10)
    assert sent_contents(fake_openai) == ["Q1", "First answer.", "Q2", "Second answer.", "Q3"]
    assert prompt.id is not None
    service.choose_version("alice", conversation, prompt.id)
    assert shown(service, conversation) == ["Q1 put better", "Answer to Q1 put better."]


def test_a_version_chosen_deep_in_a_branch_is_remembered_when_the_branch_comes_back(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    conversation = talk(service, fake_openai)
    q1 = message_id(service, conversation, "Q1")
    second = message_id(service, conversation, "Second answer.")
    fake_openai.enqueue(FakeReply(text="Second answer, again."))
    assert service.regenerate(username="alice", conversation_id=conversation).wait(10)
    service.choose_version("alice", conversation, second)  # the older reply, chosen: not the newest
    fake_openai.enqueue(FakeReply(text="Other."))
    edit = service.edit_prompt(username="alice", conversation_id=conversation, prompt="Other Q1", message_id=q1)
    assert edit.wait(10)

    service.choose_version("alice", conversation, q1)

    assert shown(service, conversation) == ["Q1", "First answer.", "Q2", "Second answer."]


def test_a_reply_regenerated_from_a_page_another_tab_moved_on_is_the_one_that_page_showed(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(FakeReply(text="First answer."))
    first = service.start_turn(username="alice", conversation_id=None, history=[], prompt="Q1")
    assert first.wait(10) and first.reply_id is not None
    conversation = first.conversation_id
    fake_openai.enqueue(FakeReply(text="Second answer."))  # another tab goes on meanwhile
    assert service.start_turn(username="alice", conversation_id=conversation, history=[], prompt="Q2").wait(10)
    fake_openai.enqueue(FakeReply(text="First answer, again."))

    again = service.regenerate(username="alice", conversation_id=conversation, reply_id=first.reply_id)

    assert again.wait(10)
    assert sent_contents(fake_openai) == ["Q1"]
    assert shown(service, conversation) == ["Q1", "First answer, again."]
    service.choose_version("alice", conversation, first.reply_id)  # the other tab's turn comes back with it
    assert shown(service, conversation) == ["Q1", "First answer.", "Q2", "Second answer."]


def test_versions_are_refused_with_a_sentence_when_they_cannot_be_chosen(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    conversation = talk(service, fake_openai)
    q1 = message_id(service, conversation, "Q1")
    second = message_id(service, conversation, "Second answer.")
    fake_openai.enqueue(FakeReply(text="Other."))
    assert service.edit_prompt(username="alice", conversation_id=conversation, prompt="Q1b", message_id=q1).wait(10)

    with pytest.raises(InputError, match="no longer part of the conversation"):
        service.choose_version("alice", conversation, second)  # its prompt is off the branch now
    with pytest.raises(InputError, match="no longer part of the conversation"):
        service.edit_prompt(username="alice", conversation_id=conversation, prompt="x", message_id=q1)
    with pytest.raises(InputError, match="not in this conversation"):
        service.choose_version("alice", conversation, 10_000)
    assert service.choose_version("bob", conversation, q1) is None  # not his: as good as missing

    fake_openai.enqueue(FakeReply(text="slow " * 40, delay=0.05))
    running = service.start_turn(username="alice", conversation_id=conversation, history=[], prompt="Q2b")
    with pytest.raises(InputError, match="still being written"):
        service.choose_version("alice", conversation, q1)
    q1b = message_id(service, conversation, "Q1b")
    with pytest.raises(InputError, match="still being written"):
        service.edit_prompt(username="alice", conversation_id=conversation, prompt="x", message_id=q1b)
    assert running.wait(10)
    assert service.choose_version("alice", conversation, q1) is not None
