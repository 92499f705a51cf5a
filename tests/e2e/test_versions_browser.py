"""Versions in the browser (issue 20, point 3): editing a prompt that is not the last, the "2 / 2"
switcher on it and on a regenerated reply, and the branch the next request carries (checked at
the fake model server). Each path watched for ghosts (`tests/e2e/stale.py`)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.stale import assert_no_ghosts, page_now
from tests.e2e.test_browser import MESSAGES, idle, runs_ended, send
from tests.e2e.test_stale_browser import all_settled, settled_turn, signed_in, words
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser


AVATARS = ("face", "smart_toy")  # the icons' ligature text, first in a message's inner text
THREE_TURNS = ["Question 1", "Answer 1.", "Question 2", "Answer 2.", "Question 3", "Answer 3."]


def shown(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Each message's first line of text, in order."""
    lines = [[line for line in text.splitlines() if line.strip() and line not in AVATARS]
             for text in page.locator(MESSAGES).all_inner_texts()]  # fmt: skip
    return [found[0].strip() for found in lines]


def sent(server: Server) -> list[str]:
    return [m["content"] for m in server.fake.chat_requests[-1].body["messages"][1:]]


def test_an_earlier_prompt_is_edited_and_its_versions_switch(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "alice")
    for n in (1, 2, 3):
        settled_turn(page, server, f"Question {n}", f"Answer {n}.")
    page.reload()  # a full run: the first turns are the earlier messages' fragment's now
    page.locator(MESSAGES).nth(5).wait_for()
    idle(page)

    first = page.locator(MESSAGES).first
    mark = page_now(page)
    first.get_by_role("button", name="Edit").click()
    box = first.get_by_role("textbox", name="Edit your message")
    box.wait_for()
    idle(page)  # a quick run can end unseen by the run watch
    box.fill("Question 1, put better")
    server.fake.enqueue(FakeReply(text=words("better", 40), delay=0.02))
    ended = runs_ended(page)
    first.get_by_role("button", name="Send").click()
    page.locator(MESSAGES).last.get_by_text("better39", exact=False).wait_for()
    all_settled(page, ended)
    assert shown(page) == ["Question 1, put better", words("better", 40)]
    assert sent(server) == ["Question 1, put better"]
    assert_no_ghosts(page, "editing the first of three prompts", since=mark)

    first = page.locator(MESSAGES).first
    assert "2 / 2" in first.inner_text()
    mark = page_now(page)
    first.get_by_role("button", name="Previous version").click()
    page.locator(MESSAGES).nth(5).get_by_text("Answer 3.").wait_for()
    idle(page)  # a quick run can end unseen by the run watch
    assert shown(page) == THREE_TURNS
    assert "1 / 2" in page.locator(MESSAGES).first.inner_text()
    assert_no_ghosts(page, "choosing the first version of a prompt", since=mark)

    idle(page)
    server.fake.enqueue(FakeReply(text="Answer 4."))
    ended = runs_ended(page)
    send(page, "Question 4")
    page.locator(MESSAGES).last.get_by_text("Answer 4.").wait_for()
    all_settled(page, ended)
    assert sent(server) == [*THREE_TURNS, "Question 4"]


def test_a_regenerated_reply_switches_back_to_its_first_version(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    signed_in(page, server, "bob")
    settled_turn(page, server, "Name a colour", "Teal.")
    server.fake.enqueue(FakeReply(text="Ochre."))
    ended = runs_ended(page)
    page.locator(MESSAGES).last.get_by_role("button", name="Regenerate").click()
    page.locator(MESSAGES).last.get_by_text("Ochre.").wait_for()
    all_settled(page, ended)
    reply = page.locator(MESSAGES).last
    assert "2 / 2" in reply.inner_text() and reply.get_by_role("button", name="Next version").is_disabled()

    mark = page_now(page)
    reply.get_by_role("button", name="Previous version").click()
    page.locator(MESSAGES).last.get_by_text("Teal.").wait_for()
    idle(page)  # a quick run can end unseen by the run watch
    assert shown(page) == ["Name a colour", "Teal."] and "1 / 2" in page.locator(MESSAGES).last.inner_text()
    assert_no_ghosts(page, "choosing a reply's first version", since=mark)
    # The arrows are icons on screen, their names for a screen reader only.
    arrow = page.locator(MESSAGES).last.get_by_role("button", name="Next version")
    label = arrow.locator("[data-testid='stMarkdownContainer']")
    box = label.bounding_box()
    assert box is not None and box["width"] <= 1 and box["height"] <= 1
