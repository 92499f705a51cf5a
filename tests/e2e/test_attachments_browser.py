"""Attachments in a real browser: files put in the prompt box's own file input, uploaded through
Parley's gate to Streamlit's upload route, sent with the prompt (checked by the fake model's echo),
drawn with it (a thumbnail from the same origin, under the CSP; a document's chip), again after a
reload, with no element of an earlier run left stale; a file the server refuses is named and the
text goes back into the box."""

from __future__ import annotations

import pytest

from tests import files
from tests.e2e.conftest import Server
from tests.e2e.stale import assert_no_ghosts, watch_stale
from tests.e2e.test_browser import CHAT_INPUT, MESSAGES, reply_settled, sign_in
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser

FILE_INPUT = "[data-testid='stChatInput'] input[type='file']"
THUMBNAIL_LOADED = """(message) => {
    const images = [...message.querySelectorAll("img")];
    return images.length === 1 && images[0].complete && images[0].naturalWidth > 0
        ? [images[0].naturalWidth, images[0].naturalHeight, new URL(images[0].src).origin] : null;
}"""


CHIPS_ARE = """(names) => {
    const shown = [...document.querySelectorAll(".st-key-parley_waiting_files button")]
        .filter((b) => b.checkVisibility())
        .map((b) => b.innerText.replace("close", "").trim());
    return JSON.stringify(shown.sort()) === JSON.stringify(names);
}"""


def thumbnail(page, message) -> list:  # type: ignore[no-untyped-def]
    """The message's one picture once it has loaded: its natural width and height, and its origin."""
    return page.wait_for_function(f"(m) => ({THUMBNAIL_LOADED})(m)", arg=message.element_handle()).json_value()


def attach(page, *named: tuple[str, str, bytes]) -> None:  # type: ignore[no-untyped-def]
    """Files put in the prompt box's file input, as a drop or the file picker does; their uploads end."""
    page.locator(FILE_INPUT).set_input_files([{"name": n, "mimeType": t, "buffer": b} for n, t, b in named])
    for name, _, _ in named:
        page.locator("[data-testid='stChatInput']").get_by_text(name).wait_for()
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stChatInput'] [role='progressbar']\")")


def test_a_picture_and_a_document_are_sent_shown_and_kept(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    watch_stale(page)
    server.fake.enqueue(FakeReply(echo=True))
    sign_in(page, server)
    photo = files.picture(1600, 1200, fmt="JPEG", gps=True)
    attach(
        page,
        ("holiday.jpg", "image/jpeg", photo),
        ("minutes.pdf", "application/pdf", files.pdf(["The budget is approved."])),
    )
    box = page.locator(CHAT_INPUT)
    box.fill("What do these show?")
    box.press("Enter")
    reply_settled(page)

    parts = server.fake.chat_requests[-1].body["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["text", "text", "image_url"]
    assert "The budget is approved." in parts[0]["text"]
    reply = page.locator(MESSAGES).nth(1)
    reply.get_by_text("image: image/jpeg").wait_for()
    prompt = page.locator(MESSAGES).nth(0)
    width, height, origin = thumbnail(page, prompt)
    assert max(width, height) <= 240 and origin == server.url  # a small copy, from Parley itself
    assert "minutes.pdf" in prompt.inner_text() and "1 page" in prompt.inner_text()
    assert_no_ghosts(page, "sending a prompt with files")

    page.reload()
    prompt = page.locator(MESSAGES).nth(0)
    prompt.get_by_text("minutes.pdf").wait_for()
    assert thumbnail(page, prompt)[:2] == [width, height]
    assert_no_ghosts(page, "reloading a conversation with files")


def test_a_file_the_server_refuses_is_named_and_the_text_goes_back(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server)
    requests = len(server.fake.chat_requests)
    attach(page, ("notes.txt", "text/plain", b"\x7fELF\x02\x01\x01" + bytes(300)))  # a program, named as text
    box = page.locator(CHAT_INPUT)
    box.fill("Read my notes")
    box.press("Enter")

    page.get_by_text("notes.txt is not a file Parley takes").wait_for()
    page.wait_for_function(f"() => document.querySelector({CHAT_INPUT!r}).value === 'Read my notes'")
    assert len(server.fake.chat_requests) == requests


def test_a_model_that_sees_no_pictures_gives_the_message_back_with_its_files_above_the_box(
    page, server: Server
) -> None:  # type: ignore[no-untyped-def]
    watch_stale(page)
    sign_in(page, server)
    server.fake.sees_images = False
    try:
        attach(page, ("chart.png", "image/png", files.picture(300, 200)), ("data.csv", "text/csv", b"a,b\n1,2\n"))
        box = page.locator(CHAT_INPUT)
        box.fill("What does the chart say?")
        box.press("Enter")
        page.get_by_text("does not take pictures").wait_for()
        page.wait_for_function(f"() => document.querySelector({CHAT_INPUT!r}).value === 'What does the chart say?'")
        chips = page.locator(".st-key-parley_waiting_files button:visible")
        named = sorted(text.replace("close", "").strip() for text in chips.all_inner_texts())  # the icon's ligature
        assert named == ["chart.png", "data.csv"]

        chips.filter(has_text="chart.png").click()  # the picture stays behind; the table goes
        page.wait_for_function(CHIPS_ARE, arg=["data.csv"])
        server.fake.enqueue(FakeReply(echo=True))
        page.locator(CHAT_INPUT).press("Enter")
        page.locator(MESSAGES).nth(1).get_by_text("text: What does the chart say?").wait_for()  # the echo
        reply_settled(page)
        sent = server.fake.chat_requests[-1].body["messages"]
        user_parts = [m["content"] for m in sent if m["role"] == "user"]
        assert len(user_parts) == 1 and [p["type"] for p in user_parts[0]] == ["text", "text"]  # the CSV, the text
        assert chips.count() == 0 and page.locator(MESSAGES).count() == 2  # the refused turn replaced
        assert_no_ghosts(page, "sending again without the picture")
    finally:
        server.fake.sees_images = True
