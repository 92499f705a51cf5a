"""Sign-in sessions in a browser: copied cookies after sign-out and removal, a tab whose
session ended elsewhere, the admin URL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from chat.accounts.authfile import edit_auth_file
from chat.accounts.signins import token_hash
from chat.db.tables import AuthSession
from tests.e2e.conftest import Server
from tests.e2e.test_browser import (
    CHAT_INPUT,
    ENDED,
    EXPIRED,
    SIGNED_OUT,
    auth_cookie,
    login_form_shown,
    sign_in,
    signin_message,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.browser


def session_row(server: Server, token: str | None) -> AuthSession:
    assert token
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session:
            row = session.get(AuthSession, token_hash(token))
            assert row is not None
            return row
    finally:
        engine.dispose()


def open_with_cookie(browser, server: Server, cookie: str, path: str = "/"):  # type: ignore[no-untyped-def]
    """A fresh browser (another machine, say) that only has a copy of the cookie."""
    context = browser.new_context()
    context.add_cookies([{"name": "parley_session", "value": cookie, "url": server.url}])
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(server.url + path)
    return page


def test_a_copied_cookie_is_worthless_after_sign_out(page, browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server)
    copied = auth_cookie(page)
    assert copied
    elsewhere = open_with_cookie(browser, server, copied)
    elsewhere.locator(CHAT_INPUT).wait_for()  # the copy works while the sign-in lasts

    page.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(page)
    assert signin_message(page) == SIGNED_OUT
    # The copy already open is out at its next run, sent to the sign-in page with a sentence...
    elsewhere.get_by_role("link", name="History").click()
    assert login_form_shown(elsewhere)
    assert signin_message(elsewhere) == ENDED
    elsewhere.context.close()
    # ...and replaying it later is redirected, the cookie cleared by that very answer.
    replay = open_with_cookie(browser, server, copied, "/history")
    assert login_form_shown(replay)
    assert signin_message(replay) == EXPIRED
    assert auth_cookie(replay) is None
    replay.context.close()


def test_a_tab_left_behind_by_a_sign_out_never_ends_a_newer_sign_in(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Tab A's session ends (signed out in tab B); B signs in again. Nothing tab A does with
    its dead session touches the new one: the cookie is the server's alone to set."""
    sign_in(page, server)
    first = auth_cookie(page)
    other = page.context.new_page()
    other.set_default_timeout(30_000)
    other.goto(server.url)
    other.locator(CHAT_INPUT).wait_for()  # signed in by the shared cookie
    other.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(other)
    assert auth_cookie(other) is None
    sign_in(other, server)
    second = auth_cookie(other)
    assert second and second != first

    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))
    page.get_by_role("link", name="History").click()  # tab A: its websocket still carries the old session
    # Its run finds that session ended and sends the browser to /signin, which sees the newer
    # sign-in and lets tab A straight on to the page it was going to, on a new connection.
    page.wait_for_url(f"{server.url}/history")
    page.get_by_role("heading", name="History").wait_for()
    wait_until(lambda: sockets, 30, "tab A's new connection")
    assert auth_cookie(page) == second
    assert session_row(server, first).revoked_at is not None
    assert session_row(server, second).revoked_at is None
    other.reload()
    other.locator(CHAT_INPUT).wait_for()
    assert other.locator("#username").count() == 0
    other.close()


def test_a_copied_cookie_is_worthless_once_the_user_is_removed(page, browser, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "bob")
    copied = auth_cookie(page)
    assert copied
    with edit_auth_file(server.folder / "auth.yaml") as users:
        users.remove("bob")
    replay = open_with_cookie(browser, server, copied)
    assert login_form_shown(replay)
    assert signin_message(replay) == EXPIRED
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

    page.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(page)
    sign_in(page, server, "admin")
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("heading", name="Admin").wait_for()
    page.get_by_text("Read a conversation (audited)").wait_for()
