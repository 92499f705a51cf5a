"""What only a browser shows: the cookie across reloads, streaming on screen, markup as text."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from chat.accounts.signins import new_token
from chat.db.tables import Message
from tests.conftest import PASSWORDS, TEST_COOKIE_KEY, logged_messages
from tests.e2e.conftest import COOKIES_SEEN, Server
from tests.fake_openai import FakeReply
from tests.unit.test_auth import BENT_TOKENS
from tests.waiting import wait_until

pytestmark = pytest.mark.browser

CHAT_INPUT = "textarea[data-testid='stChatInputTextArea']"
MESSAGES = "[data-testid='stChatMessage']"


# Streamlit marks its app with the state of the script (data-test-script-state). Installed
# before a page loads, this keeps each change of that state, with whether the sign-in cookie
# was there, so that a test can wait for a run to have ended instead of sleeping.
SCRIPT_RUNS = """
window.parleyRuns = [];
new MutationObserver(() => {
  const state = document.querySelector("[data-test-script-state]")?.getAttribute("data-test-script-state");
  const runs = window.parleyRuns;
  if (state && runs[runs.length - 1]?.state !== state) {
    runs.push({ state, cookie: document.cookie.includes("parley_session=") });
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-test-script-state"] });
"""


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


def cookie_rerun_passed(page) -> None:  # type: ignore[no-untyped-def]
    """The run the sign-in cookie's confirmation asks for has ended: the last run ended with the
    cookie written (the component writes it and asks for that run in one step)."""
    page.wait_for_function(
        "() => { const last = window.parleyRuns.at(-1); return last?.state === 'notRunning' && last.cookie; }"
    )


def sign_in(page, server: Server, username: str = "alice") -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.get_by_role("textbox", name="Username").fill(username)
    page.get_by_role("textbox", name="Password").fill(PASSWORDS[username])
    page.get_by_role("button", name="Sign in").click()
    page.locator(CHAT_INPUT).wait_for()


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
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    value = cookies.get("parley_session")
    if value:
        COOKIES_SEEN.add(value)  # checked against logs, databases and pages at the end
    return value


def wait_for_cookie(page, *, present: bool, seconds: float = 30) -> bool:  # type: ignore[no-untyped-def]
    """Cookies are written and deleted by components in the browser, a moment after a run."""
    deadline = time.monotonic() + seconds
    while (auth_cookie(page) is not None) != present and time.monotonic() < deadline:
        time.sleep(0.05)
    return (auth_cookie(page) is not None) == present


def login_form_shown(page) -> bool:  # type: ignore[no-untyped-def]
    page.get_by_role("textbox", name="Username").wait_for()
    page.locator(CHAT_INPUT).wait_for(state="detached")  # elements of the run before go at its end
    return page.locator(CHAT_INPUT).count() == 0


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

    assert wait_for_cookie(page, present=True)
    page.reload()
    page.locator(CHAT_INPUT).wait_for()  # still signed in: the cookie
    assert page.get_by_role("textbox", name="Username").count() == 0

    assert auth_cookie(page) is not None
    page.get_by_role("button", name="Sign out").click()
    assert login_form_shown(page)
    # The cookie is deleted by a component in the browser, a moment after the form shows.
    assert wait_for_cookie(page, present=False)
    page.reload()
    assert login_form_shown(page)


def test_a_wrong_password_gets_the_generic_message(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    page.goto(server.url)
    page.get_by_role("textbox", name="Username").fill("alice")
    page.get_by_role("textbox", name="Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Incorrect username or password.").wait_for()
    assert page.locator(CHAT_INPUT).count() == 0
    # The form is cleared: the typed password is not left in the page (React mirrors an
    # input's value into its attribute, which page.content() would show).
    page.wait_for_function("() => !document.documentElement.outerHTML.includes('not-her-password')")
    assert page.get_by_role("textbox", name="Password").input_value() == ""


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
    for path in ("/", "/chat", "/admin", "/no-such-page"):
        page.goto(server.url + path)
        assert login_form_shown(page)
        assert page.locator(MESSAGES).count() == 0


def test_a_prompt_sent_right_after_sign_in_gets_its_reply(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """The cookie component reruns the page just after sign-in; a prompt sent then survives it."""
    server.fake.enqueue(FakeReply(text="You were quick, and here is the whole reply.", delay=0.03))
    page.goto(server.url)
    page.get_by_role("textbox", name="Username").fill("bob")
    page.get_by_role("textbox", name="Password").fill(PASSWORDS["bob"])
    page.get_by_role("button", name="Sign in").click()
    box = page.locator(CHAT_INPUT)
    box.wait_for()
    box.fill("Hello at once")
    box.press("Enter")
    page.get_by_text("here is the whole reply.").wait_for()
    reply_settled(page)  # the reply is saved and the page has rerun: nothing late can come
    assert "here is the whole reply." in assistant_text(page)
    bob = [m for m in rows(server) if m.username == "bob"]
    assert [(m.role, m.status) for m in bob] == [("user", "complete"), ("assistant", "complete")]
    # The sign-in cookie gets written although a run started before its component had loaded.
    assert wait_for_cookie(page, present=True)
    page.reload()
    page.locator(CHAT_INPUT).wait_for()


def test_the_stop_button_keeps_the_partial_reply(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"slow{i}" for i in range(200))
    server.fake.enqueue(FakeReply(text=words, delay=0.05))
    watch_runs(page)
    sign_in(page, server, "admin")
    # The stop button belongs to the run the prompt started: let the sign-in cookie's own
    # rerun pass first, or that rerun takes the stream over without a stop button.
    assert wait_for_cookie(page, present=True)
    cookie_rerun_passed(page)
    send(page, "Say a lot")
    page.get_by_text("slow5", exact=False).wait_for()
    page.locator("[data-testid='stChatInputStopButton']").click()  # the send button is a stop button now
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
    # On screen now: what had been drawn when the script stopped (a prefix of what was saved).
    shown = assistant_text(page).split("\n\n", 1)[1]
    assert shown and reply.content.startswith(shown)
    # The next prompt works, carries the partial reply as context, and the chat shows it in full.
    server.fake.enqueue(FakeReply(text="Continuing."))
    send(page, "Go on")
    page.get_by_text("Continuing.").wait_for()
    sent = server.fake.chat_requests[-1].body["messages"]
    assert sent[-2] == {"role": "assistant", "content": reply.content}
    stopped = page.locator(MESSAGES).nth(1)
    assert reply.content in stopped.inner_text() and "Stopped." in stopped.inner_text()


@pytest.mark.parametrize("name", [*BENT_TOKENS, "signed, no session", "unknown user"])
def test_a_bent_cookie_gets_the_login_form_and_is_deleted(page, server: Server, name: str) -> None:  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    if name == "signed, no session":
        cookie, _ = new_token("alice", TEST_COOKIE_KEY, now=now, lifetime=timedelta(days=1))
    elif name == "unknown user":
        cookie, _ = new_token("mallory", TEST_COOKIE_KEY, now=now, lifetime=timedelta(days=1))
    else:
        cookie = BENT_TOKENS[name]
    page.context.add_cookies([{"name": "parley_session", "value": cookie, "url": server.url}])
    page.goto(server.url)
    assert login_form_shown(page)
    page.get_by_text("Your sign-in has expired or is no longer valid").wait_for()
    assert page.locator("[data-testid='stException']").count() == 0
    assert wait_for_cookie(page, present=False)
