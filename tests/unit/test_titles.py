"""A model's answer made a title (chat/domain/titles.py): untrusted text, one plain line, capped."""

from __future__ import annotations

import pytest

from chat.domain.titles import TITLE_LENGTH, TITLE_REQUEST, clean_title, demo_title, title_request


@pytest.mark.parametrize(
    ("answer", "title"),
    [
        ("Paris travel tips", "Paris travel tips"),
        ('"Paris travel tips."', "Paris travel tips"),
        ("Title: **Paris** _travel_ tips", "Paris travel tips"),
        ("# Heading\nsecond line ignored", "Heading"),
        ("\n\n  «Les voyages»  \n", "Les voyages"),
        ("<img src=x onerror=alert(1)>Tips", "img src=x onerror=alert(1)Tips"),
        ("![x](https://evil.example/p.png) Tips", "!x(https://evil.example/p.png) Tips"),
        ("Tab\there\x07bell\x00nul", "Tab here bell\ufffdnul"),
        ("Is it 3.5?", "Is it 3.5?"),
        ("", None),
        ("  \n ** \n", None),
        ('""', None),
    ],
)
def test_an_answer_becomes_one_plain_line(answer: str, title: str | None) -> None:
    assert clean_title(answer) == title


def test_a_long_answer_is_cut_at_a_word_within_the_length() -> None:
    title = clean_title("word " * 40)
    assert title is not None and len(title) <= TITLE_LENGTH and title.endswith("word…")
    unbroken = clean_title("x" * 500)
    assert unbroken is not None and len(unbroken) == TITLE_LENGTH


def test_the_request_carries_the_prompt_the_reply_start_and_the_question_last() -> None:
    messages = title_request("What is Parley?", "A chat app. " * 500)
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0]["content"] == "What is Parley?" and len(messages[1]["content"]) == 1_000
    assert messages[-1]["content"] == TITLE_REQUEST


def test_the_demo_model_names_a_conversation_by_its_first_words() -> None:
    assert demo_title("what is the capital of france, and why?") == "What is the capital of france"
    assert demo_title("**hi**") == "Hi"
    assert demo_title("   ") == "A new conversation"
