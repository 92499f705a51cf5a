"""Accessibility (issue 20, point 7): axe-core, the npm package pinned in tests/a11y/, run on the
chat, History, account and admin pages; no serious or critical violation. Plus what axe cannot see:
each message says whose it is, and the keyboard reaches the prompt box without walking the list."""

from __future__ import annotations

import pytest

from tests.e2e.axe import serious
from tests.e2e.conftest import Server
from tests.e2e.test_browser import CHAT_INPUT, MESSAGES, idle, reply_settled, send, sign_in
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser


def test_no_serious_violation_on_any_page(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="## A heading\n\n- a list item\n\n`code` and **bold**."))
    sign_in(page, server, "admin")
    found = {"new chat": serious(page)}
    send(page, "Check my accessibility")
    reply_settled(page)
    idle(page)
    # Regenerated: the reply's version switcher (icon-only arrows) is audited too.
    server.fake.enqueue(FakeReply(text="Again, with **bold**."))
    page.locator(MESSAGES).last.get_by_role("button", name="Regenerate").click()
    page.locator(MESSAGES).last.get_by_role("button", name="Previous version").wait_for()
    reply_settled(page)
    idle(page)
    found["chat"] = serious(page)
    for name, title in (("History", "History"), ("Account", "Account"), ("Admin", "Admin")):
        page.get_by_role("link", name=name).click()
        page.get_by_role("heading", name=title).first.wait_for()
        idle(page)
        found[name] = serious(page)
    assert {page_name: v for page_name, v in found.items() if v} == {}


def test_messages_say_whose_they_are_and_the_keyboard_skips_to_the_prompt(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="Labelled."))
    sign_in(page, server, "bob")
    send(page, "Who said this?")
    reply_settled(page)
    labels = page.locator(f"{MESSAGES} [role='group']").evaluate_all(
        "(e) => e.map((m) => m.getAttribute('aria-label'))"
    )
    assert labels == ["Chat message from user", "Chat message from assistant"]
    page.reload()  # a page just opened: nothing has the focus
    page.locator(CHAT_INPUT).wait_for()
    page.locator("#parley-skip").wait_for(state="attached")
    page.keyboard.press("Tab")  # the first stop on the page
    focused = page.evaluate("() => document.activeElement?.textContent?.trim()")
    assert focused == "Skip to the message box"
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => document.activeElement?.matches({CHAT_INPUT!r})")
