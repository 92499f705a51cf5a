"""The admin page in a browser at 1280 px (issue 20, point 8): every column of the users table in
view, times in the reader's own zone, a chart's one day a bar rather than a hairline, error
messages whole under readable headers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from chat.ui.wording import local_time
from tests.e2e.conftest import Server
from tests.e2e.test_browser import reply_settled, rows, send, sign_in
from tests.fake_openai import FakeReply
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

LONG_ERROR = "The upstream model refused this request because " + "of a long and detailed reason " * 6


def test_the_admin_page_fits_1280_px_and_reads_well(browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, timezone_id="Pacific/Auckland")
    page = context.new_page()
    try:
        server.fake.enqueue(FakeReply(text="A reply to count."), FakeReply(status=400, error_message=LONG_ERROR))
        sign_in(page, server, "admin")
        send(page, "Count me")
        reply_settled(page)
        send(page, "Fail me")
        wait_until(lambda: any(m.status == "error" for m in rows(server)), 10, "the failed reply in the log")
        page.get_by_role("link", name="Admin").click()
        page.get_by_role("heading", name="Users", exact=True).wait_for()

        grid = page.locator("[data-testid='stDataFrame']").first
        grid.wait_for()
        scroller = grid.locator(".dvn-scroller").first
        scroller.wait_for()
        page.wait_for_function(  # its columns laid out: the grid's header row holds its last column
            "() => document.querySelector('[data-testid=stDataFrame] .dvn-scroller')?.scrollWidth > 100"
        )
        sizes = scroller.evaluate("s => [s.scrollWidth, s.clientWidth]")
        assert sizes[0] <= sizes[1] + 1, sizes  # no column cut off or scrolled out of view
        # Errors: readable headers, the message whole (a table wraps it), the time in Auckland's zone.
        table = page.locator("[data-testid='stTable']").first
        for header in ("When", "User", "Model", "Kind", "Message"):
            expect(table.locator("th", has_text=header).first).to_be_visible()
        expect(table).to_contain_text(LONG_ERROR.strip()[-60:])
        failed = next(m for m in rows(server) if m.status == "error")
        expect(table).to_contain_text(local_time(failed.created_at, ZoneInfo("Pacific/Auckland")))
        # The measure's labels are words, and one day's bar is a bar.
        expect(page.get_by_text("Cost (USD)")).to_be_visible()
        expect(page.get_by_text("cost usd")).to_have_count(0)
        chart = "[data-testid='stVegaLiteChart']"
        bar = page.locator(f"{chart} svg path[aria-roledescription='bar'], {chart} .mark-rect path").first
        bar.wait_for()
        box = bar.bounding_box()
        assert box is not None and box["width"] > 10, box
    finally:
        context.close()
