"""chat/db/search.py through the service: every word, case-insensitive, the last a prefix, scoped to
the user, and the same answers on both engines."""

from __future__ import annotations

import pytest

from chat.turns.service import ChatService
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.integration.test_conversations import chat

# Database behaviour: every test here runs on SQLite and on PostgreSQL.
pytestmark = pytest.mark.both_engines


def test_search_matches_every_word_case_insensitively_with_the_last_as_a_prefix(
    service: ChatService, fake_openai: FakeOpenAI
) -> None:
    from chat.db.search import HIGHLIGHT_END, HIGHLIGHT_START

    fake_openai.enqueue(FakeReply(text="Paris is lovely in spring."), FakeReply(text="Berlin has many museums."))
    france = chat(service, "alice", "Tell me about Paris in Spring")
    chat(service, "alice", "Tell me about Berlin museums")
    hits = service.search("alice", "paris SPR")
    assert [(h.conversation_id, h.role) for h in hits] == [(france, "assistant"), (france, "user")]  # newest first
    assert f"{HIGHLIGHT_START}Paris{HIGHLIGHT_END}" in hits[0].snippet
    assert hits[0].conversation_title == "Tell me about Paris in Spring"
    assert service.search("alice", "paris museums") == []  # every word must match in one message
    assert [h.role for h in service.search("alice", "muse")] == ["assistant", "user"]
    assert service.search("alice", "  ") == [] and service.search("alice", '"*) OR (') == []


def test_search_is_scoped_to_the_user_and_skips_deleted_conversations(service: ChatService) -> None:
    mine = chat(service, "alice", "zebra crossing secrets")
    chat(service, "bob", "zebra for bob")
    assert [h.conversation_id for h in service.search("alice", "zebra")] == [mine]
    assert all(h.conversation_id != mine for h in service.search("bob", "zebra"))
    service.delete_conversation("alice", mine)
    assert service.search("alice", "zebra") == []


@pytest.mark.parametrize(
    ("message", "query", "found"),
    [
        ("Un café à Genève", "CAFE geneve", True),  # case and accents
        ("Привет, мир", "ПРИВЕТ мир", True),  # beyond ASCII
        ("see example.com/docs or mail a@b.org", "example docs", True),  # punctuation separates words
        ("see example.com/docs or mail a@b.org", "b org", True),
        ("version 1.2.3 of top-line growth", "line 3", True),
        ("snake_case_name", "case", True),
        ("Paris in spring", "par spring", False),  # only the last word is a prefix
        ("Paris in spring", "spring par", True),
        ("Paris in spring", "aris", False),  # a prefix, not a substring
        ("It's 42 degrees", "it s 42", True),
        ("It's 42 degrees", "degrees 4", True),
        ("It's 42 degrees", "degree 4", False),
    ],
)
def test_search_means_the_same_on_every_engine(service: ChatService, message: str, query: str, found: bool) -> None:
    conversation = chat(service, "alice", message)
    hits = service.search("alice", query)
    assert [(h.conversation_id, h.role) for h in hits] == ([(conversation, "user")] if found else [])
