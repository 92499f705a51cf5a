"""Driving the whole app (app.py and its pages) with Streamlit's AppTest."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from tests.conftest import PASSWORDS, ROOT


def new_app() -> AppTest:
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=20)
    return app.run()


def sign_in(app: AppTest, username: str = "alice", password: str | None = None) -> AppTest:
    app.text_input[0].input(username)
    app.text_input[1].input(PASSWORDS[username.strip().lower()] if password is None else password)
    app.button[0].click()
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
