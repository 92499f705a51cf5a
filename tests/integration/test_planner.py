"""chat/turns/planner.py against the fake server: the token budget's trimming checked against the
request the server received, the retry after a context-length error, and the estimate corrected by
the server's own count."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from chat.db.tables import Message
from chat.domain.messages import ChatMessage
from chat.domain.tokens import ESTIMATE_MARGIN
from chat.errors import InputError
from chat.llm.client import build_model
from chat.turns.service import ChatService
from chat.ui.wording import context_note
from tests.conftest import logged_messages, make_settings, service_with
from tests.fake_openai import FakeOpenAI, FakeReply, prompt_tokens
from tests.unit.test_planning import history_of


def test_a_prompt_too_long_for_the_budget_is_refused_before_anything_is_sent(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    settings = make_settings(
        tmp_path, OPENAI_BASE_URL=fake_openai.base_url, OPENAI_API_KEY="sk-test", PARLEY_CONTEXT_TOKENS="256"
    )
    service = ChatService(settings, sessions, build_model(settings))
    with pytest.raises(InputError, match="more than the 256 one request may carry"):
        service.start_turn(username="alice", conversation_id=None, history=[], prompt="word " * 400)
    assert fake_openai.chat_requests == []
    with sessions() as session:
        assert session.scalars(select(Message)).all() == []


def finished(service: ChatService, history: list[ChatMessage], prompt: str = "Newest?"):
    turn = service.start_turn(username="alice", conversation_id=None, history=history, prompt=prompt)
    assert turn.wait(10)
    return turn


def test_the_server_receives_the_trimmed_request_and_the_log_records_it(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_CONTEXT_TOKENS="600", PARLEY_MODEL="gpt-4o-mini")
    history = history_of(12)

    turn = finished(service, history)

    sent = fake_openai.chat_requests[-1].body["messages"]
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "Newest?"}
    assert 3 <= len(sent) < 26
    assert [m["content"] for m in sent[1:-1]] == [m.content for m in history[-(len(sent) - 2) :]]
    counted = service.tokens.counter("gpt-4o-mini").messages(sent)
    assert counted <= 600
    reply = [m for m in logged_messages(service.settings.database_url) if m.role == "assistant"][-1]
    assert reply.context_left_out == 24 - (len(sent) - 2) == turn.as_message().left_out
    assert reply.context_tokens == counted
    assert "left out of this request" in (context_note(turn.as_message()) or "")


def test_a_context_length_error_trims_further_and_retries_once(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL="gpt-4o-mini")  # budget 16,000
    history = history_of(12)
    fake_openai.context_window = 300  # far less than the budget, as with a small local model

    turn = finished(service, history)

    first, second = fake_openai.chat_requests
    assert prompt_tokens(first.body) > 300 >= prompt_tokens(second.body)
    assert second.body["messages"][-1] == {"role": "user", "content": "Newest?"}
    assert turn.status == "complete" and turn.error is None
    assert turn.as_message().left_out == 24 - (len(second.body["messages"]) - 2) > 0


def test_a_request_that_cannot_fit_ends_with_a_sentence(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL="gpt-4o-mini")
    fake_openai.context_window = 5  # not even the prompt fits

    turn = finished(service, history_of(1))

    assert turn.status == "error" and turn.error is not None and turn.error.kind == "context_length"
    assert "too long for the model's context window" in turn.error.message
    assert "shorten your message, or start a new chat" in turn.error.message
    # The server's stated limit leaves no room even for the prompt alone: no pointless retry.
    assert len(fake_openai.chat_requests) == 1


def test_without_a_stated_limit_the_retry_halves_the_request(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL="gpt-4o-mini")
    fake_openai.enqueue(FakeReply(status=400, error_message="The prompt is too long for this model."))

    turn = finished(service, history_of(12))

    first, second = fake_openai.chat_requests
    counter = service.tokens.counter("gpt-4o-mini")
    assert counter.messages(second.body["messages"]) <= counter.messages(first.body["messages"]) // 2
    assert turn.status == "complete"


def test_the_servers_prompt_tokens_correct_the_estimate(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL="fake-model", PARLEY_CONTEXT_TOKENS="2000")
    history = history_of(8)
    assert service.tokens.estimate_factor("fake-model") == ESTIMATE_MARGIN
    before = service.plan_request(history, "Newest?", service.default_options())
    assert before.left_out == 0
    raw = service.tokens.counter("fake-model").raw(before.messages)

    fake_openai.enqueue(FakeReply(text="ok", prompt_tokens=raw * 3))  # the model's tokenizer is far less thrifty
    finished(service, history)

    assert service.tokens.estimate_factor("fake-model") == pytest.approx(3 * 1.1)
    after = service.plan_request(history, "Newest?", service.default_options())
    assert after.left_out > 0  # the same history no longer fits


def test_an_exact_count_that_disagrees_with_the_server_is_logged(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session], caplog
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL="gpt-4o-mini")
    fake_openai.enqueue(FakeReply(text="ok", prompt_tokens=1))
    with caplog.at_level(logging.WARNING, logger="chat.domain.tokens"):
        finished(service, [])
    assert "the server reported 1 prompt tokens" in caplog.text
