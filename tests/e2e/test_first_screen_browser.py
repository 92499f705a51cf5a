"""A new user's first screen in a browser (issue 20, point 4): a greeting with prompts that send on
a click and the cursor in the prompt box; in offline demo mode, a one-line banner and a demo reply
that shows what Parley draws."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from chat.ui.welcome import SUGGESTIONS
from tests.e2e.conftest import Server, running_server
from tests.e2e.test_browser import CHAT_INPUT, MESSAGES, reply_settled, send, sign_in
from tests.fake_openai import FakeOpenAI, FakeReply

pytestmark = pytest.mark.browser

WELCOME = ".st-key-parley_welcome"


def test_a_new_chat_greets_offers_prompts_and_has_the_cursor_in_the_box(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "bob")
    expect(page.locator(WELCOME).get_by_text("What can I help with?")).to_be_visible()
    expect(page.locator(f"{WELCOME} button").filter(visible=True)).to_have_count(len(SUGGESTIONS))
    page.wait_for_function(f"() => document.activeElement?.matches({CHAT_INPUT!r})")

    label, prompt = SUGGESTIONS[2]
    server.fake.enqueue(FakeReply(text="Here is a draft."))
    page.get_by_role("button", name=label).click()
    page.get_by_text("Here is a draft.").wait_for()
    reply_settled(page)
    assert server.fake.chat_requests[-1].body["messages"][-1]["content"] == prompt
    expect(page.locator(MESSAGES).first).to_contain_text(prompt)
    expect(page.locator(WELCOME)).to_have_count(0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    """Parley with no model configured: its offline demo mode."""
    demo_env = {"OPENAI_BASE_URL": "", "OPENAI_API_KEY": "", "PARLEY_DEMO_TOKEN_DELAY": "0"}
    with running_server(tmp_path_factory.mktemp("demo"), fake_model, env_extra=demo_env) as (server, _process):
        yield server


def test_demo_mode_says_so_in_one_line_and_its_reply_shows_what_parley_draws(page, demo: Server) -> None:  # type: ignore[no-untyped-def]
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, demo, "alice")
    banner = page.locator("[data-testid='stCaptionContainer']").filter(has_text="Offline demo mode")
    expect(banner).to_be_visible()
    text = banner.locator("p").first
    line = float(text.evaluate("p => parseFloat(getComputedStyle(p).lineHeight)"))
    box = text.bounding_box()
    assert box is not None and box["height"] < 1.5 * line, (box, line)  # one line of text
    send(page, "Show me what you can draw")
    reply_settled(page)
    reply = page.locator(MESSAGES).last
    for selector in ("h3", "li", "pre code", "table", ".katex"):
        expect(reply.locator(selector).first).to_be_visible()
