"""What only a browser shows: sign-in and the cookie across reloads, streaming on screen, markup
as text, bent cookies. The shared helpers of the browser suite live here too."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from chat.accounts import signins
from chat.accounts.signins import new_token
from chat.db.tables import Message
from tests.conftest import PASSWORDS, logged_messages
from tests.e2e.conftest import COOKIES_SEEN, Server
from tests.fake_openai import FakeReply
from tests.unit.test_auth import BENT_TOKENS
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

CHAT_INPUT = "textarea[data-testid='stChatInputTextArea']"
MESSAGES = "[data-testid='stChatMessage']"


# Streamlit marks its app with the state of the script (data-test-script-state). Installed
# before a page loads, this keeps each change of that state, so that a test can wait for a
# run to have ended instead of sleeping.
SCRIPT_RUNS = """
window.parleyRuns = [];
new MutationObserver(() => {
  const state = document.querySelector("[data-test-script-state]")?.getAttribute("data-test-script-state");
  const runs = window.parleyRuns;
  if (state && runs[runs.length - 1]?.state !== state) {
    runs.push({ state });
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-test-script-state"] });
"""
SESSION_COOKIES = ("parley_session", "__Host-parley_session")
EXPIRED = "Your sign-in has expired or is no longer valid. Please sign in again."
ENDED = "Your sign-in has ended (expired, signed out elsewhere, or the account changed). Please sign in again."
SIGNED_OUT = "You have signed out."


def watch_runs(page) -> None:  # type: ignore[no-untyped-def]
    page.add_init_script(SCRIPT_RUNS)


def runs_ended(page) -> int:  # type: ignore[no-untyped-def]
    return int(page.evaluate("window.parleyRuns.filter((run) => run.state === 'notRunning').length"))


def run_ended_after(page, ended: int) -> None:  # type: ignore[no-untyped-def]
    """A run ended after the `ended` runs counted before, and none is under way now."""
    page.wait_for_function(
        """(ended) => {
            const runs = window.parleyRuns;
            const now = runs.at(-1)?.state;
            return runs.filter((run) => run.state === "notRunning").length > ended && now === "notRunning";
        }""",
        arg=ended,
    )


def run_over(page) -> None:  # type: ignore[no-untyped-def]
    """No run is under way now: for a run that has visibly drawn something already (so it has
    begun) and reruns nothing after it (a run that ends in `st.rerun` shows "notRunning" too,
    before the next). `run_ended_after` cannot see a run that short: React may commit its
    "running" and "notRunning" in one go, and the attribute then never changes (a one-slot
    rerun, the edit form opening, timed out so on a loaded machine)."""
    page.wait_for_function(
        "() => document.querySelector('[data-test-script-state]')?.getAttribute('data-test-script-state')"
        " === 'notRunning'"
    )


def open_menu(page, cid: str) -> None:  # type: ignore[no-untyped-def]
    """Open a conversation's menu in the sidebar (rename, export, delete) and wait until it has
    finished opening: a click on what it holds while it still moves can land beside it (seen
    under load with Streamlit's expander, which grows for half a second). Only what is visible:
    Streamlit keeps a widget a later run dropped mounted, hidden."""
    button = page.locator(f"[data-testid='stSidebar'] .st-key-parley_menu_{cid} button").filter(visible=True)
    if button.get_attribute("aria-expanded") != "true":  # a run (a rename) leaves an open menu open
        button.click()
    page.locator(f".st-key-parley_md_{cid} button").filter(visible=True).wait_for()
    animations_done(page)


def animations_done(page) -> None:  # type: ignore[no-untyped-def]
    """No animation running on the page: what a click would land on has stopped moving."""
    page.wait_for_function("() => document.getAnimations().every((a) => a.playState !== 'running')")


def idle(page) -> None:  # type: ignore[no-untyped-def]
    """No run under way: a widget used during a run can have its value drawn over by that run."""
    page.wait_for_function(
        """() => document.querySelector("[data-test-script-state]")
            ?.getAttribute("data-test-script-state") === "notRunning" """
    )


def fill_signin(page, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    """The server-rendered sign-in page (chat/web/templates/signin.html), submitted."""
    page.locator("#username").fill(username)
    page.locator("#password").fill(password)
    page.locator("button[type=submit]").click()


def sign_in(page, server: Server, username: str = "alice") -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)  # the gate sends a visitor to /signin
    fill_signin(page, username, PASSWORDS[username])
    page.locator(CHAT_INPUT).wait_for()
    auth_cookie(page)  # noted for the end-of-run secrets check


def send(page, prompt: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator(CHAT_INPUT)
    box.fill(prompt)
    box.press("Enter")


def reply_settled(page) -> None:  # type: ignore[no-untyped-def]
    """The reply's actions are drawn (in the run that streamed it): one Regenerate button,
    in the last message. From then on the page holds still."""
    page.wait_for_function(
        """() => {
            const buttons = [...document.querySelectorAll("button")]
                .filter((b) => b.textContent.includes("Regenerate"));
            const messages = document.querySelectorAll("[data-testid='stChatMessage']");
            return buttons.length === 1 && messages.length > 0 && messages[messages.length - 1].contains(buttons[0]);
        }"""
    )


def assistant_text(page) -> str:  # type: ignore[no-untyped-def]
    messages = page.locator(MESSAGES)
    if messages.count() < 2:
        return ""
    return str(messages.nth(messages.count() - 1).inner_text())


def rows(server: Server) -> list[Message]:
    return logged_messages(server.database_url)


def auth_cookie(page) -> str | None:  # type: ignore[no-untyped-def]
    """The session cookie's value as the browser holds it. It is HttpOnly: only the browser
    context (never `document.cookie`) can show it."""
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    value = next((cookies[name] for name in SESSION_COOKIES if cookies.get(name)), None)
    if value:
        COOKIES_SEEN.add(value)  # checked against logs, databases and pages at the end
    return value


def login_form_shown(page) -> bool:  # type: ignore[no-untyped-def]
    """The browser is on Parley's server-rendered sign-in page (no Streamlit there)."""
    page.wait_for_url("**/signin**")
    page.locator("#username").wait_for()
    return page.locator(CHAT_INPUT).count() == 0 and page.locator("[data-testid='stApp']").count() == 0


def signin_message(page) -> str:  # type: ignore[no-untyped-def]
    return str(page.locator("#signin-message").inner_text()).strip()


def test_sign_in_stream_reload_sign_out(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    words = [f"token{i}" for i in range(40)]
    server.fake.enqueue(FakeReply(text=" ".join(words), delay=0.05))
    sign_in(page, server)
    send(page, "Stream me something")
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while "token39" not in (text := assistant_text(page)) and time.monotonic() < deadline:
        if text and (not seen or seen[-1] != text):
            seen.append(text)
        time.sleep(0.05)
    assert "token39" in assistant_text(page)
    # The reply grew on screen in several steps, in order: it streamed.
    partial = [text for text in seen if "token0" in text and "token39" not in text]
    assert len(partial) >= 3, seen
    assert all(len(a) <= len(b) for a, b in zip(partial, partial[1:], strict=False))
    reply_settled(page)  # the last token is on screen a moment before the reply's final save
    reply = rows(server)[-1]
    assert reply.role == "assistant" and reply.status == "complete" and reply.content == " ".join(words)

    assert auth_cookie(page) is not None  # set by the sign-in's own HTTP response
    page.reload()
    page.locator(CHAT_INPUT).wait_for()  # still signed in: the cookie
    page.get_by_text("Stream me something").first.wait_for()  # the conversation too (its URL)
    assert page.locator("#username").count() == 0

    page.get_by_role("button", name="Sign out", exact=True).click()  # the sidebar's form, posted to /signout
    assert login_form_shown(page)
    assert signin_message(page) == SIGNED_OUT
    assert auth_cookie(page) is None  # cleared by the sign-out's response
    page.reload()
    assert login_form_shown(page)
    page.goto(server.url)
    assert login_form_shown(page)


@pytest.mark.parametrize("username", ["alice", "nobody-by-this-name"])
def test_a_wrong_password_gets_the_generic_message(page, server: Server, username: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    fill_signin(page, username, "not-her-password")
    page.locator("#signin-message").wait_for()
    assert signin_message(page) == "Incorrect username or password."
    assert page.locator(CHAT_INPUT).count() == 0 and auth_cookie(page) is None
    # The username is kept for the next try; the password is not in the page at all.
    assert page.locator("#username").input_value() == username
    assert page.locator("#password").input_value() == ""
    assert "not-her-password" not in page.content()
    page.locator("#password").fill(PASSWORDS["alice"])
    if username != "alice":
        page.locator("#username").fill("alice")
    page.locator("button[type=submit]").click()
    page.locator(CHAT_INPUT).wait_for()


def test_markup_in_a_reply_is_shown_as_text(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    attack = "<img src=x onerror=alert(1)> and <script>alert(2)</script>"
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    server.fake.enqueue(FakeReply(text=attack))
    sign_in(page, server)
    send(page, attack)
    page.locator(MESSAGES).nth(1).get_by_text("alert(2)", exact=False).wait_for()
    reply_settled(page)  # drawn for good: no element of it is still to come
    chat = page.locator(MESSAGES)
    assert chat.locator("img[src='x']").count() == 0 and chat.locator("script").count() == 0
    # A dialog of our own, after the reply: seen alone, it shows that none came before it.
    page.evaluate("() => alert('after the reply')")
    assert dialogs == ["after the reply"]
    assert "<img src=x onerror=alert(1)>" in chat.nth(0).inner_text()
    assert "<img src=x onerror=alert(1)>" in chat.nth(1).inner_text()


def test_an_image_in_a_reply_is_never_fetched(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    # A prompt-injected reply that would send data out through an image URL.
    beacon = f"{server.fake.base_url}/beacon.png?q=salary-123456"
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    server.fake.enqueue(FakeReply(text=f"Done. ![status]({beacon}) and `![kept](as-code)`", delay=0.01))
    sign_in(page, server)
    send(page, "Summarise my document")
    reply_settled(page)
    reply = page.locator(MESSAGES).nth(1)
    assert reply.locator("img").count() == 0
    assert reply.get_by_role("link", name="image: status").get_attribute("href") == beacon
    # As written, to the eye: the reply holds a link, so the code's `![` carries an
    # invisible word joiner (see chat/ui/markdown.py).
    assert "![kept](as-code)" in reply.inner_text().replace("\u2060", "")
    assert not any("beacon.png" in url for url in requested)


def test_every_url_shows_only_the_login_form(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    for path in ("/", "/chat", "/admin", "/no-such-page", "/history?c=abc"):
        page.goto(server.url + path)
        assert login_form_shown(page)
        assert page.locator(MESSAGES).count() == 0
        expected = "" if path == "/" else path
        assert page.locator("input[name=next]").get_attribute("value") == (expected or "/")


def test_sign_in_leads_back_to_the_page_asked_for(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url + "/history")
    assert login_form_shown(page)
    fill_signin(page, "alice", PASSWORDS["alice"])
    page.wait_for_url(f"{server.url}/history")
    page.get_by_role("heading", name="History").wait_for()


def test_a_prompt_sent_right_after_sign_in_gets_its_reply(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    server.fake.enqueue(FakeReply(text="You were quick, and here is the whole reply.", delay=0.03))
    page.goto(server.url)
    fill_signin(page, "bob", PASSWORDS["bob"])
    box = page.locator(CHAT_INPUT)
    box.wait_for()
    box.fill("Hello at once")
    box.press("Enter")
    page.get_by_text("here is the whole reply.").wait_for()
    reply_settled(page)  # the reply is saved and the page has rerun: nothing late can come
    assert "here is the whole reply." in assistant_text(page)
    bob = [m for m in rows(server) if m.username == "bob"]
    assert [(m.role, m.status) for m in bob] == [("user", "complete"), ("assistant", "complete")]
    assert auth_cookie(page) is not None
    page.reload()
    page.locator(CHAT_INPUT).wait_for()


def test_the_stop_button_keeps_the_partial_reply(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"slow{i}" for i in range(200))
    server.fake.enqueue(FakeReply(text=words, delay=0.05))
    sign_in(page, server, "admin")
    send(page, "Say a lot")
    page.get_by_text("slow5", exact=False).wait_for()
    # The one Stop control while a reply streams: the reply's own button (no other on the page).
    assert page.get_by_role("button", name="Stop", exact=True).count() == 1
    page.get_by_role("button", name="Stop", exact=True).click()
    reply = wait_until(
        lambda: (
            (mine := [m for m in rows(server) if m.username == "admin" and m.role == "assistant"])
            and mine[-1].status != "streaming"
            and mine[-1]
        ),
        10,
        "the stopped reply in the log",
        every=0.1,
    )
    assert reply.status == "stopped" and reply.content.startswith("slow0 slow1") and "slow199" not in reply.content
    # At once, with no other action: the whole reply as saved, its "Stopped." note, its actions,
    # and the prompt's Edit; no Stop button left.
    reply_settled(page)
    stopped = page.locator(MESSAGES).nth(1)
    page.get_by_text("Stopped.").wait_for()
    assert reply.content in stopped.inner_text()
    assert page.get_by_role("button", name="Edit").count() == 1
    assert page.get_by_role("button", name="Stop", exact=True).count() == 0
    # The next prompt works and carries the partial reply as context.
    server.fake.enqueue(FakeReply(text="Continuing."))
    send(page, "Go on")
    page.get_by_text("Continuing.").wait_for()
    sent = server.fake.chat_requests[-1].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": reply.content}


def session_of_an_unknown_user(server: Server) -> str:
    """A live session row for a username auth.yaml does not have."""
    token = new_token()
    now = datetime.now(UTC)
    engine = create_engine(server.database_url)
    try:
        with Session(engine) as session, session.begin():
            signins.create(
                session,
                token=token,
                username="mallory",
                password_hash="$2b$04$" + "x" * 53,
                address="127.0.0.1",
                now=now,
                expires_at=now + timedelta(days=1),
            )
    finally:
        engine.dispose()
    return token


# Chromium refuses to store these ("Invalid cookie fields"): test_signin_http.py sends them raw.
NOT_A_BROWSER_COOKIE = ("a NUL", "a newline")


@pytest.mark.parametrize(
    "name",
    [*(name for name in BENT_TOKENS if name not in NOT_A_BROWSER_COOKIE), "well formed, no session", "unknown user"],
)
def test_a_bent_cookie_gets_the_login_form_and_is_deleted(page, server: Server, name: str) -> None:  # type: ignore[no-untyped-def]
    if name == "well formed, no session":
        cookie = new_token()
    elif name == "unknown user":
        cookie = session_of_an_unknown_user(server)
    else:
        cookie = BENT_TOKENS[name]
    page.context.add_cookies([{"name": "parley_session", "value": cookie, "url": server.url}])
    page.goto(server.url + "/history")
    assert login_form_shown(page)
    assert "reason=expired" in page.url and "next=%2Fhistory" in page.url
    assert signin_message(page) == EXPIRED
    assert auth_cookie(page) is None  # cleared by the redirect that sent the browser here
