"""A prompt on screen exactly as typed (chat/ui/verbatim.py): line breaks, indentation and tabs kept,
nothing of it HTML, Markdown or math, selected and copied as typed, in the replies' font, and
wrapped at a phone's width rather than widening the page."""

from __future__ import annotations

import os

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_browser import MESSAGES, reply_settled, send, sign_in
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser

TYPED = (
    "    def f(a, b, c):\n"
    "        return a*b*c  # _x_\n"
    "\n"
    "\tTab\there\n"
    "# not a heading\n"
    "<b>bold</b> <img src=x onerror=alert(1)>\n"
    "![x](http://127.0.0.1:9/x.png) $x$\n"
    "Line one\n"
    "line two " + "https://example.com/" + "a" * 160
)
BLOCK = ".parley-verbatim"
SHOTS = os.environ.get("PARLEY_SCREENSHOTS")  # a folder to keep the screenshots in, when set

# What the block shows and what a selection of it copies; what it contains besides text.
READ = """(block) => {
    const range = document.createRange();
    range.selectNodeContents(block);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
    const copied = selection.toString();
    selection.removeAllRanges();
    return { shown: block.innerText, copied, elements: block.querySelectorAll("*").length };
}"""
NO_SIDEWAYS_SCROLL = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_a_prompt_is_drawn_as_typed_at_desktop_and_phone_width(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="A reply with *emphasis*."))
    page.set_viewport_size({"width": 1280, "height": 900})
    sign_in(page, server)
    send(page, TYPED)
    reply_settled(page)
    prompt, reply = page.locator(MESSAGES).nth(0), page.locator(MESSAGES).nth(1)
    block = prompt.locator(BLOCK)
    read = block.evaluate(READ)
    assert read == {"shown": TYPED, "copied": TYPED, "elements": 0}
    assert prompt.locator("b, img, em, strong, h1, a, .katex, code").count() == 0
    # The replies' font and size, not a code box.
    font = "(e) => { const s = getComputedStyle(e); return [s.fontFamily, s.fontSize]; }"
    assert block.evaluate(font) == reply.locator("p").first.evaluate(font)
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/verbatim-1280.png", full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()  # as a phone opens it: the sidebar folded away, the conversation drawn from the log
    block = page.locator(MESSAGES).nth(0).locator(BLOCK)
    block.wait_for()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert block.evaluate("(b) => b.scrollWidth <= b.clientWidth")  # wrapped inside its message too
    assert block.evaluate(READ)["shown"] == TYPED
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/verbatim-390.png", full_page=True)

    # History: the prompt's words as typed, the match in bold, the rest text.
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("link", name="History").click()
    search = page.get_by_role("textbox", name="Search your conversations")
    search.fill("heading")
    search.press("Enter")
    hit = page.locator(BLOCK).first
    hit.wait_for()
    assert hit.locator("strong").all_inner_texts() == ["heading"]
    assert hit.locator(":not(strong)").count() == 0
    assert "# not a heading\n<b>bold</b>" in hit.inner_text()
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/verbatim-history.png", full_page=True)
