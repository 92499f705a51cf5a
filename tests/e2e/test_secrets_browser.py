"""After every other browser test: no secret in any server's log, database (WAL included) or page.

This module's own server goes through everything that handles a secret (a wrong
password, a sign-in, a chat, a password change, sign-out, the admin's audit read)
and is inspected while it still runs, so its SQLite `-wal` file is still there.
"""

from __future__ import annotations

import pytest

from tests.conftest import PASSWORDS, TEST_COOKIE_KEY
from tests.e2e.conftest import COOKIES_SEEN, PAGE_HTML, SERVER_FOLDERS, Server
from tests.e2e.secrets import files_to_search, leaks
from tests.e2e.test_browser import (
    auth_cookie,
    fill_signin,
    login_form_shown,
    reply_settled,
    send,
    sign_in,
)
from tests.e2e.test_signin_http import SSO_ON
from tests.e2e.test_sso_browser import CLIENT_SECRET as SSO_CLIENT_SECRET

pytestmark = [pytest.mark.browser, pytest.mark.after_all]

API_KEY = "sk-test-not-a-real-key"  # what e2e servers get as OPENAI_API_KEY
WRONG_PASSWORD = "maybe-her-other-password-9"
NEW_PASSWORD = "alice-new-password-77"


def test_no_secret_reaches_a_log_a_database_or_a_page(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    fill_signin(page, "alice", WRONG_PASSWORD)
    page.get_by_text("Incorrect username or password.").wait_for()
    PAGE_HTML.append(page.content())
    # Bob types his password into the username box. The answer gives it back to him in that box
    # (a failed sign-in keeps the username), so that page is not searched; the log and the
    # database, which must never keep it, are.
    fill_signin(page, PASSWORDS["bob"], PASSWORDS["bob"])
    page.get_by_text("Incorrect username or password.").wait_for()

    sign_in(page, server, "alice")
    assert auth_cookie(page)
    send(page, "Remember the word pineapple")
    reply_settled(page)
    page.get_by_role("link", name="Account").click()
    page.get_by_role("button", name="Change your password").click()
    page.get_by_label("Current password").fill(PASSWORDS["alice"])
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.get_by_text("Your password was changed").wait_for()
    auth_cookie(page)  # the new sign-in's cookie: looked for too
    page.get_by_role("button", name="Sign out", exact=True).click()
    assert login_form_shown(page)
    PAGE_HTML.append(page.content())

    sign_in(page, server, "admin")
    auth_cookie(page)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("button", name="Open read-only (recorded in the audit log)").click()
    page.locator("[data-testid='stChatMessage']").get_by_text("Remember the word pineapple").wait_for()
    PAGE_HTML.append(page.content())

    assert (server.folder / "parley.db-wal").exists()  # still running: the WAL is there to search
    secrets = {
        **{f"password of {name}": password for name, password in PASSWORDS.items()},
        "a wrong password": WRONG_PASSWORD,
        "a new password": NEW_PASSWORD,
        "the cookie key": TEST_COOKIE_KEY,
        "the API key": API_KEY,
        "the SSO client secret": SSO_CLIENT_SECRET,
        "the sign-in tests' SSO client secret": SSO_ON["PARLEY_OIDC_CLIENT_SECRET"],
    }
    assert len(COOKIES_SEEN) >= 2  # this module's two sign-ins at least: the check has something to find

    files = files_to_search([*SERVER_FOLDERS, server.folder])
    assert any(path.name == "parley.db-wal" for path in files) and any(path.suffix == ".log" for path in files)
    # A control: what the user typed is in the log, so the search does read the databases.
    assert any(b"pineapple" in path.read_bytes() for path in files if ".db" in path.name)
    assert leaks(files, PAGE_HTML, secrets, COOKIES_SEEN) == []
