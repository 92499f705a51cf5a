"""The sidebar's conversation list in a browser (issue 20, point 1): date groups in the reader's
time zone, one-line titles cut with an ellipsis, the open one marked quietly, a filter, a menu on
each conversation (the open one or not), and the account at the bottom."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import Server
from tests.e2e.test_browser import CHAT_INPUT, animations_done, idle, open_menu, send, sign_in
from tests.fake_openai import FakeReply
from tests.seeding import dated

pytestmark = pytest.mark.browser

LONG = "A very long conversation title that could never fit on one line of the sidebar, not even close"
SIDEBAR = "[data-testid='stSidebar']"


def shown(page, selector: str):  # type: ignore[no-untyped-def]
    """What the selector finds on screen: Streamlit keeps a widget a later run dropped mounted, hidden."""
    return page.locator(selector).filter(visible=True)


def item(page, cid: str):  # type: ignore[no-untyped-def]
    return shown(page, f"{SIDEBAR} [class*='st-key-parley_item_']").filter(
        has=page.locator(f".st-key-parley_open_{cid}")
    )


def title_button(page, cid: str):  # type: ignore[no-untyped-def]
    return shown(page, f"{SIDEBAR} .st-key-parley_open_{cid} button")


def listed(page):  # type: ignore[no-untyped-def]
    return shown(page, f"{SIDEBAR} [class*='st-key-parley_open_'] button")


def group_names(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [
        str(t)
        for t in shown(
            page, f"{SIDEBAR} .st-key-parley_conversations [data-testid='stCaptionContainer']"
        ).all_inner_texts()
    ]


def titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(t) for t in listed(page).all_inner_texts()]


def seeded(page, server: Server, username: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Four conversations, last used at times the test chose, seen after a reload. Each test that
    seeds has a user of its own: the module's tests share one server."""
    sign_in(page, server, username)  # the first run of the app makes the log's tables
    now = datetime.now(UTC)
    names = ["Two months back", "Four days back", "*stars* stay plain", LONG]
    ids = dated(
        server.database_url,
        username,
        [
            (names[0], now - timedelta(days=62)),
            (names[1], now - timedelta(days=4)),
            (names[2], now - timedelta(days=1, hours=1)),
            (names[3], now - timedelta(minutes=3)),
        ],
    )
    page.reload()
    page.locator(CHAT_INPUT).wait_for()
    expect(listed(page)).to_have_count(4)
    idle(page)
    return dict(zip(names, ids, strict=True))


def test_conversations_are_grouped_by_date_one_line_each(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    ids = seeded(page, server, "alice")
    now = datetime.now(UTC)
    # The browser runs in UTC (Playwright's default), and so do these dates. A conversation used
    # 25 hours ago is yesterday's, unless midnight falls in between.
    yesterday = (
        "Yesterday"
        if (now - timedelta(days=1, hours=1)).date() == now.date() - timedelta(days=1)
        else "Previous 7 days"
    )
    expect(listed(page)).to_have_count(4)
    assert group_names(page) == list(
        dict.fromkeys(["Today", yesterday, "Previous 7 days", f"{now - timedelta(days=62):%B %Y}"])
    )
    assert titles(page) == [LONG, "*stars* stay plain", "Four days back", "Two months back"]  # plain text

    heights = {round(item(page, cid).bounding_box()["height"]) for cid in ids.values()}  # type: ignore[index]
    assert len(heights) == 1, heights  # one line each, the long title too
    # The long title is cut with an ellipsis by one of its button's boxes, not wrapped.
    assert title_button(page, ids[LONG]).evaluate(
        """(button) => [button, ...button.querySelectorAll("*")].some(
            (box) => box.scrollWidth > box.clientWidth && getComputedStyle(box).textOverflow === "ellipsis")"""
    )
    text = shown(page, f"{SIDEBAR} .st-key-parley_open_{ids['Four days back']} button p").bounding_box()
    button = title_button(page, ids["Four days back"]).bounding_box()
    assert text is not None and button is not None and text["x"] - button["x"] < 16  # left-aligned

    # The open one is marked quietly: a background on its row, not a primary button.
    title_button(page, ids["Four days back"]).click()
    current = shown(page, f"{SIDEBAR} .st-key-parley_item_current")
    expect(current).to_have_count(1)
    expect(current.locator(f".st-key-parley_open_{ids['Four days back']}")).to_be_visible()
    assert current.evaluate("row => getComputedStyle(row).backgroundColor") not in ("rgba(0, 0, 0, 0)", "transparent")
    expect(shown(page, f"{SIDEBAR} button[kind='primary']")).to_have_count(0)

    # The account is at the bottom, below the list.
    account = (
        shown(page, f"{SIDEBAR} [data-testid='stMarkdownContainer']").filter(has_text="Signed in as").bounding_box()
    )
    last = item(page, ids["Two months back"]).bounding_box()
    assert account is not None and last is not None and account["y"] > last["y"]


def test_the_filter_keeps_the_titles_with_every_word(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    seeded(page, server, "bob")
    box = page.get_by_placeholder("Filter by title")
    box.fill("BACK")
    box.press("Enter")
    expect(listed(page)).to_have_count(2)
    idle(page)
    assert titles(page) == ["Four days back", "Two months back"]
    box.fill("back four")
    box.press("Enter")
    expect(listed(page)).to_have_count(1)
    idle(page)
    box.fill("nothing like it")
    box.press("Enter")
    expect(page.get_by_text("No conversation's title has those words.")).to_be_visible()
    idle(page)
    box.fill("")
    box.press("Enter")
    expect(listed(page)).to_have_count(4)


def test_a_conversation_that_is_not_open_is_renamed_exported_and_deleted_from_its_menu(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    ids = seeded(page, server, "admin")
    title_button(page, ids[LONG]).click()  # this one is open
    other = ids["Four days back"]
    current = f"{SIDEBAR} .st-key-parley_item_current .st-key-parley_open_{ids[LONG]}"
    expect(shown(page, current)).to_have_count(1)
    idle(page)

    open_menu(page, other)
    shown(page, f".st-key-parley_title_{other} input").fill("Renamed from its menu")
    shown(page, f".st-key-parley_rename_{other} button").click()
    expect(title_button(page, other)).to_have_text("Renamed from its menu")
    expect(shown(page, current)).to_have_count(1)

    idle(page)
    open_menu(page, other)
    with page.expect_download() as markdown:
        shown(page, f".st-key-parley_md_{other} button").click()
    assert Path(markdown.value.path()).read_text(encoding="utf-8").startswith("# Renamed from its menu")
    with page.expect_download() as document:
        shown(page, f".st-key-parley_json_{other} button").click()
    exported = json.loads(Path(document.value.path()).read_text(encoding="utf-8"))
    assert [c["title"] for c in exported["conversations"]] == ["Renamed from its menu"]

    shown(page, f".st-key-parley_delete_{other} button").click()
    confirm = shown(page, f".st-key-parley_delete_confirm_{other} button")
    confirm.wait_for()
    # The menu grows to hold the question and moves to fit it: a click at once can land beside.
    idle(page)
    animations_done(page)
    confirm.click()
    expect(title_button(page, other)).to_have_count(0)
    expect(shown(page, current)).to_have_count(1)  # the open conversation stays open
    assert "c=" + ids[LONG] in page.url


def test_a_new_conversation_takes_its_models_title_without_another_action(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="Start at the castle."))
    server.fake.enqueue_title(FakeReply(text="Lisbon in a day"))
    sign_in(page, server, "alice")
    send(page, "what should I see in lisbon in one day?")
    page.get_by_text("Start at the castle.").wait_for()
    expect(listed(page).filter(has_text="Lisbon in a day")).to_have_count(1)
    expect(listed(page).filter(has_text="what should I see")).to_have_count(0)
