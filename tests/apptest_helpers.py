"""Driving the whole app (router.py and its pages) with Streamlit's AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from chat.accounts import signins
from chat.settings import Settings
from chat.turns import wiring
from chat.ui.identity import TEST_SESSION
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


def send(app: AppTest, prompt: str) -> AppTest:
    app.chat_input[0].set_value(prompt)
    return app.run()


def chat_texts(app: AppTest) -> list[tuple[str, str]]:
    """(role, markdown) for every chat message on screen, in order."""
    out = []
    for message in app.chat_message:
        text = "\n".join(md.value for md in message.markdown)
        out.append((message.name, text))
    return out
