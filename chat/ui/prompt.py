"""The prompt box and sending: a submitted prompt becomes a turn before anything is drawn.

The box is drawn by the page's script, outside the chat's fragments, so that Streamlit pins it
to the bottom and keeps the page scrolled to the newest message (it does both only for a chat
input of the page's own body). A submission would rerun the whole page; its callback reruns
only the new turn's fragment and the one before it instead, or every fragment of the
conversation once its turns' slots are full (`chat/ui/turn_slots.py`).
"""

from __future__ import annotations

import streamlit as st
from streamlit.typing import ChatInputValue

from chat.accounts.auth import SignedIn
from chat.errors import ChatError, InputError, SignedOutError
from chat.files.kinds import EXTENSIONS
from chat.settings import Settings
from chat.turns.service import ChatService, Turn, clean_prompt
from chat.ui.attachments import upload_limit, waiting_chips
from chat.ui.reruns import rerun_page
from chat.ui.state import PROMPT, ChatState, chat_state
from chat.ui.turn_slots import rerun_for_prompt

# How long a prompt sent as the last reply's last words showed waits for that reply's save.
SAVE_WAIT = 5.0
ENDING_WAIT = 1.0  # and for its end, when words may still come: a prompt sent mid-reply is refused after it


def prompt_input(chat: ChatState, settings: Settings) -> None:
    """The chat input (with files, unless attachments are off); a prompt that was refused comes back
    into it, and its files wait above it (`waiting_files`).

    The submitted prompt is taken by a callback into `chat.pending_prompt` (its files into
    `chat.pending_uploads`), which Streamlit runs before the script: a rerun that interrupts
    this run (a click while it runs) cannot lose it, as it could lose the widget's one-shot
    return value. `send` clears it once the turn has started.
    """
    if chat.restore_prompt is not None:
        st.session_state[PROMPT] = chat.restore_prompt
        chat.restore_prompt = None  # only once the text is in the box
    waiting_chips(chat)
    # No `max_chars`: Streamlit would silently cut a longer prompt. `send` refuses it
    # with a message instead and hands the whole text back for editing.
    # "submit": the input stays as it is while a reply streams (you may write the next message);
    # the reply's own Stop button is the one Stop control (`chat/ui/conversation.py`).
    if not settings.attachments:
        st.chat_input("Message Parley", key=PROMPT, submit_mode="submit", on_submit=_keep_prompt)
        return
    # The browser's checks; the server checks sizes and types again, by content (chat/files/).
    st.chat_input(
        "Message Parley",
        key=PROMPT,
        submit_mode="submit",
        on_submit=_keep_prompt,
        accept_file="multiple",
        file_type=list(EXTENSIONS),
        max_upload_size=upload_limit(settings),
    )


def _keep_prompt() -> None:
    value = st.session_state.get(PROMPT)
    if isinstance(value, ChatInputValue):
        text, uploads = value.text, [(file.name, file.getvalue()) for file in value.files]
    elif isinstance(value, str):
        text, uploads = value, []
    else:
        return
    chat = chat_state()
    chat.pending_prompt, chat.pending_uploads = text, uploads
    if chat.conversation_id is None or chat.waiting_files:
        return  # the whole page: a new conversation's sidebar lists it; files above the box go with it
    rerun_for_prompt(chat)


def send(chat: ChatState, raw: str | None, user: SignedIn, service: ChatService) -> bool:
    """Start a turn for a submitted prompt, before anything is drawn. True if started.

    Nothing here touches Streamlit (not even `st.session_state`, whose every access
    may raise a pending rerun), so a rerun arriving now cannot split a turn.
    """
    chat.pending_prompt, uploads = None, chat.pending_uploads  # taken: a turn, or back in the box
    chat.pending_uploads = []
    try:
        chat.waiting_files += service.files.take(user.username, uploads, waiting=chat.waiting_files)  # kept
        prompt = clean_prompt(raw, service.settings.max_prompt_chars)
        if prompt is None and raw is not None and chat.waiting_files:
            raise InputError("Write a message to go with your files (they wait above the box).")
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
        turn = _start(chat, prompt, user, service)
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
    chat.turn, chat.editing, chat.waiting_files, chat.resend_of = turn, None, [], None
    chat.restore_prompt = None  # a refusal settled just now (`settle` above) gave back text this prompt replaced
    if turn.unlogged:
        chat.warning = turn.notices[0]
    return True


def _start(chat: ChatState, prompt: str, user: SignedIn, service: ChatService) -> Turn:
    """A new prompt's turn; after a model refused the last prompt's pictures, a new version of that
    prompt instead (it and its error leave the branch, and so do its pictures unless kept above the box)."""
    refused = chat.resend_of
    if refused is not None and chat.conversation_id is not None and any(m.id == refused for m in chat.history):
        turn = service.edit_prompt(
            username=user.username,
            conversation_id=chat.conversation_id,
            prompt=prompt,
            message_id=refused,
            quota=user.quota,
            session=user.session_hash,
            attachments=chat.waiting_files,
        )
        chat.history = chat.history[: next(i for i, m in enumerate(chat.history) if m.id == refused)]
        return turn
    return service.start_turn(
        username=user.username,
        conversation_id=chat.conversation_id,
        history=chat.history,
        prompt=prompt,
        options=chat.options,
        quota=user.quota,
        session=user.session_hash,
        attachments=chat.waiting_files,
    )
