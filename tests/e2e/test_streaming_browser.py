"""The reply stream in a real browser: across a reload, a long reply rendered to its
end, one-click copy, and a server stopped mid-reply."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.conftest import Server, running_server
from tests.e2e.test_browser import MESSAGES, reply_settled, rows, send, sign_in
from tests.fake_openai import FakeOpenAI, FakeReply
from tests.waiting import wait_until

pytestmark = pytest.mark.browser


def last_reply(server: Server, username: str):  # type: ignore[no-untyped-def]
    return [m for m in rows(server) if m.username == username and m.role == "assistant"][-1]


def wait_for_status(server: Server, username: str, seconds: float = 15):  # type: ignore[no-untyped-def]
    return wait_until(
        lambda: (reply := last_reply(server, username)).status != "streaming" and reply,
        seconds,
        f"{username}'s reply to end in the log",
        every=0.1,
    )


def test_a_reply_keeps_streaming_across_a_reload(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"chunk{i}" for i in range(80))
    server.fake.enqueue(FakeReply(text=words, delay=0.06))
    sign_in(page, server, "bob")
    send(page, "Stream through a reload")
    page.get_by_text("chunk5", exact=False).wait_for()
    page.reload()
    # The page reopens the conversation and follows the same reply, still arriving.
    page.get_by_text("chunk5", exact=False).wait_for()
    assert "chunk79" not in page.locator(MESSAGES).last.inner_text()
    page.get_by_text("chunk79", exact=False).wait_for(timeout=20_000)
    reply = wait_for_status(server, "bob")
    assert (reply.status, reply.content) == ("complete", words)
    assert len(server.fake.chat_requests) >= 1 and server.fake.chat_requests[-1].body["messages"][-1] == {
        "role": "user",
        "content": "Stream through a reload",
    }


LONG_MARKDOWN = (
    "## A long reply\n\n"
    + "\n\n".join(f"Paragraph {n}: " + " ".join(f"word{n}x{i}" for i in range(60)) for n in range(30))
    + "\n\n```python\n"
    + "\n".join(f"value_{i} = {i} * 2  # line {i}" for i in range(40))
    + "\n```\n\n| Name | Value |\n|---|---|\n"
    + "\n".join(f"| row{i} | {i} |" for i in range(20))
    + "\n\nThe very last words."
)


def test_a_long_reply_renders_as_markdown_to_its_end(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text=LONG_MARKDOWN))  # as fast as the server can send it
    sign_in(page, server, "admin")
    send(page, "Something long, with code and a table")
    reply = page.locator(MESSAGES).last
    reply.get_by_text("The very last words.").wait_for(timeout=30_000)
    reply_settled(page)
    assert reply.locator("h2", has_text="A long reply").count() == 1
    reply.locator("pre code").first.wait_for()  # the highlighter loads lazily
    code = reply.locator("pre code").all_inner_texts()
    assert any("value_39 = 39 * 2" in block for block in code), code[:1]
    assert reply.locator("table tr").count() == 21  # header and 20 rows
    assert "word29x59" in reply.inner_text()
    saved = wait_for_status(server, "admin")
    assert saved.status == "complete" and saved.content == LONG_MARKDOWN
    assert (saved.completion_tokens or 0) > 2000


def test_copy_puts_the_raw_markdown_on_the_clipboard(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        markdown = "**Bold** and `code`, <b>not html</b>."
        server.fake.enqueue(FakeReply(text=markdown))
        sign_in(page, server, "alice")
        send(page, "Something to copy")
        reply_settled(page)
        page.locator(MESSAGES).last.get_by_role("button", name="Copy").click()
        page.locator(MESSAGES).last.get_by_role("button", name="Copied").wait_for()
        assert page.evaluate("navigator.clipboard.readText()") == markdown
    finally:
        context.close()


def test_a_server_stopped_mid_reply_saves_it_as_interrupted(browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with FakeOpenAI() as fake, running_server(tmp_path, fake) as (server, process):
        fake.enqueue(FakeReply(text=" ".join(f"w{i}" for i in range(200)), delay=0.05))
        page = browser.new_page()  # the browser is the run's: this page (and its context) closes either way
        try:
            page.set_default_timeout(30_000)
            sign_in(page, server, "alice")
            send(page, "Keep going")
            page.get_by_text("w5", exact=False).wait_for()
            process.send_signal(signal.SIGTERM)  # what `docker stop` and systemd send
            # uvicorn ends gracefully (Parley's lifespan saves the reply), then re-raises the signal so the
            # exit status says why it stopped; in Docker, as PID 1, the signal is ignored and it exits 0.
            assert process.wait(20) in (0, -signal.SIGTERM)
            reply = last_reply(server, "alice")
            assert reply.status == "interrupted" and reply.content.startswith("w0 w1 w2")
            assert reply.error_message is None and reply.finished_at is not None
        finally:
            page.close()
