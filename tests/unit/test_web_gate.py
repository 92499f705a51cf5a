"""chat/web/gate.py: what passes, what is redirected, what is refused, and the headers that
tell the page script who it is for (only the gate writes them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chat.accounts import signins
from chat.errors import ConfigError
from chat.web.context import WebContext
from chat.web.gate import MARK_HEADER, PROCESS_MARK, SESSION_HEADER, Gate, Kind, kind_of, signin_url
from tests.asgi import call, recorder, scope_of
from tests.conftest import PASSWORDS, make_settings


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("/", Kind.PAGE),
        ("/history", Kind.PAGE),
        ("/admin", Kind.PAGE),
        ("/signin", Kind.PUBLIC),
        ("/signout", Kind.PUBLIC),
        ("/healthz", Kind.PUBLIC),
        ("/readyz", Kind.PUBLIC),
        ("/_stcore/health", Kind.PUBLIC),
        ("/static/js/index.js", Kind.PUBLIC),
        ("/favicon.png", Kind.PUBLIC),
        ("/_stcore/stream", Kind.PRIVATE),
        ("/_stcore/upload_file/abc", Kind.PRIVATE),
        ("/_stcore/host-config", Kind.PRIVATE),
        ("/_stcore/agent/openapi.json", Kind.PRIVATE),
        ("/_stcore/health/../stream", Kind.PRIVATE),
        ("/media/0123abcd.json", Kind.PRIVATE),
        ("/component/x/index.html", Kind.PRIVATE),
        ("/signin/../_stcore/stream", Kind.PAGE),
    ],
)
def test_every_path_has_one_kind(path: str, kind: Kind) -> None:
    assert kind_of(path) is kind


def test_the_sign_in_url_keeps_where_the_visitor_was_going() -> None:
    assert signin_url(scope_of("/")) == "/signin"
    assert signin_url(scope_of("/history", query="c=abc&m=12")) == "/signin?next=%2Fhistory%3Fc%3Dabc%26m%3D12"
    assert signin_url(scope_of("/", query="c=1"), "expired") == "/signin?next=%2F%3Fc%3D1&reason=expired"


@pytest.fixture
def context(tmp_path: Path, auth_file: Path) -> WebContext:
    return WebContext.of(make_settings(tmp_path))


def session_cookie(context: WebContext, username: str = "alice") -> str:
    result = context.accounts.sign_in(username, PASSWORDS[username], "127.0.0.1")
    assert result.token is not None, result.error
    return f"{context.settings.cookie_name}={result.token}"


def test_without_a_session_pages_go_to_sign_in_and_the_rest_is_refused(context: WebContext) -> None:
    app, seen = recorder()
    gate = Gate(app, source=lambda: context)
    page = call(gate, scope_of("/history", query="c=1"))
    assert (page.status, page.header("location")) == (303, "/signin?next=%2Fhistory%3Fc%3D1")
    for path in ("/_stcore/upload_file/x", "/media/abc.json", "/_stcore/host-config", "/component/a/b.js"):
        assert call(gate, scope_of(path)).status == 401, path
    socket = call(gate, scope_of("/_stcore/stream", kind="websocket"))
    assert socket.messages == [{"type": "websocket.close", "code": 1008}]
    assert seen == []  # Streamlit saw none of it


def test_a_dead_cookie_is_sent_to_sign_in_with_a_reason(context: WebContext) -> None:
    app, _ = recorder()
    cookie = session_cookie(context)
    token = cookie.split("=", 1)[1]
    context.accounts.sign_out(signins.token_hash(token))
    reply = call(Gate(app, source=lambda: context), scope_of("/", headers={"cookie": cookie}))
    assert (reply.status, reply.header("location")) == (303, "/signin?reason=expired")
    cleared = reply.header("set-cookie") or ""
    assert cleared.startswith(f'{context.settings.cookie_name}=""') and "Max-Age=0" in cleared and "HttpOnly" in cleared


def test_a_live_session_passes_with_its_hash_and_the_process_mark(context: WebContext) -> None:
    app, seen = recorder()
    gate = Gate(app, source=lambda: context)
    cookie = session_cookie(context)
    forged = {"cookie": cookie, SESSION_HEADER: "f" * 64, MARK_HEADER: "forged"}
    assert call(gate, scope_of("/_stcore/stream", kind="websocket", headers=forged)).messages[0] == {
        "type": "websocket.accept"
    }
    assert call(gate, scope_of("/history", headers=forged)).status == 200
    for scope in seen:
        headers = [(name.decode(), value.decode()) for name, value in scope["headers"]]
        ours = [pair for pair in headers if pair[0] in (SESSION_HEADER, MARK_HEADER)]
        assert ours == [(SESSION_HEADER, signins.token_hash(cookie.split("=", 1)[1])), (MARK_HEADER, PROCESS_MARK)]


def test_public_paths_pass_without_any_identity(context: WebContext) -> None:
    app, seen = recorder()
    gate = Gate(app, source=lambda: context)
    reply = call(gate, scope_of("/static/js/x.js", headers={SESSION_HEADER: "f" * 64, MARK_HEADER: PROCESS_MARK}))
    assert reply.status == 200
    assert [name for name, _ in seen[0]["headers"]] == [b"host"]  # what a client claimed is gone


def test_a_broken_configuration_refuses_with_its_sentence() -> None:
    def broken() -> WebContext:
        raise ConfigError("PARLEY_COOKIE_KEY is not set.")

    app, seen = recorder()
    reply = call(Gate(app, source=broken), scope_of("/"))
    assert reply.status == 503 and b"PARLEY_COOKIE_KEY is not set." in reply.body and seen == []
