"""The prompt box and sending: a submitted prompt becomes a turn before anything is drawn.

The box is drawn by the page's script, outside the chat's fragments, so that Streamlit pins it
to the bottom and keeps the page scrolled to the newest message (it does both only for a chat
input of the page's own body). A submission would rerun the whole page; its callback reruns
only the fragment of the last turns instead, and the earlier messages' too when the last turns
have grown past `FOLD_AFTER` (`chat/ui/chat_area.py`).
"""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.errors import ChatError, InputError, SignedOutError
from chat.turns.service import ChatService, clean_prompt
from chat.ui.reruns import rerun_page
from chat.ui.state import PROMPT, ChatState, chat_state

# The fragments' keys (`chat/ui/chat_area.py`), for the reruns the prompt box asks for.
EARLIER_FRAGMENT = "parley_earlier"
TURNS_FRAGMENT = "parley_turns"
# How many turns the last turns' fragment draws before a prompt moves them up to the earlier
# messages' (one run of both fragments then); every other prompt's run draws only these.
FOLD_AFTER = 4
# How long a prompt sent as the last reply's last words showed waits for that reply's save.
SAVE_WAIT = 5.0
ENDING_WAIT = 1.0  # and for its end, when words may still come: a prompt sent mid-reply is refused after it


def prompt_input(chat: ChatState) -> None:
    """The chat input; a prompt that was refused comes back into it.

    The submitted prompt is taken by a callback into `chat.pending_prompt`, which
    Streamlit runs before the script: a rerun that interrupts this run (a click while
    it runs) cannot lose it, as it could lose the widget's one-shot return value.
    `send` clears it once the turn has started.
    """
    if chat.restore_prompt is not None:
        st.session_state[PROMPT] = chat.restore_prompt
        chat.restore_prompt = None  # only once the text is in the box
    # No `max_chars`: Streamlit would silently cut a longer prompt. `send` refuses it
    # with a message instead and hands the whole text back for editing.
    # "submit": the input stays as it is while a reply streams (you may write the next message);
    # the reply's own Stop button is the one Stop control (`chat/ui/conversation.py`).
    st.chat_input("Message Parley", key=PROMPT, submit_mode="submit", on_submit=_keep_prompt)


def _keep_prompt() -> None:
    value = st.session_state.get(PROMPT)
    if not isinstance(value, str):
        return
    chat = chat_state()
    chat.pending_prompt = value
    if chat.conversation_id is None:
        return  # a new conversation: the whole page, whose sidebar lists it
    chat.fold = sum(m.role == "user" for m in chat.history[chat.split :]) >= FOLD_AFTER
    st.rerun([EARLIER_FRAGMENT, TURNS_FRAGMENT] if chat.fold else TURNS_FRAGMENT)


def send(chat: ChatState, raw: str | None, user: SignedIn, service: ChatService) -> bool:
    """Start a turn for a submitted prompt, before anything is drawn. True if started.

    Nothing here touches Streamlit (not even `st.session_state`, whose every access
    may raise a pending rerun), so a rerun arriving now cannot split a turn.
    """
    chat.pending_prompt = None  # taken: from here on it is a turn, or back in the input box
    try:
        prompt = clean_prompt(raw, service.settings.max_prompt_chars)
        if prompt is None:
            return False
        chat.settle()  # a reply stopped in the last run is context now
        if chat.turn is not None:
            # Sent as the last words showed: the stream's end or the reply's save may still be under
            # way. Wait for them rather than call it "still answering" (a reply that is, a little).
            chat.turn.wait(SAVE_WAIT if chat.turn.text_complete else ENDING_WAIT)
            chat.settle()
        if chat.turn is not None:
            raise InputError("Parley is still answering. Wait for the reply, or stop it, then send again.")
        turn = service.start_turn(
            username=user.username,
            conversation_id=chat.conversation_id,
            history=chat.history,
            prompt=prompt,
            options=chat.options,
            quota=user.quota,
            session=user.session_hash,
        )
    except SignedOutError:
        chat.pending_prompt = raw  # the page's next run finds the session ended and shows it to copy
        rerun_page()
    except ChatError as error:
        chat.notice = error.message
        chat.restore_prompt = raw
        rerun_page()  # the prompt box is the page's: only its run puts the text back
    chat.conversation_id = turn.conversation_id
    chat.options = turn.options
    chat.not_found = False
    chat.history.append(turn.prompt_message())
    chat.turn, chat.editing = turn, None
    if turn.unlogged:
        chat.warning = turn.notices[0]
    return True
