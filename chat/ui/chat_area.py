"""The part of the chat screen that turns change, as two fragments: the earlier messages, and
the last turns with the reply being streamed and the conversation's usage.

A prompt (its box is the page's, `chat/ui/prompt.py`), Stop, Regenerate or Edit reruns only
`chat_turns`, which draws the turns since the line between the two (`chat.split`,
`chat/ui/conversation.py`): a few, however long the conversation is. Once they pass
`FOLD_AFTER`, the next prompt reruns both fragments, which moves the line to the last prompt.
The sidebar's list and the options are drawn by full runs of the page: when it loads or a
conversation opens, and when the first prompt of a new conversation is sent (the sidebar lists it).
"""

from __future__ import annotations

import time

import streamlit as st

from chat.settings import Settings
from chat.turns.naming import Naming
from chat.ui.conversation import draw_earlier, draw_turns
from chat.ui.layout import page_sidebar
from chat.ui.navigation import sync_url
from chat.ui.prompt import EARLIER_FRAGMENT, TURNS_FRAGMENT, send
from chat.ui.reruns import check_for_interrupts, rerun_page
from chat.ui.resources import chat_service
from chat.ui.sidebar import show_usage
from chat.ui.signin import fragment_user
from chat.ui.state import chat_state

TITLE_WAIT = 5.0  # seconds a run waits, after a new conversation's first reply, for its title


@st.fragment(key=EARLIER_FRAGMENT)
def earlier_messages(settings: Settings) -> None:
    user = fragment_user(settings)  # a fragment's rerun does not pass through router.py's check
    draw_earlier(chat_state(), user, chat_service(settings))


@st.fragment(key=TURNS_FRAGMENT)
def chat_turns(settings: Settings) -> None:
    user = fragment_user(settings)
    service = chat_service(settings)
    chat = chat_state()
    new = chat.conversation_id is None
    if send(chat, chat.pending_prompt, user, service) and new:
        rerun_page()  # the sidebar lists the new conversation; the page's run streams the reply
    sync_url(chat)
    usage = page_sidebar().empty()  # below the conversation list, above the account
    show_usage(usage, chat)  # before the reply streams: the place is taken at once
    draw_turns(chat, user, service, settled=lambda: show_usage(usage, chat))
    naming, chat.naming = chat.naming, None
    if naming is not None:
        _list_under_its_new_title(naming)


def _list_under_its_new_title(naming: Naming) -> None:
    """A new conversation named by its model (chat/turns/titles.py): the sidebar, which only full
    runs draw, lists it under that name if the name comes within `TITLE_WAIT`; else the next full
    run does. The page stays usable meanwhile: a prompt or a click cuts the wait short."""
    deadline = time.monotonic() + TITLE_WAIT
    while not naming.settled and time.monotonic() < deadline:
        naming.wait(0.1)
        check_for_interrupts()
    if naming.title is not None:
        rerun_page()
