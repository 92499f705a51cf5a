"""The part of the chat screen that turns change: the earlier messages, and each turn since the
line between them in a slot of its own (`chat/ui/turn_slots.py`), all fragments.

A prompt (its box is the page's, `chat/ui/prompt.py`) reruns its own slot and the one before;
Stop, Regenerate, a rating or opening Edit rerun the slot they are in; a version chosen or an edit
sent, every fragment of the conversation (`chat/ui/actions.py`). The sidebar's list and the
options are drawn by full runs of the page: when it loads or a conversation opens, and when the
first prompt of a new conversation is sent (the sidebar lists it).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import streamlit as st

from chat.settings import Settings
from chat.turns.naming import Naming
from chat.ui.conversation import draw_earlier, draw_turns
from chat.ui.navigation import sync_url
from chat.ui.prompt import send
from chat.ui.reruns import check_for_interrupts, rerun_page
from chat.ui.resources import chat_service
from chat.ui.signin import fragment_user
from chat.ui.state import chat_state
from chat.ui.turn_slots import EARLIER_FRAGMENT, TURN_SLOTS, last_slot, next_slot, ordered, slot_key

TITLE_WAIT = 5.0  # seconds a run waits, after a new conversation's first reply, for its title


@st.fragment(key=EARLIER_FRAGMENT)
def earlier_messages(settings: Settings) -> None:
    user = fragment_user(settings)  # a fragment's rerun does not pass through router.py's check
    draw_earlier(chat_state(), user, chat_service(settings))


def chat_turns(settings: Settings) -> None:
    """The slots, in a full run of the page: placed in order, run with the one that may stream last."""
    places = [st.container() for _ in range(TURN_SLOTS)]
    for index in ordered(range(TURN_SLOTS), next_slot(chat_state())):
        with places[index]:
            _SLOTS[index](settings)


def _draw_slot(settings: Settings, index: int) -> None:
    user = fragment_user(settings)
    service = chat_service(settings)
    chat = chat_state()
    new = chat.conversation_id is None
    # Whichever slot runs first sends a waiting prompt: the others then draw the turns as they are.
    if send(chat, chat.pending_prompt, user, service) and new:
        rerun_page()  # the sidebar lists the new conversation; the page's run streams the reply
    if index != last_slot(chat):
        draw_turns(chat, user, service, slot=index)
        return
    sync_url(chat)
    draw_turns(chat, user, service, slot=index)
    naming, chat.naming = chat.naming, None
    if naming is not None:
        _list_under_its_new_title(naming)


def _slot(index: int) -> Callable[[Settings], None]:
    def turn_slot(settings: Settings) -> None:
        _draw_slot(settings, index)

    turn_slot.__qualname__ = turn_slot.__name__ = f"turn_slot_{index}"
    return st.fragment(key=slot_key(index))(turn_slot)


_SLOTS = [_slot(index) for index in range(TURN_SLOTS)]


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
