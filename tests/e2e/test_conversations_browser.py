"""Conversations in a real browser: reload, a second tab, someone else's link, switching mid-stream."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Server
from tests.e2e.test_browser import (
    CHAT_INPUT,
    MESSAGES,
    open_menu,
    reply_settled,
    rows,
    run_ended_after,
    runs_ended,
    send,
    sign_in,
    watch_runs,
)
from tests.fake_openai import FakeReply
from tests.waiting import wait_until

pytestmark = pytest.mark.browser


def conversation_url(page) -> str:  # type: ignore[no-untyped-def]
    page.wait_for_function("() => new URLSearchParams(location.search).has('c')", timeout=10_000)
    return str(page.evaluate("() => location.href"))


def test_reload_and_a_second_tab_reopen_the_conversation(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="An answer worth keeping."))
    sign_in(page, server)
    send(page, "Keep this conversation")
    page.get_by_text("An answer worth keeping.").wait_for()
    url = conversation_url(page)
    page.reload()
    page.get_by_text("An answer worth keeping.").wait_for()
    expect(page.locator(MESSAGES)).to_have_count(2, timeout=30_000)
    second = page.context.new_page()  # same browser, same sign-in cookie
    second.goto(url)
    second.get_by_text("An answer worth keeping.").wait_for()
    expect(second.locator(MESSAGES).nth(0)).to_contain_text("Keep this conversation")  # drawn a moment apart


def test_someone_elses_link_shows_not_found(browser, page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="Only for Alice."))
    sign_in(page, server)
    send(page, "Alice's own question")
    page.get_by_text("Only for Alice.").wait_for()
    url = conversation_url(page)
    other = browser.new_context().new_page()
    sign_in(other, server, "bob")
    other.goto(url)
    other.get_by_text("Conversation not found").wait_for()
    other.locator(CHAT_INPUT).wait_for()
    assert "Only for Alice." not in other.content() and "Alice's own question" not in other.content()
    other.context.close()


def test_switching_conversations_mid_stream_loses_nothing(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"part{i}" for i in range(60))
    server.fake.enqueue(FakeReply(text=words, delay=0.05))
    watch_runs(page)
    sign_in(page, server, "admin")
    send(page, "A long one, please")
    page.get_by_text("part3", exact=False).wait_for()
    ended = runs_ended(page)
    page.get_by_role("button", name="New chat").click()
    page.locator(MESSAGES).first.wait_for(state="detached")
    run_ended_after(page, ended)  # the new chat's run is over: the sidebar is drawn for good
    page.get_by_role("button", name="A long one, please", exact=True).click()
    page.get_by_text("part59", exact=False).wait_for(timeout=20_000)
    reply = wait_until(
        lambda: (
            (last := [m for m in rows(server) if m.username == "admin" and m.role == "assistant"][-1]).status
            != "streaming"
            and last
        ),
        10,
        "the reply's end in the log",
        every=0.1,
    )
    assert (reply.status, reply.content) == ("complete", words)


def test_exports_download_from_the_sidebar(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    import json

    server.fake.enqueue(FakeReply(text="Worth exporting."))
    watch_runs(page)
    sign_in(page, server, "admin")
    send(page, "Export me")
    page.get_by_text("Worth exporting.").wait_for()
    reply_settled(page)
    # A download's data is made when its button is clicked. Under load, a click right after the reply
    # started no download twice in about 30 runs; the clicks now wait until no run is under way.
    run_ended_after(page, 0)
    cid = conversation_url(page).split("c=")[1]
    open_menu(page, cid)
    with page.expect_download() as markdown:
        page.get_by_role("button", name="Markdown").click()
    text = Path(markdown.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# Export me") and "Worth exporting." in text
    with page.expect_download() as everything:
        page.get_by_role("button", name="Export all (JSON)").click()
    document = json.loads(Path(everything.value.path()).read_text(encoding="utf-8"))
    assert document["user"] == "admin"
    assert [m["content"] for m in document["conversations"][-1]["messages"]] == ["Export me", "Worth exporting."]
