"""The part of the chat screen a turn changes, run as one fragment: the prompt box, sending,
the conversation's last messages and the reply being streamed, and the conversation's usage.

A widget inside a fragment reruns only the fragment, so a prompt, Stop, Regenerate, Edit or a
rating costs what the conversation's last messages cost to draw (`SHOWN` in
`chat/ui/conversation.py`), not the whole page: the sidebar's list and the options are drawn
by full runs only. A full run is asked for when they change: the first prompt of a new
conversation (the sidebar lists it), a session that ended (the page's check says why).
"""

from __future__ import annotations

import streamlit as st

from chat.settings import Settings
from chat.ui.conversation import draw_conversation
from chat.ui.navigation import sync_url
from chat.ui.prompt import prompt_input, send
from chat.ui.reruns import rerun_page
from chat.ui.resources import chat_service
from chat.ui.sidebar import show_usage
from chat.ui.signin import fragment_user
from chat.ui.state import chat_state


@st.fragment
def chat_area(settings: Settings) -> None:
    user = fragment_user(settings)  # a fragment's rerun does not pass through router.py's check
    service = chat_service(settings)
    chat = chat_state()
    with st.bottom:
        prompt = prompt_input(chat)
    new = chat.conversation_id is None
    if send(chat, prompt, user, service) and new:
        rerun_page()  # the sidebar lists the new conversation; the page's run streams the reply
    sync_url(chat)
    usage = st.sidebar.empty()
    show_usage(usage, chat)  # before the reply streams: the place is taken at once
    draw_conversation(chat, user, service, settled=lambda: show_usage(usage, chat))
