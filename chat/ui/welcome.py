"""A new chat's first screen: a greeting, a few prompts to start from (a click sends one), and the
cursor in the prompt box.

It takes one place on the page, run after run: once a conversation starts, the run draws an empty
element there, so the greeting never stays up, stale, while the first reply streams."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.ui.components import focus_prompt
from chat.ui.markdown import plain
from chat.ui.state import ChatState

# (what the button says, the prompt it sends): one of each kind of answer Parley draws well.
SUGGESTIONS = (
    ("Explain public-key cryptography", "Explain how public-key cryptography works, with an everyday analogy."),
    ("Write a Python function", "Write a Python function that checks whether a string is a palindrome, with tests."),
    ("Draft an email", "Draft a short, friendly email asking my team for feedback on a proposal."),
    ("Compare in a table", "Compare Python, JavaScript and Go in a table: typing, speed and typical uses."),
)


def welcome(chat: ChatState, user: SignedIn) -> None:
    """The greeting and the suggested prompts, on a new chat that has nothing in it yet."""
    place = st.empty()
    if chat.conversation_id is not None or chat.history or chat.turn is not None or chat.pending_prompt is not None:
        return
    with place.container(key="parley_welcome"):
        st.subheader(f"Hello, {plain(user.name)}. What can I help with?", anchor=False)
        with st.container(horizontal=True, gap="small"):
            for number, (label, prompt) in enumerate(SUGGESTIONS):
                st.button(label, key=f"parley_suggest_{number}", help=prompt, on_click=_suggest, args=(chat, prompt))
        focus_prompt()


def _suggest(chat: ChatState, prompt: str) -> None:
    # As a prompt typed into a new chat: the page's run sends it (`chat/ui/chat_area.py`).
    chat.pending_prompt = prompt
