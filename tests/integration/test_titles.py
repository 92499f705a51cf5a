"""A new conversation named by its model (chat/turns/titles.py), against the fake model server:
what the request carries, what is written, and what stays when it fails or the owner was faster."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from chat.db import store
from chat.domain.titles import TITLE_REQUEST
from chat.llm.client import build_model
from chat.turns.service import ChatService
from chat.turns.turn import Turn
from tests.conftest import make_settings, service_with, url_of
from tests.fake_openai import FakeOpenAI, FakeReply


def title_of(service: ChatService, cid: str) -> str:
    [summary] = [c for c in service.conversations("alice") if c.id == cid]
    return summary.title


def named(turn: Turn) -> str | None:
    """The turn's reply and then its conversation's naming, both finished."""
    assert turn.wait(10)
    assert turn.naming is not None and turn.naming.wait(10)
    return turn.naming.title


def first_turn(service: ChatService, prompt: str) -> Turn:
    return service.start_turn(username="alice", conversation_id=None, history=[], prompt=prompt)


@pytest.mark.both_engines
def test_the_first_reply_is_followed_by_one_request_for_a_title(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Take the tram up to the castle."), FakeReply(text="Pastéis de nata."))
    fake_openai.enqueue_title(FakeReply(text="Lisbon sightseeing"))
    turn = first_turn(service, "what should I see in lisbon?")
    assert named(turn) == "Lisbon sightseeing"
    assert title_of(service, turn.conversation_id) == "Lisbon sightseeing"
    [request] = fake_openai.title_requests
    messages = request.body["messages"]
    assert [m["content"] for m in messages] == [
        "what should I see in lisbon?",
        "Take the tram up to the castle.",
        TITLE_REQUEST,
    ]
    assert request.body["max_tokens"] == 24 and request.body["model"] == turn.model
    assert len(fake_openai.chat_requests) == 1  # the turn's own request, untouched

    second = service.start_turn(
        username="alice", conversation_id=turn.conversation_id, history=[], prompt="And to eat?"
    )
    assert second.wait(10) and second.naming is None  # named once
    assert len(fake_openai.title_requests) == 1


def test_an_untrusted_answer_becomes_one_plain_line(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue_title(
        FakeReply(text='Title: "**Quarterly** ![x](https://evil.example/x.png)"\nIgnore the rest')
    )
    turn = first_turn(service, "Summarise the quarter")
    assert named(turn) == "Quarterly !x(https://evil.example/x.png)"


@pytest.mark.parametrize(
    "answer",
    [
        FakeReply(status=500, error_message="title service down"),
        FakeReply(text="   "),
        FakeReply(text="Half a tit", reset_after=2),
    ],
    ids=["server error", "empty answer", "connection lost"],
)
def test_on_failure_the_first_words_stay(service: ChatService, fake_openai: FakeOpenAI, answer: FakeReply) -> None:
    fake_openai.enqueue_title(answer)
    turn = first_turn(service, "Plan the team offsite in March")
    assert named(turn) is None
    assert title_of(service, turn.conversation_id) == "Plan the team offsite in March"


def test_a_rename_made_while_the_model_thinks_wins(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue_title(FakeReply(text="The model's name", first_delay=1.0))
    turn = first_turn(service, "Draft a release note")
    assert turn.wait(10)
    assert service.rename_conversation("alice", turn.conversation_id, "My own name")
    assert turn.naming is not None and turn.naming.wait(10) and turn.naming.title is None
    assert title_of(service, turn.conversation_id) == "My own name"


def test_a_failed_reply_is_not_named(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(status=500, error_message="down"))
    turn = first_turn(service, "Anything at all")
    assert named(turn) is None
    assert fake_openai.title_requests == []


def test_the_title_request_is_not_counted_toward_the_quota(service: ChatService, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(FakeReply(text="Four words of reply.", prompt_tokens=10))
    fake_openai.enqueue_title(FakeReply(text="A title", prompt_tokens=500))
    turn = first_turn(service, "Count me")
    assert named(turn) == "A title"
    usage = service.quota_usage("alice")
    assert usage.tokens_last_day == (turn.prompt_tokens or 0) + (turn.completion_tokens or 0) < 500


def test_off_the_first_words_stay_and_nothing_is_asked(
    tmp_path: Path, fake_openai: FakeOpenAI, sessions: sessionmaker[Session]
) -> None:
    service = service_with(tmp_path, fake_openai, sessions, PARLEY_MODEL_TITLES="false")
    turn = first_turn(service, "Keep my words")
    assert turn.wait(10) and turn.naming is None
    assert fake_openai.title_requests == [] and title_of(service, turn.conversation_id) == "Keep my words"


def test_the_demo_model_names_a_conversation_too(tmp_path: Path, sessions: sessionmaker[Session]) -> None:
    settings = make_settings(tmp_path, DATABASE_URL=url_of(sessions))
    assert settings.demo_mode
    service = ChatService(settings, sessions, build_model(settings))
    turn = first_turn(service, "how do I bake sourdough bread at home?")
    assert named(turn) == "How do I bake sourdough bread"
    assert title_of(service, turn.conversation_id) == "How do I bake sourdough bread"
    assert store.title_from_prompt("how do I bake sourdough bread at home?") != "How do I bake sourdough bread"


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("<think>\nA short name, then.\n</think>\n\nLisbon in spring", "Lisbon in spring"),
        ("<think>still thinking", None),
    ],
    ids=["think block first", "nothing but thinking"],
)
def test_a_reasoning_models_think_block_is_not_the_title(
    service: ChatService, fake_openai: FakeOpenAI, answer: str, title: str | None
) -> None:
    fake_openai.enqueue_title(FakeReply(text=answer))
    turn = first_turn(service, "Plan a spring trip")
    assert named(turn) == title


def test_a_named_conversation_is_not_named_again_when_its_first_reply_is_regenerated(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue_title(FakeReply(text="Spring trip"), FakeReply(text="Another name"))
    turn = first_turn(service, "Plan a spring trip")
    assert named(turn) == "Spring trip"
    again = service.regenerate(username="alice", conversation_id=turn.conversation_id)
    assert named(again) is None
    assert len(fake_openai.title_requests) == 1 and title_of(service, turn.conversation_id) == "Spring trip"


def test_a_title_answer_held_open_is_cut_off(service: ChatService, fake_openai: FakeOpenAI) -> None:
    # Keep-alive comments and no words: the SDK's read timeout never fires; Parley's own limit does.
    fake_openai.enqueue_title(FakeReply(text="Never sent", stall_after=0, stall_seconds=30, keepalive_every=0.2))
    turn = first_turn(service, "Anything")
    assert turn.wait(10) and turn.naming is not None
    assert turn.naming.wait(service.settings.request_timeout + 5) and turn.naming.title is None
    assert title_of(service, turn.conversation_id) == "Anything"
