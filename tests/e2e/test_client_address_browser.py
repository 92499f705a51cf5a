"""The client address over real HTTP (issues 15 and 18): Streamlit bound to 127.0.0.1 and to
its dual-stack default, uvicorn's FORWARDED_ALLOW_IPS unset or empty, with and without
PARLEY_TRUSTED_PROXIES. `POST /signin` judges the address the throttle counts by from the
connection's peer and, only from a trusted proxy, X-Forwarded-For: the tests post the
sign-in form as a browser would (its CSRF token, its cookie, its Origin), with the header
a client or proxy would add. And eight people signing in to one account at the same
moment all get in."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import bcrypt
import pytest

from chat.accounts.authfile import edit_auth_file
from tests.e2e.conftest import Server, running_server
from tests.e2e.web_client import Visitor
from tests.fake_openai import FakeOpenAI

WRONG = "Incorrect username or password."
THROTTLED = "Too many failed sign-ins for this username."
UNPLACED = "Parley cannot tell where this sign-in comes from"
MAX_FAILURES = 3


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


def attempt(url: str, username: str, password: str, forwarded_for: str | None, expect: str) -> None:
    """One sign-in by one visitor: a fresh form, posted with the header a proxy would add."""
    visitor = Visitor(url, extra={"X-Forwarded-For": forwarded_for} if forwarded_for else {})
    answer = visitor.sign_in(username, password)
    if expect == "signed in":
        assert (answer.status, answer.location) == (303, "/"), (answer.status, answer.message())
        assert visitor.send("GET", "/").status == 200  # the session opens the app
    else:
        assert answer.message().startswith(expect), (answer.status, answer.message())
        assert "parley_session" not in visitor.jar


def test_a_bare_streamlit_run_refuses_a_forwarded_sign_in_it_cannot_place(loopback_uvicorn_default: Server) -> None:
    # The attack: wrong passwords under a changing X-Forwarded-For, which uvicorn would
    # have turned into as many client addresses. Each is refused, not even checked.
    for hop in range(MAX_FAILURES + 1):
        attempt(loopback_uvicorn_default.url, "alice", "wrong-password", f"198.51.100.{hop}", UNPLACED)
    # A direct user (no header) signs in as usual: none of the refusals counted as failures.
    attempt(loopback_uvicorn_default.url, "alice", "alice-password-1", None, "signed in")


def test_where_uvicorn_believes_nothing_a_changing_header_changes_nothing(loopback_believing_nothing: Server) -> None:
    for hop in range(MAX_FAILURES):
        attempt(loopback_believing_nothing.url, "bob", "wrong-password", f"198.51.100.{hop}", WRONG)
    attempt(loopback_believing_nothing.url, "bob", "bob-password-22", "198.51.100.99", THROTTLED)
    attempt(loopback_believing_nothing.url, "bob", "bob-password-22", None, THROTTLED)


def test_a_proxy_on_the_dual_stack_bind_is_believed_and_a_rewritten_peer_refused(
    dual_stack_behind_proxy: Server,
) -> None:
    ipv4 = dual_stack_behind_proxy.url  # http://127.0.0.1:port: the peer is ::ffff:127.0.0.1
    ipv6 = ipv4.replace("127.0.0.1", "[::1]")  # uvicorn's default trusts ::1 and rewrites its peer
    # Through the proxy at 127.0.0.1 each client is its own: one guesser is throttled ...
    for _ in range(MAX_FAILURES):
        attempt(ipv4, "alice", "wrong-password", "198.51.100.1", WRONG)
    attempt(ipv4, "alice", "alice-password-1", "198.51.100.1", THROTTLED)
    # ... and does not lock out the owner behind the same proxy.
    attempt(ipv4, "alice", "alice-password-1", "198.51.100.2", "signed in")
    # Only the hop nearest the proxy counts: a client cannot pick its own address.
    attempt(ipv4, "alice", "alice-password-1", "198.51.100.2, 198.51.100.1", THROTTLED)
    # A peer uvicorn may have replaced (::1, trusted by uvicorn, not by Parley) is refused.
    attempt(ipv6, "alice", "alice-password-1", "198.51.100.3", UNPLACED)
    log = dual_stack_behind_proxy.log.read_text()
    assert "believes X-Forwarded-For from 127.0.0.1, ::1 (FORWARDED_ALLOW_IPS)" in log  # the warning


def test_eight_people_sign_in_to_one_account_at_once(loopback_believing_nothing: Server) -> None:
    # A shared demo account, with the bcrypt cost real accounts have, so the sign-ins overlap.
    password = "demo-password-for-the-room"
    with edit_auth_file(loopback_believing_nothing.folder / "auth.yaml") as users:
        users.add("demo", bcrypt.hashpw(password.encode(), bcrypt.gensalt(12)).decode(), name="Demo", roles=["user"])
    visitors = [Visitor(loopback_believing_nothing.url) for _ in range(8)]
    tokens = [visitor.signin_form().hidden("csrf") for visitor in visitors]  # eight forms open
    together = threading.Barrier(len(visitors))

    def post(index: int) -> tuple[int, str | None, str]:
        together.wait(timeout=60)  # all eight press "Sign in" at one moment
        answer = visitors[index].sign_in("demo", password, csrf=tokens[index])
        return answer.status, answer.location, answer.message()

    with ThreadPoolExecutor(len(visitors)) as pool:
        outcomes = list(pool.map(post, range(len(visitors))))
    assert outcomes == [(303, "/", "")] * 8
    tokens_issued = {visitor.jar["parley_session"] for visitor in visitors}
    assert len(tokens_issued) == 8  # eight sessions, one each
    assert all(visitor.send("GET", "/").status == 200 for visitor in visitors)
