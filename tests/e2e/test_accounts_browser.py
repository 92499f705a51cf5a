"""Sign-in sessions in a browser: copied cookies after sign-out and removal, the admin URL."""

from __future__ import annotations

import pytest

from chat.accounts.authfile import edit_auth_file
from tests.e2e.conftest import Server
from tests.e2e.test_browser import CHAT_INPUT, auth_cookie, login_form_shown, sign_in, wait_for_cookie

pytestmark = pytest.mark.browser


def open_with_cookie(browser, server: Server, cookie: str):  # type: ignore[no-untyped-def]
    """A fresh browser (another machine, say) that only has a copy of the cookie."""
    context = browser.new_context()
    context.add_cookies([{"name": "parley_session", "value": cookie, "url": server.url}])
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url)
    return page


def test_a_copied_cookie_is_worthless_after_sign_out(page, browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server)
    assert wait_for_cookie(page, present=True)
    copied = auth_cookie(page)
    assert copied
    elsewhere = open_with_cookie(browser, server, copied)
    elsewhere.locator(CHAT_INPUT).wait_for()  # the copy works while the sign-in lasts

    page.get_by_role("button", name="Sign out").click()
    assert login_form_shown(page)
    # The copy already open is out at its next run...
    elsewhere.get_by_role("link", name="History").click()
    assert login_form_shown(elsewhere)
    elsewhere.get_by_text("Your sign-in has ended").wait_for()
    elsewhere.context.close()
    # ...and replaying it later gets the login form, and the cookie is deleted.
    replay = open_with_cookie(browser, server, copied)
    assert login_form_shown(replay)
    replay.get_by_text("Your sign-in has expired or is no longer valid").wait_for()
    assert wait_for_cookie(replay, present=False)
    replay.context.close()


def test_a_stale_tab_leaves_a_newer_sign_in_alone(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Tab A's session ends (signed out in tab B); B signs in again. A's next run deletes only
    the cookie of the sign-in it belonged to, so B stays signed in across a reload."""
    sign_in(page, server)
    assert wait_for_cookie(page, present=True)
    first = auth_cookie(page)
    other = page.context.new_page()
    other.set_default_timeout(30_000)
    other.goto(server.url)
    other.locator(CHAT_INPUT).wait_for()  # signed in by the shared cookie
    other.get_by_role("button", name="Sign out").click()
    assert login_form_shown(other)
    assert wait_for_cookie(other, present=False)
    sign_in(other, server)
    assert wait_for_cookie(other, present=True)
    second = auth_cookie(other)
    assert second and second != first

    handled = page.evaluate("() => [...(window.parleyCookieWrites ?? [])]")  # the cookie writes tab A ran
    page.get_by_role("link", name="History").click()  # tab A: its session has ended
    assert login_form_shown(page)
    page.get_by_text("Your sign-in has ended").wait_for()
    # The cookie component has run the delete (it notes each write it runs, then does it or not).
    page.wait_for_function(
        "(handled) => [...(window.parleyCookieWrites ?? [])].some((s) => !handled.includes(s))", arg=handled
    )
    assert auth_cookie(page) == second
    other.reload()
    other.locator(CHAT_INPUT).wait_for()
    assert other.get_by_role("textbox", name="Username").count() == 0
    other.close()


def test_a_copied_cookie_is_worthless_once_the_user_is_removed(page, browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "bob")
    assert wait_for_cookie(page, present=True)
    copied = auth_cookie(page)
    assert copied
    with edit_auth_file(server.folder / "auth.yaml") as users:
        users.remove("bob")
    replay = open_with_cookie(browser, server, copied)
    assert login_form_shown(replay)
    replay.context.close()
    page.reload()
    assert login_form_shown(page)


def test_the_admin_page_is_only_for_admins(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "alice")
    assert page.get_by_role("link", name="Admin").count() == 0
    page.goto(f"{server.url}/admin")
    # For a user no page has that URL: Streamlit says so over the default page.
    page.get_by_role("dialog").get_by_text("Page not found").wait_for()
    assert page.get_by_role("heading", name="Admin").count() == 0
    assert page.get_by_text("Read a conversation").count() == 0
    page.keyboard.press("Escape")
    page.get_by_role("dialog").wait_for(state="detached")

    page.get_by_role("button", name="Sign out").click()
    assert login_form_shown(page)
    sign_in(page, server, "admin")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("heading", name="Admin").wait_for()
    page.get_by_text("Read a conversation (audited)").wait_for()
