"""Changing one's password over HTTP (chat/web/password.py), through Parley's own routes and gate
called as ASGI: the form, its CSRF token and Origin, the sentences, the new session and cookie;
and a printed password changed before anything else is served."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlencode

import bcrypt
import pytest
from starlette.applications import Starlette

from chat.accounts import signins
from chat.accounts.authfile import edit_auth_file, load_users, verify_password
from chat.settings import Settings
from chat.web.app import middleware, routes
from chat.web.context import ProcessContext, WebContext
from tests.asgi import Reply, call, scope_of
from tests.conftest import PASSWORDS, make_settings

ORIGIN = "http://parley.test"
NEW = "a-brand-new-pass-7"


@pytest.fixture
def settings(tmp_path: Path, auth_file: Path) -> Settings:
    return make_settings(tmp_path, PARLEY_AUTH_FILE=str(auth_file))


@pytest.fixture
def source(settings: Settings) -> ProcessContext:
    return ProcessContext(lambda: settings)


@pytest.fixture
def app(source: ProcessContext) -> Starlette:
    return Starlette(routes=routes(source), middleware=middleware(source))


def session_of(context: WebContext, username: str, password: str | None = None) -> str:
    result = context.accounts.sign_in(username, password or PASSWORDS[username], "127.0.0.1")
    assert result.token is not None, result.error
    return result.token


def get(app: Starlette, path: str, token: str | None = None) -> Reply:
    return call(app, scope_of(path, headers={"cookie": f"parley_session={token}"} if token else {}))


def post(app: Starlette, token: str, fields: dict[str, str], *, origin: str = ORIGIN) -> Reply:
    headers = {
        "cookie": f"parley_session={token}",
        "content-type": "application/x-www-form-urlencoded",
        "origin": origin,
    }
    return call(app, scope_of("/password", method="POST", headers=headers), urlencode(fields).encode())


def csrf_of(page: Reply) -> str:
    found = re.search(rb'name="csrf" value="([0-9a-f]+)"', page.body)
    assert found is not None
    return found.group(1).decode()


def message(page: Reply) -> str:
    found = re.search(rb'id="password-message">([^<]*)<', page.body)
    return found.group(1).decode().replace("&#39;", "'") if found else ""


def test_without_a_session_the_page_sends_you_to_sign_in(app: Starlette) -> None:
    reply = get(app, "/password")
    assert (reply.status, reply.header("location")) == (303, "/signin?next=%2Fpassword")


def test_a_password_change_ends_every_session_and_signs_this_browser_in_anew(
    app: Starlette, source: ProcessContext, settings: Settings
) -> None:
    context = source()
    token, elsewhere, bobs = session_of(context, "alice"), session_of(context, "alice"), session_of(context, "bob")
    page = get(app, "/password", token)
    assert page.status == 200 and page.header("cache-control") == "no-store" and b"Change your password" in page.body
    good = {"csrf": csrf_of(page), "current": PASSWORDS["alice"], "new": NEW, "repeat": NEW}

    refused = [
        post(app, token, {**good, "csrf": "0" * 64}),
        post(app, token, {**good, "csrf": ""}),
        post(app, token, good, origin="http://evil.example"),
        post(app, elsewhere, good),  # another session's token
    ]
    assert [reply.status for reply in refused] == [403, 403, 403, 403]
    for fields, sentence in [
        ({"current": "not-it"}, "The current password is not right."),
        ({"repeat": NEW + "x"}, "The new passwords do not match."),
        (
            {"new": PASSWORDS["alice"], "repeat": PASSWORDS["alice"]},
            "The new password must differ from the current one.",
        ),
    ]:
        reply = post(app, token, {**good, **fields})
        assert (reply.status, message(reply)) == (400, sentence)
    assert verify_password(PASSWORDS["alice"], load_users(settings.auth_file)["alice"].password_hash)

    done = post(app, token, good)
    assert (done.status, done.header("location")) == (303, "/account?changed=password")
    cookie = done.header("set-cookie") or ""
    fresh = cookie.split(";")[0].removeprefix("parley_session=")
    assert signins.well_formed(fresh) and fresh != token and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert verify_password(NEW, load_users(settings.auth_file)["alice"].password_hash)
    accounts = context.accounts
    assert accounts.from_cookie(token) is None and accounts.from_cookie(elsewhere) is None  # a copy of either: nothing
    assert accounts.from_cookie(fresh) is not None and accounts.from_cookie(bobs) is not None


def test_a_printed_password_is_changed_before_anything_else_is_served(
    app: Starlette, source: ProcessContext, settings: Settings
) -> None:
    printed = "printed-password-1"
    with edit_auth_file(settings.auth_file) as users:
        hashed = bcrypt.hashpw(printed.encode(), bcrypt.gensalt(4)).decode()
        users.add("root", hashed, name="Root", roles=["admin"], must_change_password=True)
    token = session_of(source(), "root", printed)
    for path in ("/", "/history", "/admin?c=1"):
        reply = get(app, path, token)
        assert (reply.status, reply.header("location")) == (303, "/password"), path
    page = get(app, "/password", token)
    assert b"Choose your own password" in page.body and b"printed" in page.body
    done = post(app, token, {"csrf": csrf_of(page), "current": printed, "new": NEW, "repeat": NEW})
    assert done.status == 303
    fresh = (done.header("set-cookie") or "").split(";")[0].removeprefix("parley_session=")
    assert not load_users(settings.auth_file)["root"].must_change_password
    assert get(app, "/", fresh).status == 404  # past the gate: this test app has no Streamlit behind it
