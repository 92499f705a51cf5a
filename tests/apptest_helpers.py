"""Driving the whole app (router.py and its pages) with Streamlit's AppTest."""

from __future__ import annotations

from collections.abc import Sequence
from html.parser import HTMLParser

from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block, Html, Markdown

from chat.accounts import signins
from chat.settings import Settings
from chat.turns import wiring
from chat.ui.identity import TEST_SESSION
from chat.ui.verbatim import CLASS
from tests.conftest import PASSWORDS, ROOT


def new_app() -> AppTest:
    """The page script (`router.py`) under AppTest, before anyone signs in."""
    app = AppTest.from_file(str(ROOT / "router.py"), default_timeout=20)
    return app.run()


def session_for(username: str = "alice", password: str | None = None) -> str:
    """A real sign-in (the password checked under the throttle, a session row written), as
    `POST /signin` makes it; the session's hash."""
    accounts = wiring.shared(Settings.from_env()).accounts
    result = accounts.sign_in(
        username, PASSWORDS[username.strip().lower()] if password is None else password, "127.0.0.1"
    )
    if result.token is None:
        raise AssertionError(f"sign-in refused: {result.error}")
    return signins.token_hash(result.token)


def sign_in(app: AppTest, username: str = "alice", password: str | None = None) -> AppTest:
    """Hand a session to the page through its one test hook (`chat/ui/identity.py`): AppTest
    carries no cookie, and only a run with no request behind it reads the hook."""
    app.session_state[TEST_SESSION] = session_for(username, password)
    return app.run()


def send(app: AppTest, prompt: str, files: Sequence[tuple[str, bytes]] = ()) -> AppTest:
    """A prompt sent, and the page as a browser then shows it. The prompt's callback reruns only
    the chat's fragments (chat/ui/prompt.py), and AppTest's tree holds only what a run drew, where
    a browser keeps the rest of the page: a full run draws the whole of it again."""
    try:
        chat = app.session_state["parley_chat"]
    except KeyError:
        chat = None  # AppTest's session state has no `.get`
    fragments_only = getattr(chat, "conversation_id", None) is not None  # the callback's own rule
    if not app.chat_input:
        app.run()  # the last run was fragments' only (a click in the chat): the whole page, as a browser has it
    for name, data in files:
        app.chat_input[0].upload(name, data)
    app.chat_input[0].set_value(prompt)
    app.run()
    # A run that went on to the whole page (a refused prompt, a session that ended) drew it all.
    return app.run() if fragments_only and not app.chat_input else app


def chat_texts(app: AppTest) -> list[tuple[str, str]]:
    """(role, text) for every chat message on screen, in order: a reply's Markdown source,
    a prompt's text as the browser shows it (`verbatim_text`)."""
    return [(message.name, "\n".join(message_texts(message))) for message in app.chat_message]


def message_texts(block: Block) -> list[str]:
    """The Markdown and verbatim blocks drawn inside `block`, in order."""
    out = []
    for node in block:
        if isinstance(node, Markdown) and node.type == "markdown":
            out.append(node.value)
        elif isinstance(node, Html) and CLASS in node.value:
            out.append(verbatim_text(node.value))
    return out


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data


def verbatim_text(body: str) -> str:
    """The text a `draw_verbatim` block shows; refuses any tag but Parley's own."""
    parser = _TextOf()
    parser.feed(body)
    parser.close()
    if set(parser.tags) - {"div", "strong"} or parser.tags.count("div") != 1:
        raise AssertionError(f"markup in a verbatim block: {parser.tags}")
    return parser.text
