"""Sign-in over HTTP as a browser lives it (issue 18): the forced first password change, a
tab whose session ended elsewhere trying to send, expiry while a tab sits idle, the
HttpOnly cookie out of reach of every script (this page's and a page on another port of
the same host), and axe-core on the sign-in page."""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import create_engine, update

from chat.accounts.authfile import edit_auth_file, load_users
from chat.accounts.signins import token_hash
from chat.db.tables import AuthSession
from tests.conftest import PASSWORDS
from tests.e2e.axe import audit
from tests.e2e.conftest import Server
from tests.e2e.test_browser import (
    CHAT_INPUT,
    ENDED,
    SIGNED_OUT,
    auth_cookie,
    fill_signin,
    login_form_shown,
    rows,
    send,
    sign_in,
    signin_message,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

NOT_SENT = ENDED + " Your last message was not sent; it is below to copy."


def add_user(server: Server, username: str, password: str, *, must_change_password: bool = False) -> None:
    with edit_auth_file(server.folder / "auth.yaml") as users:
        users.add(
            username,
            bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode(),
            name=username.title(),
            roles=["user"],
            must_change_password=must_change_password,
        )


def idle_for(server: Server, token: str, hours: float) -> None:
    """The session was last seen `hours` ago (the idle limit is 8 hours by default)."""
    engine = create_engine(server.database_url)
    try:
        with engine.begin() as connection:
            moved = connection.execute(
                update(AuthSession)
                .where(AuthSession.token_hash == token_hash(token))
                .values(last_seen_at=datetime.now(UTC) - timedelta(hours=hours))
            )
            assert moved.rowcount == 1
    finally:
        engine.dispose()


def no_connection_error(page) -> None:  # type: ignore[no-untyped-def]
    assert page.get_by_text("Connection error").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0


def test_a_printed_password_is_changed_before_anything_else(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    add_user(server, "erin", "printed-password-1", must_change_password=True)
    page.goto(server.url)
    fill_signin(page, "erin", "printed-password-1")
    # Parley's own page, before anything of the app: every URL leads back to it.
    page.wait_for_url("**/password")
    page.get_by_text("Your password was printed").wait_for()
    for path in ("/", "/history"):
        page.goto(server.url + path)
        page.wait_for_url("**/password")
    assert page.locator(CHAT_INPUT).count() == 0
    first_cookie = auth_cookie(page)
    page.get_by_label("Current password").fill("printed-password-1")
    page.get_by_label("New password", exact=True).fill("printed-password-1")
    page.get_by_label("Repeat the new password").fill("printed-password-1")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("The new password must differ from the current one.").wait_for()
    page.get_by_label("Current password").fill("printed-password-1")
    page.get_by_label("New password", exact=True).fill("erins-own-password-2")
    page.get_by_label("Repeat the new password").fill("erins-own-password-2")
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password was changed").wait_for()  # the account page says so
    users = load_users(server.folder / "auth.yaml")
    assert not users["erin"].must_change_password
    assert bcrypt.checkpw(b"erins-own-password-2", users["erin"].password_hash.encode())
    assert auth_cookie(page) not in (None, first_cookie)  # signed in again, under a new cookie
    # The new sign-in goes on across a reload, into the chat.
    page.goto(server.url)
    page.locator(CHAT_INPUT).wait_for()
    # And the new password is the one that signs in.
    page.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(page)
    fill_signin(page, "erin", "printed-password-1")
    page.get_by_text("Incorrect username or password.").wait_for()
    fill_signin(page, "erin", "erins-own-password-2")
    page.locator(CHAT_INPUT).wait_for()


def test_a_tab_whose_session_ended_in_another_keeps_its_prompt_to_copy(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "alice")
    other = page.context.new_page()
    other.set_default_timeout(30_000)
    other.goto(server.url)
    other.locator(CHAT_INPUT).wait_for()
    other.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(other)
    assert signin_message(other) == SIGNED_OUT

    prompt = "A long thought I typed before noticing: keep it <b>safe</b> & whole"
    send(page, prompt)  # tab A still shows the chat: it tries to send
    page.get_by_text(NOT_SENT).wait_for()
    shown = page.locator("[data-testid='stCode']")
    assert prompt in shown.inner_text()
    page.locator("[data-test-script-state='notRunning']").wait_for()  # the run is over: nothing more comes
    no_connection_error(page)
    assert page.locator(CHAT_INPUT).count() == 0
    assert "/signin" not in page.url  # the tab stays, so the prompt can be copied
    assert not [m for m in rows(server) if m.content == prompt]  # nothing was sent
    other.close()
    # "Sign in again" opens the sign-in page beside the tab that holds the prompt.
    again = page.get_by_role("link", name="Sign in again")
    assert (again.get_attribute("href") or "").startswith("/signin?reason=ended")
    with page.context.expect_page() as opened:
        again.click()
    signin = opened.value
    assert login_form_shown(signin)
    assert signin_message(signin) == ENDED
    fill_signin(signin, "alice", PASSWORDS["alice"])
    signin.locator(CHAT_INPUT).wait_for()
    assert prompt in page.locator("[data-testid='stCode']").inner_text()  # still there to copy


def test_a_tab_idle_past_the_limit_lands_on_sign_in_with_the_sentence(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "bob")
    token = auth_cookie(page)
    assert token
    idle_for(server, token, hours=9)
    page.get_by_role("link", name="History").click()  # the tab acts again
    assert login_form_shown(page)
    assert signin_message(page) == ENDED
    assert "next=%2Fhistory" in page.url
    no_connection_error(page)
    # Signing in again leads back to where the tab was going.
    fill_signin(page, "bob", PASSWORDS["bob"])
    page.wait_for_url(f"{server.url}/history")
    page.get_by_role("heading", name="History").wait_for()


def test_a_tab_idle_past_the_limit_sends_nothing(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    add_user(server, "fay", "fay-password-66")
    page.goto(server.url)
    fill_signin(page, "fay", "fay-password-66")
    page.locator(CHAT_INPUT).wait_for()
    token = auth_cookie(page)
    assert token
    idle_for(server, token, hours=9)
    send(page, "Sent after a long lunch")
    page.get_by_text(NOT_SENT).wait_for()
    assert "Sent after a long lunch" in page.locator("[data-testid='stCode']").inner_text()
    no_connection_error(page)
    assert [m for m in rows(server) if m.username == "fay"] == []


def test_document_cookie_never_holds_the_session(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    assert login_form_shown(page)
    assert page.evaluate("() => document.cookie") == ""  # not the form's CSRF binding either
    fill_signin(page, "alice", PASSWORDS["alice"])
    page.locator(CHAT_INPUT).wait_for()
    token = auth_cookie(page)
    assert token
    session = next(c for c in page.context.cookies() if c["name"] == "parley_session")
    assert session["httpOnly"] and session["sameSite"] == "Lax" and session["path"] == "/"
    assert token not in page.evaluate("() => document.cookie")
    assert "parley" not in page.evaluate("() => document.cookie")
    page.reload()
    page.locator(CHAT_INPUT).wait_for()
    assert "parley" not in page.evaluate("() => document.cookie")
    assert token not in page.content()


@pytest.fixture
def neighbour(tmp_path: Path) -> Iterator[str]:
    """Another web server on the same host, another port: any page a local program serves."""
    (tmp_path / "index.html").write_text(
        "<!DOCTYPE html><html><head><title>neighbour</title></head>"
        "<body><p id='seen'></p><script>document.getElementById('seen').textContent = "
        "'cookies:' + document.cookie;</script></body></html>"
    )
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


def test_a_page_on_another_port_cannot_read_the_session(page, server: Server, neighbour: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "alice")
    token = auth_cookie(page)
    assert token
    # The control: cookies are not separated by port, so a script-readable cookie set for
    # Parley's host is readable next door. The session cookie would be too, were it not HttpOnly.
    page.context.add_cookies([{"name": "readable_control", "value": "shared-by-port", "url": server.url}])
    attacker = page.context.new_page()
    attacker.goto(neighbour)
    seen = attacker.locator("#seen")
    seen.wait_for()
    text = seen.inner_text()
    assert text.startswith("cookies:") and "readable_control=shared-by-port" in text
    assert token not in text and "parley_session" not in text
    assert token not in attacker.evaluate("() => document.cookie")
    attacker.close()


@pytest.mark.parametrize("state", ["fresh", "wrong password", "signed out", "expired"])
def test_the_signin_page_has_no_accessibility_violations(page, server: Server, state: str) -> None:  # type: ignore[no-untyped-def]
    if state == "fresh":
        page.goto(server.url)
    elif state == "wrong password":
        page.goto(server.url)
        fill_signin(page, "alice", "not-her-password")
        page.locator("#signin-message").wait_for()
    elif state == "signed out":
        page.goto(f"{server.url}/signin?reason=signedout")
    else:
        page.goto(f"{server.url}/signin?reason=expired&next=%2Fhistory")
    assert login_form_shown(page)
    if state != "fresh":
        assert signin_message(page)  # the message is part of what axe checks
    results = audit(page)
    assert results["violations"] == []  # of any impact
    # The control: axe did look at the page (rules it checked and found passing).
    passed = set(results["passes"])
    assert {"label", "html-has-lang", "document-title"} <= passed, sorted(passed)


def test_a_signed_in_prompt_is_logged_once(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """The control for the prompts above that must not be sent: the same steps, signed in, send."""
    sign_in(page, server, "alice")
    send(page, "A prompt that does get sent")
    logged = wait_until(
        lambda: [m for m in rows(server) if m.content == "A prompt that does get sent"], 30, "the prompt in the log"
    )
    assert len(logged) == 1 and logged[0].username == "alice"


@pytest.mark.parametrize("state", ["fresh", "wrong current password"])
def test_the_password_page_has_no_accessibility_violations(page, server: Server, state: str) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, server, "bob")
    page.goto(f"{server.url}/password")
    if state != "fresh":
        page.get_by_label("Current password").fill("not-his-password")
        page.get_by_label("New password", exact=True).fill("bobs-new-password-3")
        page.get_by_label("Repeat the new password").fill("bobs-new-password-3")
        page.get_by_role("button", name="Change password").click()
        page.get_by_text("The current password is not right.").wait_for()
    results = audit(page)
    assert results["violations"] == []  # of any impact
    passed = set(results["passes"])
    assert {"label", "html-has-lang", "document-title"} <= passed, sorted(passed)
