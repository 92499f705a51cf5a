"""Long replies on a phone (issue 20, point 5): at 390 px wide the page never scrolls sideways;
a wide table, a long code line and display maths scroll inside their message; headings inside a
message are smaller than the page's title."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_browser import MESSAGES, reply_settled, send, sign_in
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser

COLUMNS = 10
WIDE_REPLY = (
    "# A heading in a reply\n\n"
    + "| "
    + " | ".join(f"Column {n}" for n in range(COLUMNS))
    + " |\n"
    + "|"
    + "---|" * COLUMNS
    + "\n"
    + "| "
    + " | ".join(f"value-{n}-long" for n in range(COLUMNS))
    + " |\n\n"
    + "```python\nresult = "
    + " + ".join(f"term_{n}" for n in range(30))
    + "\n```\n\n"
    + "$$\n\\sum_{n=1}^{100} "
    + " + ".join(f"a_{{{n}}} x^{{{n}}}" for n in range(12))
    + "\n$$\n\n"
    + "A link with no place to break: https://example.com/"
    + "a" * 120
)


def scrolls_inside(page, selector: str) -> bool:  # type: ignore[no-untyped-def]
    """The element is wider than its box (its content scrolls) and is cut by its own overflow."""
    return bool(
        page.locator(MESSAGES)
        .last.locator(selector)
        .first.evaluate(
            """(e) => e.scrollWidth > e.clientWidth + 1 && ["auto", "scroll"].includes(getComputedStyle(e).overflowX)"""
        )
    )


def test_a_wide_reply_scrolls_inside_its_message_not_the_page(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 390, "height": 844})
    server.fake.enqueue(FakeReply(text=WIDE_REPLY))
    sign_in(page, server, "bob")
    send(page, "Something wide, please")
    reply_settled(page)
    page.locator(MESSAGES).last.locator(".katex-display").first.wait_for()
    width = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], width  # the page never scrolls sideways
    assert scrolls_inside(page, "table")
    assert scrolls_inside(page, "pre")
    assert scrolls_inside(page, ".katex-display")
    heading = float(page.locator(MESSAGES).last.locator("h1").evaluate("h => parseFloat(getComputedStyle(h).fontSize)"))
    body = float(
        page.locator(MESSAGES).last.locator("p").first.evaluate("p => parseFloat(getComputedStyle(p).fontSize)")
    )
    assert body < heading <= 1.6 * body  # a heading, a step above the text, not a page title
