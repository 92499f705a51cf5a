"""Two Parley processes on different ports against one PostgreSQL, serving the same users at once.

They share the cookie key, auth.yaml and the database, as replicas behind a load balancer
do. A browser's cookie is per host, not per port, so one browser moving between the two
ports is a user whose requests a load balancer sends to either replica: they sign in, out
and throttle as one, and a CSRF token one made is good on the other.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import bcrypt
import pytest
from sqlalchemy import create_engine, select

from chat.accounts.authfile import edit_auth_file
from chat.accounts.signins import token_hash
from chat.db.tables import Message
from tests.conftest import PASSWORDS, scratch_database
from tests.e2e.conftest import Server, two_replicas, write_test_users
from tests.e2e.test_browser import (
    CHAT_INPUT,
    ENDED,
    EXPIRED,
    SIGNED_OUT,
    auth_cookie,
    fill_signin,
    login_form_shown,
    reply_settled,
    send,
    sign_in,
    signin_message,
)
from tests.e2e.web_client import Visitor
from tests.fake_openai import FakeOpenAI
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

MAX_FAILURES = 3
QUOTA_USER, QUOTA_PASSWORD = "carol", "carol-password-4444"


@dataclass
class Replicas:
    a: Server
    b: Server
    database_url: str
    auth_file: Path


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres_server: str, fake_model: FakeOpenAI
) -> Iterator[Replicas]:
    shared = tmp_path_factory.mktemp("shared")
    auth_file = shared / "auth.yaml"
    write_test_users(auth_file)
    with edit_auth_file(auth_file) as users:  # a user of the quota test alone: no earlier turns count
        users.add(
            QUOTA_USER, bcrypt.hashpw(QUOTA_PASSWORD.encode(), bcrypt.gensalt(4)).decode(), name="Carol", roles=["user"]
        )
        users.set_quota(QUOTA_USER, messages_per_minute=2)
    env = {"PARLEY_LOGIN_MAX_FAILURES": str(MAX_FAILURES)}
    with scratch_database(postgres_server, "parley_replicas") as database_url:
        replicas = two_replicas(
            tmp_path_factory.mktemp, fake_model, database_url=database_url, auth_file=auth_file, env_extra=env
        )
        with replicas as (a, b):
            yield Replicas(a=a, b=b, database_url=database_url, auth_file=auth_file)


def messages_of(replicas: Replicas, username: str) -> list[Message]:
    engine = create_engine(replicas.database_url)
    with engine.connect() as connection:
        rows = list(connection.execute(select(Message).where(Message.username == username).order_by(Message.id)))
    engine.dispose()
    return rows  # type: ignore[return-value]


def final_replies(replicas: Replicas, username: str) -> list[Message]:
    return [r for r in messages_of(replicas, username) if r.role == "assistant" and r.status != "streaming"]


def wait_for(condition, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    wait_until(condition, seconds, "the condition", every=0.1)


def session_revoked(replicas: Replicas, cookie: str) -> bool:
    engine = create_engine(replicas.database_url)
    try:
        with engine.connect() as connection:
            return bool(
                connection.exec_driver_sql(
                    "SELECT revoked_at IS NOT NULL FROM auth_sessions WHERE token_hash = %(h)s",
                    {"h": token_hash(cookie)},
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_a_sign_in_on_one_replica_holds_on_the_other_and_a_sign_out_ends_both(page, replicas: Replicas) -> None:  # type: ignore[no-untyped-def]
    sign_in(page, replicas.a, "alice")
    send(page, "hello from replica A")
    reply_settled(page)
    cookie = auth_cookie(page)
    assert cookie
    on_a = page.context.new_page()  # a tab that stays on A
    on_a.set_default_timeout(30_000)
    on_a.goto(replicas.a.url)
    on_a.locator(CHAT_INPUT).wait_for()

    page.goto(replicas.b.url)  # the load balancer sends the next request to B
    page.locator(CHAT_INPUT).wait_for()
    assert page.locator("#username").count() == 0
    send(page, "hello from replica B")
    reply_settled(page)

    page.get_by_role("button", name="Sign out", exact=True).click()  # B's sidebar form, posted to B
    assert login_form_shown(page)
    assert signin_message(page) == SIGNED_OUT
    assert session_revoked(replicas, cookie)
    # The tab on A is out at its next run, with the sentence.
    on_a.get_by_role("link", name="History").click()
    assert login_form_shown(on_a)
    assert signin_message(on_a) == ENDED
    context = page.context.browser.new_context()  # a copy of the cookie, replayed on A
    try:
        other = context.new_page()
        context.add_cookies([{"name": "parley_session", "value": cookie, "url": replicas.a.url}])
        other.goto(replicas.a.url)
        assert login_form_shown(other)
        assert signin_message(other) == EXPIRED
    finally:
        context.close()


def test_a_form_from_one_replica_is_accepted_by_the_other(replicas: Replicas) -> None:
    """The CSRF tokens are an HMAC of the shared key: a sign-in form served by A posts to B,
    and B's sign-out page serves a token A accepts. (Each replica judges the Origin by its own
    address here; behind a load balancer both have the same one.)"""
    visitor = Visitor(replicas.a.url)
    form = visitor.signin_form()  # from A
    visitor.url = replicas.b.url  # posted to B
    signed_in = visitor.sign_in("bob", csrf=form.hidden("csrf"))
    assert (signed_in.status, signed_in.location) == (303, "/"), signed_in.message()
    cookie = visitor.jar["parley_session"]
    visitor.url = replicas.a.url
    assert visitor.send("GET", "/").status == 200  # and holds on A
    visitor.url = replicas.b.url
    token = visitor.send("GET", "/signout").hidden("csrf")  # from B
    visitor.url = replicas.a.url
    # A token A could not have made is refused there, so acceptance below means the shared key.
    assert visitor.send("POST", "/signout", form={"csrf": "0" * len(token)}).status == 403
    done = visitor.send("POST", "/signout", form={"csrf": token})  # to A
    assert (done.status, done.location) == (303, "/signin?reason=signedout")
    assert session_revoked(replicas, cookie)
    visitor.jar["parley_session"] = cookie
    visitor.url = replicas.b.url
    replay = visitor.send("GET", "/")
    assert replay.status == 303 and replay.location == "/signin?reason=expired"


def test_turns_sent_to_both_replicas_at_once_land_once_each(browser, replicas: Replicas) -> None:  # type: ignore[no-untyped-def]
    pages = []
    contexts = []
    for user, server in (("bob", replicas.a), ("admin", replicas.b)):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, server, user)
        pages.append((user, page))
    try:
        sent: dict[str, list[str]] = {"bob": [], "admin": []}
        for turn in range(3):
            for user, page in pages:  # both replicas stream at the same time
                prompt = f"{user} turn {turn} {uuid.uuid4().hex[:6]}"
                sent[user].append(prompt)
                send(page, prompt)
            for user, page in pages:  # the turn is over when its reply's row is final
                wait_for(lambda user=user: len(final_replies(replicas, user)) == len(sent[user]))
                reply_settled(page)
        for user, prompts in sent.items():
            rows = messages_of(replicas, user)
            assert [r.content for r in rows if r.role == "user"] == prompts  # each once, in order
            replies = [r for r in rows if r.role == "assistant"]
            assert len(replies) == len(prompts) and all(r.status == "complete" and r.content for r in replies)
    finally:
        for context in contexts:
            context.close()


def test_the_login_throttle_counts_failures_on_both_replicas(page, replicas: Replicas) -> None:  # type: ignore[no-untyped-def]
    def attempt(server: Server, password: str) -> None:
        page.goto(server.url)
        fill_signin(page, "alice", password)

    for server in (replicas.a, replicas.b, replicas.a):  # MAX_FAILURES wrong guesses, split over both
        attempt(server, "not-her-password")
        page.get_by_text("Incorrect username or password.").wait_for()
    attempt(replicas.b, PASSWORDS["alice"])  # even the right password waits now, on the other replica
    page.get_by_text("Too many failed sign-ins for this username.").wait_for()
    assert page.locator(CHAT_INPUT).count() == 0


def test_a_quota_counts_messages_sent_through_both_replicas(browser, replicas: Replicas) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.goto(replicas.a.url)
        fill_signin(page, QUOTA_USER, QUOTA_PASSWORD)
        page.locator(CHAT_INPUT).wait_for()
        send(page, "first of two on A")
        reply_settled(page)
        page.goto(replicas.b.url)
        page.locator(CHAT_INPUT).wait_for()
        send(page, "second of two on B")
        page.get_by_role("button", name="Regenerate").wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll(\"[data-testid='stChatMessage']\")]"
            ".some(m => m.innerText.includes('second of two on B'))"
        )
        reply_settled(page)
        page.goto(replicas.a.url)
        page.locator(CHAT_INPUT).wait_for()
        send(page, "third, over the limit")
        page.get_by_text("You have sent 2 messages in the last minute, your limit").wait_for()
        rows = messages_of(replicas, QUOTA_USER)
        assert [r.content for r in rows if r.role == "user"] == ["first of two on A", "second of two on B"]
    finally:
        context.close()
