"""A long conversation in the browser (issue 19, point 3): its last messages first, "Show earlier"
for the rest; a History hit far back opens the conversation at the message it found."""

from __future__ import annotations

import re

import pytest

from chat.ui.conversation import SHOWN
from tests.e2e.conftest import Server
from tests.e2e.test_browser import MESSAGES, reply_settled, send, sign_in
from tests.fake_openai import FakeReply
from tests.seeding import lengthened

pytestmark = pytest.mark.browser

TURNS = 40
EARLIER = "Show earlier messages"


def long_conversation(page, server: Server, username: str) -> str:  # type: ignore[no-untyped-def]
    """Signed in, one turn sent, and a copy of it `TURNS` turns long written beside it: its id."""
    sign_in(page, server, username)
    server.fake.enqueue(FakeReply(text="Answer 1"))
    send(page, "Question 1")
    reply_settled(page)
    return lengthened(server.database_url, username, TURNS)


# Each message's own text: a prompt's verbatim block, or a reply's first Markdown that is not a caption.
TEXTS = f"""() => [...document.querySelectorAll("{MESSAGES}")].map((message) => {{
    const prompt = message.querySelector(".parley-verbatim");
    const reply = [...message.querySelectorAll("[data-testid='stMarkdownContainer']")]
        .find((block) => !block.closest("[data-testid='stCaptionContainer']"));
    return (prompt || reply)?.innerText.trim() ?? "";
}})"""


def texts(page) -> list[str]:  # type: ignore[no-untyped-def]
    return list(page.evaluate(TEXTS))


def test_a_long_conversation_shows_its_last_messages_and_earlier_ones_on_request(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    conversation = long_conversation(page, server, "alice")
    page.goto(f"{server.url}/?c={conversation}")
    last = page.locator(MESSAGES).last.get_by_text(f"Answer {TURNS}", exact=True)
    last.wait_for()
    comes_on_screen(page, last)  # opened at its newest message: Streamlit keeps the page at its bottom
    assert page.locator(MESSAGES).count() == SHOWN
    assert texts(page)[0] == f"Question {TURNS - SHOWN // 2 + 1}"
    shown = SHOWN
    while shown < 2 * TURNS:  # each click: `SHOWN` more, above, down to the first
        assert page.get_by_role("button", name=EARLIER).inner_text().strip().endswith(f"({2 * TURNS - shown})")
        page.get_by_role("button", name=EARLIER).click()
        shown = min(shown + SHOWN, 2 * TURNS)
        page.wait_for_function(f'() => document.querySelectorAll("{MESSAGES}").length === {shown}')
        assert texts(page)[0] == f"Question {TURNS - shown // 2 + 1}" and texts(page)[-1] == f"Answer {TURNS}"
    assert page.get_by_role("button", name=EARLIER).count() == 0


def open_hit(page, answer: int):  # type: ignore[no-untyped-def]
    """From the History page, the search hit for "Answer <answer>" opened: its message."""
    page.get_by_role("link", name="History").click()
    box = page.get_by_role("textbox", name="Search your conversations")
    box.fill(f"Answer {answer}")
    box.press("Enter")
    # The hits include "Answer 30" to "Answer 39" for 3 (the last word may be cut short): the one asked for.
    snippet = page.locator(".parley-verbatim", has_text=re.compile(rf"^\s*Answer {answer}\s*$"))
    hit = page.locator("[data-testid='stVerticalBlock']").filter(has=snippet).last  # the innermost: its box
    hit.get_by_role("link", name="Open at this message").click()
    found = page.locator(MESSAGES).filter(has_text="The message you found")
    found.wait_for()
    page.locator(MESSAGES).last.get_by_text(f"Answer {TURNS}", exact=True).wait_for()  # drawn to the end
    assert f"Answer {answer}\n" in found.inner_text() + "\n"
    return found


# Within a pixel: the page scrolls by whole pixels, and a message's top may fall between two.
ON_SCREEN = "(el) => { const box = el.getBoundingClientRect(); return box.top > -1 && box.bottom < innerHeight + 1; }"


def comes_on_screen(page, element) -> None:  # type: ignore[no-untyped-def]
    """Waits until the whole of `element` is inside the window (the page scrolls to it by itself)."""
    page.wait_for_function(ON_SCREEN, arg=element.element_handle(), timeout=10_000)


def test_a_history_hit_far_back_opens_the_conversation_at_that_message(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    long_conversation(page, server, "bob")
    found = open_hit(page, 3)
    assert texts(page)[:2] == ["Question 3", "Answer 3"] and texts(page)[-1] == f"Answer {TURNS}"
    assert page.get_by_role("button", name=EARLIER).inner_text().strip().endswith("(4)")
    comes_on_screen(page, found)
    # A hit among the last messages, below the first screenful of them: the page scrolls to it.
    found = open_hit(page, TURNS - 2)
    assert texts(page)[0] == f"Question {TURNS - SHOWN // 2 + 1}"
    comes_on_screen(page, found)
