"""No Markdown image leaves the page: a reply, its reasoning, a prompt, a title or a server's
error, while streaming, reopened, in History and in the admin reader.

An attacker's server on 127.0.0.1 logs every request it gets; it must get none."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Server
from tests.e2e.listener import Listener
from tests.e2e.test_browser import CHAT_INPUT, MESSAGES, reply_settled, send, sign_in
from tests.fake_openai import FakeReply
from tests.unit.test_markdown import ATTACKS, BEACON

pytestmark = pytest.mark.browser


def attack(listener: Listener, where: str) -> str:
    """Every image form of the unit tests, each pointing at the listener."""
    return "\n\n".join(
        text.replace(BEACON, f"{listener.url}/{where}/{name.replace(' ', '-')}.png") for name, text in ATTACKS.items()
    )


def test_the_attackers_server_would_log_a_fetch(page, listener: Listener) -> None:  # type: ignore[no-untyped-def]
    # The control: an image drawn the ordinary way does reach the listener.
    page.set_content(f'<img src="{listener.url}/control.png">')
    page.wait_for_function("() => document.images[0].complete")
    assert "/control.png" in listener.paths
    listener.paths.clear()


def test_no_image_is_fetched_anywhere_a_message_is_drawn(  # type: ignore[no-untyped-def]
    page, browser, server: Server, listener: Listener
) -> None:
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url) if listener.url in request.url else None)
    # A reply that streams slowly enough to be drawn many times, with reasoning before it.
    server.fake.enqueue(
        FakeReply(text=attack(listener, "reply"), delay=0.002, reasoning=attack(listener, "reasoning")),
        FakeReply(status=400, error_message=f"refused ![error]({listener.url}/error.png)"),
    )
    sign_in(page, server)
    send(page, f"![title]({listener.url}/title.png) Quarterly numbers " + attack(listener, "prompt"))
    reply_settled(page)
    reply = page.locator(MESSAGES).nth(1)
    assert reply.get_by_role("link", name="image: x").first.get_attribute("href", timeout=5_000)
    send(page, "And again")
    page.get_by_text("refused").wait_for()

    page.reload()  # drawn from the log, title in the sidebar
    page.locator(CHAT_INPUT).wait_for()
    page.get_by_role("button", name="Quarterly numbers", exact=False).first.click()
    page.locator(MESSAGES).nth(3).wait_for()

    page.get_by_role("link", name="History").click()
    page.get_by_role("textbox", name="Search your conversations").fill("Quarterly")
    page.get_by_role("textbox", name="Search your conversations").press("Enter")
    page.get_by_text("Open at this message").first.wait_for()

    admin = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    admin.on("request", lambda request: fetched.append(request.url) if listener.url in request.url else None)
    sign_in(admin, server, "admin")
    admin.get_by_role("link", name="Admin").click()
    admin.get_by_role("button", name="Open read-only (recorded in the audit log)").click()
    admin.locator(MESSAGES).nth(1).locator("a", has_text="image: x").filter(visible=True).first.wait_for()
    # Everything is drawn: anything fetched would have been asked for by now.
    for tab in (page, admin):
        tab.wait_for_function("() => [...document.images].every((image) => image.complete)")
    assert fetched == [] and listener.paths == []
    assert admin.locator(f"img[src^='{listener.url}']").count() == 0
    assert page.locator(f"img[src^='{listener.url}']").count() == 0
    admin.context.close()
