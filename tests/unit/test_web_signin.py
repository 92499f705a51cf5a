"""chat/web/signin.py's rule for `next`, and chat/web/csrf.py's tokens."""

from __future__ import annotations

import pytest

from chat.web.csrf import CsrfKey
from chat.web.pages import render
from chat.web.signin import safe_next
from chat.web.streamlit_files import FONT_URL, STREAMLIT_INDEX
from tests.conftest import TEST_COOKIE_KEY


@pytest.mark.parametrize("target", ["/", "/history", "/?c=abc&m=12", "/history?q=a%20b", "/account#password"])
def test_parleys_own_paths_are_kept(target: str) -> None:
    assert safe_next(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example/x",
        "/\\evil.example",
        "\\\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
        "history",
        "/signin",
        "/signin?next=/x",
        "/signout",
        "/\x00x",
        "/\tx",
        "/" + "a" * 3000,
    ],
)
def test_anything_else_goes_home(target: str | None) -> None:
    assert safe_next(target) == "/"


def test_a_csrf_token_holds_for_its_purpose_and_binding_on_any_replica() -> None:
    one, other_replica = CsrfKey(TEST_COOKIE_KEY), CsrfKey(TEST_COOKIE_KEY)
    token = one.token("signout", "session-a")
    assert other_replica.check("signout", "session-a", token)
    assert not other_replica.check("signout", "session-b", token)
    assert not other_replica.check("signin", "session-a", token)
    assert not CsrfKey("another-key-0123456789-abcdefghijklmnop").check("signout", "session-a", token)
    assert not one.check("signout", "session-a", None) and not one.check("signout", None, token)
    assert not one.check("signout", "session-a", token[:-1] + "0" if token[-1] != "0" else token[:-1] + "1")


def test_parleys_pages_use_streamlits_own_font_from_parleys_own_origin() -> None:
    assert FONT_URL is not None and FONT_URL.startswith("/static/media/SourceSans") and FONT_URL.endswith(".woff2")
    assert (STREAMLIT_INDEX.parent / FONT_URL.lstrip("/")).is_file()  # what Streamlit's static route serves
    page = render("signin.html", title="Sign in", csrf="x", next="/", username="", notice=None, error=None)
    assert f'url("{FONT_URL}")' in page.body.decode()
