"""The client address over real HTTP (issue 15): Streamlit bound to 127.0.0.1 and to its
dual-stack default, uvicorn's FORWARDED_ALLOW_IPS unset or empty, with and without
PARLEY_TRUSTED_PROXIES. Chromium sends X-Forwarded-For through the context's extra
headers, which reach the websocket's upgrade request too (where Parley reads them: the
first test would not see a refusal otherwise). And eight people signing in to one
account at the same moment all get in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import bcrypt
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from chat.accounts.authfile import edit_auth_file
from tests.e2e.conftest import Server, running_server
from tests.fake_openai import FakeOpenAI

pytestmark = pytest.mark.browser

CHAT_INPUT = "textarea[data-testid='stChatInputTextArea']"
WRONG = "Incorrect username or password."
THROTTLED = "Too many failed sign-ins for this username."
UNPLACED = "Parley cannot tell where this sign-in comes from"
MAX_FAILURES = 3
SCHEDULED_CLICK = """(moment) => setTimeout(() => {
    [...document.querySelectorAll("button")].find((b) => b.textContent.trim() === "Sign in").click();
}, Math.max(0, moment - Date.now()))"""


@contextmanager
def server_with(
    tmp_path_factory: pytest.TempPathFactory,
    fake: FakeOpenAI,
    *,
    bind: str | None,
    forwarded_allow_ips: str | None,
    trusted_proxies: str = "",
) -> Iterator[Server]:
    """bind None: Streamlit's default (the dual-stack "::"). forwarded_allow_ips None: unset."""
    env = {
        "PARLEY_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
        "PARLEY_TRUSTED_PROXIES": trusted_proxies,
        # No reloading: an edit to the source tree meanwhile must not unload modules mid-import
        # under eight first runs at once (seen here as KeyError: 'chat').
        "STREAMLIT_SERVER_FILE_WATCHER_TYPE": "none",
    }
    if bind is not None:
        env["STREAMLIT_SERVER_ADDRESS"] = bind
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FORWARDED_ALLOW_IPS", raising=False)  # the server copies this process's environment
        if forwarded_allow_ips is not None:
            env["FORWARDED_ALLOW_IPS"] = forwarded_allow_ips
        with running_server(tmp_path_factory.mktemp("address"), fake, env_extra=env) as (server, _process):
            yield server


@pytest.fixture(scope="module")
def loopback_uvicorn_default(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    """Behind a tunnel on 127.0.0.1, started with a bare `streamlit run app.py`."""
    with server_with(tmp_path_factory, fake_model, bind="127.0.0.1", forwarded_allow_ips=None) as server:
        yield server


@pytest.fixture(scope="module")
def loopback_believing_nothing(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    """On 127.0.0.1 as `make run` starts it: uvicorn believes no header, Parley trusts no proxy."""
    with server_with(tmp_path_factory, fake_model, bind="127.0.0.1", forwarded_allow_ips="") as server:
        yield server


@pytest.fixture(scope="module")
def dual_stack_behind_proxy(tmp_path_factory: pytest.TempPathFactory, fake_model: FakeOpenAI) -> Iterator[Server]:
    """The default bind behind a proxy on this host, uvicorn left at its default."""
    with server_with(
        tmp_path_factory, fake_model, bind=None, forwarded_allow_ips=None, trusted_proxies="127.0.0.1"
    ) as server:
        yield server


@pytest.fixture
def context(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1000, "height": 700})
    context.set_default_timeout(30_000)
    yield context
    context.close()


def attempt(context, url: str, username: str, password: str, forwarded_for: str | None, expect: str):  # type: ignore[no-untyped-def]
    """One sign-in on a fresh page (a new websocket: its headers are fixed for its life)."""
    context.set_extra_http_headers({"X-Forwarded-For": forwarded_for} if forwarded_for else {})
    page = context.new_page()
    page.goto(url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if expect == "signed in":
        page.locator(CHAT_INPUT).wait_for()
    else:
        page.get_by_text(expect).wait_for()
    page.close()


def outcome(page) -> str:  # type: ignore[no-untyped-def]
    """What a sign-in ended in: "signed in", the alert's text, or what the page showed instead."""
    try:
        page.locator(f"{CHAT_INPUT}, [data-testid='stAlert']").first.wait_for()
    except PlaywrightTimeout:
        return "no answer: " + page.locator("body").inner_text()[:300]
    if page.locator(CHAT_INPUT).count():
        return "signed in"
    return " ".join(page.locator("[data-testid='stAlert']").all_inner_texts())


def test_a_bare_streamlit_run_refuses_a_forwarded_sign_in_it_cannot_place(  # type: ignore[no-untyped-def]
    context, loopback_uvicorn_default: Server
) -> None:
    # The attack: wrong passwords under a changing X-Forwarded-For, which uvicorn would
    # have turned into as many client addresses. Each is refused, not even checked.
    for hop in range(MAX_FAILURES):
        attempt(context, loopback_uvicorn_default.url, "alice", "wrong-password", f"198.51.100.{hop}", UNPLACED)
    # A direct user (no header) signs in as usual.
    attempt(context, loopback_uvicorn_default.url, "alice", "alice-password-1", None, "signed in")


def test_where_uvicorn_believes_nothing_a_changing_header_changes_nothing(  # type: ignore[no-untyped-def]
    context, loopback_believing_nothing: Server
) -> None:
    for hop in range(MAX_FAILURES):
        attempt(context, loopback_believing_nothing.url, "alice", "wrong-password", f"198.51.100.{hop}", WRONG)
    attempt(context, loopback_believing_nothing.url, "alice", "wrong-password", "198.51.100.99", THROTTLED)


def test_a_proxy_on_the_dual_stack_bind_is_believed_and_a_rewritten_peer_refused(  # type: ignore[no-untyped-def]
    context, dual_stack_behind_proxy: Server
) -> None:
    ipv4 = dual_stack_behind_proxy.url  # http://127.0.0.1:port: the peer is ::ffff:127.0.0.1
    ipv6 = ipv4.replace("127.0.0.1", "[::1]")  # uvicorn's default trusts ::1 and rewrites its peer
    # Through the proxy at 127.0.0.1 each client is its own: one guesser is throttled ...
    for _ in range(MAX_FAILURES):
        attempt(context, ipv4, "alice", "wrong-password", "198.51.100.1", WRONG)
    attempt(context, ipv4, "alice", "alice-password-1", "198.51.100.1", THROTTLED)
    # ... and does not lock out the owner behind the same proxy.
    attempt(context, ipv4, "alice", "alice-password-1", "198.51.100.2", "signed in")
    # A peer uvicorn may have replaced (::1, trusted by uvicorn, not by Parley) is refused.
    attempt(context, ipv6, "alice", "alice-password-1", "198.51.100.3", UNPLACED)
    log = dual_stack_behind_proxy.log.read_text()
    assert "believes X-Forwarded-For from 127.0.0.1, ::1 (FORWARDED_ALLOW_IPS)" in log  # the warning


def test_eight_people_sign_in_to_one_account_at_once(browser, loopback_believing_nothing: Server) -> None:  # type: ignore[no-untyped-def]
    # A shared demo account, with the bcrypt cost real accounts have, so the sign-ins overlap.
    password = "demo-password-for-the-room"
    with edit_auth_file(loopback_believing_nothing.folder / "auth.yaml") as users:
        users.add("demo", bcrypt.hashpw(password.encode(), bcrypt.gensalt(12)).decode(), name="Demo", roles=["user"])
    contexts = [browser.new_context(viewport={"width": 1000, "height": 700}) for _ in range(8)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:  # all eight load at once
            page.set_default_timeout(60_000)
            page.goto(loopback_believing_nothing.url, wait_until="commit")
        for page in pages:
            page.get_by_role("textbox", name="Username").fill("demo")
            page.get_by_role("textbox", name="Password").fill(password)
        # Every page clicks at one moment by the machine's clock (one Playwright call per
        # page would spread the clicks over a busy machine's second or two).
        moment = pages[0].evaluate("() => Date.now()") + 1000
        for page in pages:
            page.evaluate(SCHEDULED_CLICK, moment)
        assert [outcome(page) for page in pages] == ["signed in"] * 8
    finally:
        for context in contexts:
            context.close()
