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

import streamlit as st

from chat.settings import Settings
from chat.ui.conversation import draw_earlier, draw_turns
from chat.ui.navigation import sync_url
from chat.ui.prompt import EARLIER_FRAGMENT, TURNS_FRAGMENT, send
from chat.ui.reruns import rerun_page
from chat.ui.resources import chat_service
from chat.ui.sidebar import show_usage
from chat.ui.signin import fragment_user
from chat.ui.state import chat_state


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
    usage = st.sidebar.empty()
    show_usage(usage, chat)  # before the reply streams: the place is taken at once
    draw_turns(chat, user, service, settled=lambda: show_usage(usage, chat))
