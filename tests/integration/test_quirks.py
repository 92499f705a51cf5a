"""Every way a stream can end, and the model quirks a server answers with: each a
sentence, never a crash, with what arrived kept."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db.tables import Message
from chat.turns.service import ChatService, ConversationOptions
from tests.conftest import service_with
from tests.fake_openai import FakeOpenAI, FakeReply


def last_reply(sessions: sessionmaker[Session]) -> Message:
    with sessions() as session:
        return session.scalars(select(Message).where(Message.role == "assistant").order_by(Message.id.desc())).first()


def run(service: ChatService, options: ConversationOptions | None = None, prompt: str = "Hi"):  # type: ignore[no-untyped-def]
    turn = service.start_turn(username="alice", conversation_id=None, history=[], prompt=prompt, options=options)
    assert turn.wait(20)
    return turn


def test_a_stream_kept_alive_past_the_deadline_ends_with_a_sentence(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_REPLY_DEADLINE="1.5")
    # Comments every 0.2 s keep each read inside the 2 s read timeout, forever.
    fake_openai.enqueue(
        FakeReply(text="partial words then silence", stall_after=2, stall_seconds=30, keepalive_every=0.2)
    )
    turn = run(service)
    assert turn.status == "error" and turn.error is not None and turn.error.kind == "deadline"
    assert "longer than 1.5 seconds" in turn.error.message and "PARLEY_REPLY_DEADLINE" in turn.error.message
    reply = last_reply(sessions)
    assert (reply.status, reply.error_kind, reply.content) == ("error", "deadline", "partial words")


def test_a_model_that_refuses_temperature_answers_with_its_default(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions)
    fake_openai.refuses = {"temperature"}
    options = ConversationOptions("o3-mini", "", temperature=0.7)

    turn = run(service, options)

    first, second = fake_openai.chat_requests
    assert first.body["temperature"] == 0.7 and "temperature" not in second.body
    assert turn.status == "complete"
    assert turn.as_message().notices == ("This model takes no temperature setting; it answered with its own default.",)
    assert last_reply(sessions).temperature is None  # the log says what was actually sent
    # Learnt: the next request goes right the first time.
    run(service, options)
    assert len(fake_openai.chat_requests) == 3 and "temperature" not in fake_openai.chat_requests[2].body


def test_a_model_that_wants_max_completion_tokens_gets_it(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MAX_TOKENS="500")
    fake_openai.refuses = {"max_tokens"}
    turn = run(service)
    first, second = fake_openai.chat_requests
    assert first.body["max_tokens"] == 500
    assert second.body["max_completion_tokens"] == 500 and "max_tokens" not in second.body
    assert turn.status == "complete"


def test_a_refusal_that_cannot_be_worked_around_is_a_sentence(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MAX_TOKENS="500")
    fake_openai.refuses = {"max_tokens", "max_completion_tokens"}
    turn = run(service)
    assert turn.status == "error" and turn.error is not None
    assert "rejected the request (400)" in turn.error.message and "max_completion_tokens" in turn.error.message
    assert len(fake_openai.chat_requests) == 2  # one adaptation, then the sentence


def test_reasoning_is_kept_apart_and_never_sent_back(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions)
    fake_openai.enqueue(
        FakeReply(text="The answer is 4.", reasoning="Two plus two makes four."),
        FakeReply(text="<think>Inline thoughts here.</think>\n\nInline answer."),
    )
    first = run(service)
    assert first.text == "The answer is 4." and first.reasoning == "Two plus two makes four."
    assert last_reply(sessions).reasoning == "Two plus two makes four."
    second = service.start_turn(
        username="alice", conversation_id=first.conversation_id, history=[first.as_message()], prompt="And inline?"
    )
    assert second.wait(10)
    assert second.text == "Inline answer." and second.reasoning == "Inline thoughts here."
    sent = fake_openai.chat_requests[-1].body["messages"]
    assert all("plus two" not in str(m["content"]) for m in sent)
    assert {"role": "assistant", "content": "The answer is 4."} in sent
