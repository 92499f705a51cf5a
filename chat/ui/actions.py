"""What can be done with a message, in its actions place (chat/ui/message.py): a reply's versions,
thumbs, copy, usage and Regenerate; a prompt's versions and Edit, and the edit form.

Choosing a version, or sending an edit, may change messages above the last turns, which the
earlier messages' fragment draws: their callbacks rerun every fragment of the conversation with
`chat.fold` set, which moves the line between them (`chat/ui/turn_slots.py`).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import NoReturn

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chat.accounts.auth import SignedIn
from chat.domain.messages import ChatMessage
from chat.domain.status import ReplyStatus
from chat.errors import ChatError, InputError
from chat.turns.service import ChatService, clean_prompt
from chat.ui.components import copy_button
from chat.ui.markdown import neutralise_images
from chat.ui.reruns import in_fragment_rerun
from chat.ui.signin import fragment_user
from chat.ui.state import ChatState, still_signed_in
from chat.ui.turn_slots import regenerate_key, rerun_conversation, rerun_newest
from chat.ui.wording import usage_label, usage_note

log = logging.getLogger(__name__)


def reply_actions(
    chat: ChatState,
    user: SignedIn,
    service: ChatService,
    message: ChatMessage,
    place: DeltaGenerator,
    *,
    last: bool,
    so_far: str | None = None,
) -> None:
    """Its versions, thumbs (not on an error), copy, usage on demand (with `so_far`, the
    conversation's total by then), and for the last reply, regenerate (in a fragment of its own,
    `regenerate_key`): a row of five places on one line."""
    if message.id is None or message.status == ReplyStatus.STREAMING:
        place.empty()
        return
    row = place.container(horizontal=True, vertical_alignment="center", gap="small")
    with row:
        _versions(chat, user, service, message)
        if message.status == ReplyStatus.ERROR:
            st.empty()  # nothing to rate
        else:
            st.feedback(
                "thumbs",
                key=f"parley_feedback_{message.id}",
                default=message.feedback,
                on_change=_save_feedback,
                args=(chat, user, service, message.id),
            )
        if message.content:
            copy_button(message.content, key=f"parley_copy_{message.id}")
        else:
            st.empty()
        _usage(message, so_far)
        if last:
            # As wide as the button, like the row's other places; no room at all once it holds none
            # (`chat/ui/components.py`).
            with st.container(width="content", key=f"parley_regenerate_place_{message.id}"):
                st.fragment(key=regenerate_key(message.id))(_regenerate_place)(chat, user, service, message.id)
        else:
            st.empty()  # where the last reply's Regenerate is: an earlier run's is drawn over


def _regenerate_place(chat: ChatState, user: SignedIn, service: ChatService, reply_id: int) -> None:
    """Regenerate, while this reply is the last one and nothing is being written or sent."""
    if in_fragment_rerun():
        user = fragment_user(service.settings)  # its own rerun (a prompt's) does not pass through router.py
    last = chat.history[-1] if chat.history else None
    if chat.turn is not None or chat.pending_prompt is not None or last is None or last.id != reply_id:
        st.empty()
        return
    st.button(
        "Regenerate",
        key="parley_regenerate",
        icon=":material/refresh:",
        type="tertiary",
        on_click=_regenerate,
        args=(chat, user, service),
    )


def prompt_actions(
    chat: ChatState, user: SignedIn, service: ChatService, message: ChatMessage, place: DeltaGenerator
) -> None:
    """Its versions and, to the right, Edit: a prompt the log holds can be edited wherever it is."""
    if message.id is None:
        place.empty()  # kept on disk until the log takes writes: nothing to edit yet
        return
    row = place.container(
        horizontal=True, vertical_alignment="center", gap="small", key=f"parley_prompt_actions_{message.id}"
    )
    with row:
        _versions(chat, user, service, message)
        with st.container(horizontal=True, horizontal_alignment="right"):
            st.button(
                "Edit",
                key=f"parley_edit_{message.id}",
                icon=":material/edit:",
                type="tertiary",
                on_click=_start_editing,
                args=(chat, message.id),
            )


def _versions(chat: ChatState, user: SignedIn, service: ChatService, message: ChatMessage) -> None:
    """ "‹ 2 / 3 ›" for a message with other versions (a regenerated reply, an edited prompt); one
    element, empty for a message with none. The arrows' words are for screen readers only."""
    if len(message.versions) < 2 or message.id not in message.versions:
        st.empty()
        return
    at, count = message.versions.index(message.id), len(message.versions)
    box = st.container(
        horizontal=True, vertical_alignment="center", gap=None, width="content", key=f"parley_versions_{message.id}"
    )
    with box:
        key = f"parley_version_{message.id}"
        _arrow(chat, user, service, message.versions, at - 1, f"{key}_-1", "Previous version", "chevron_left")
        st.caption(f"{at + 1} / {count}")
        _arrow(chat, user, service, message.versions, at + 1, f"{key}_1", "Next version", "chevron_right")


def _arrow(
    chat: ChatState,
    user: SignedIn,
    service: ChatService,
    versions: tuple[int, ...],
    to: int,
    key: str,
    label: str,
    icon: str,
) -> None:
    """The button to version `to`; there always, disabled past either end."""
    st.button(
        label,
        key=key,
        icon=f":material/{icon}:",
        type="tertiary",
        disabled=not 0 <= to < len(versions),
        on_click=_choose_version,
        args=(chat, user, service, versions[to % len(versions)]),
    )


def _choose_version(chat: ChatState, user: SignedIn, service: ChatService, message_id: int) -> None:
    """Show another version: the conversation from there on is that version's. Every fragment of
    the conversation reruns, as the change may reach above the last turns."""
    if chat.conversation_id is None or not still_signed_in(user):
        return
    if chat.turn is not None:
        _tell(chat, "A reply is still being written: stop it first, or wait for it to end.")
    try:
        messages = service.choose_version(user.username, chat.conversation_id, message_id, session=user.session_hash)
    except ChatError as error:
        _tell(chat, error.message)
    if messages is None:
        chat.not_found = True
    else:
        chat.history, chat.editing = messages, None
    rerun_conversation(chat, fold=messages is not None)


def _usage(message: ChatMessage, so_far: str | None) -> None:
    """The reply's tokens on a small button; its cost and the split, when it is opened, and the
    conversation's total by then. (Not a line in the sidebar: each turn's slot would keep one
    there, and the turn before would have to run again to take its line away.)"""
    label, note = usage_label(message), usage_note(message)
    if label is None or note is None:
        st.empty()
        return
    with st.popover(label, icon=":material/data_usage:", type="tertiary", key=f"parley_usage_{message.id}"):
        st.caption(note)
        if so_far is not None:
            st.caption(f"This conversation so far: {so_far}")


def _save_feedback(chat: ChatState, user: SignedIn, service: ChatService, reply_id: int) -> None:
    if not still_signed_in(user):
        return
    value = st.session_state.get(f"parley_feedback_{reply_id}")
    try:
        saved = service.set_feedback(user.username, reply_id, value)
    except ChatError:  # a database error too (the service translates it)
        log.warning("could not save feedback", exc_info=True)
        _tell(chat, "Your rating could not be saved; try again in a moment.")
    if not saved:
        _tell(chat, "That reply is no longer yours to rate.")
    chat.history = [replace(m, feedback=value) if m.id == reply_id else m for m in chat.history]


def _regenerate(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """A new version of the last reply, streamed by the newest turn's slot (the button's own
    fragment holds only the button); a refusal is a notice there."""
    if chat.conversation_id is None or chat.turn is not None or not still_signed_in(user):
        rerun_newest(chat)
    last = chat.history[-1] if chat.history and chat.history[-1].role == "assistant" else None
    try:
        turn = service.regenerate(
            username=user.username,
            conversation_id=chat.conversation_id,
            reply_id=last.id if last is not None else None,  # the one shown: refused if another tab moved on
            quota=user.quota,
            session=user.session_hash,
        )
    except ChatError as error:
        chat.notice = error.message
        rerun_newest(chat)
    while chat.history and chat.history[-1].role == "assistant":
        chat.history.pop()  # a version now: in the log, out of the chat
    chat.turn, chat.editing = turn, None
    rerun_newest(chat)


def _tell(chat: ChatState, notice: str) -> NoReturn:
    """A sentence for the notices' place, which the newest turn's slot draws: a click elsewhere
    would rerun only the fragment it is in (a rating's, an older turn's slot)."""
    chat.notice = notice
    rerun_conversation(chat, fold=False)


def _start_editing(chat: ChatState, message_id: int) -> None:
    if chat.turn is not None:
        _tell(chat, "A reply is still being written: stop it first, or wait for it to end, then edit.")
    other, chat.editing, chat.edit_error = chat.editing, message_id, None
    if other is not None and other != message_id:
        rerun_conversation(chat, fold=False)  # the other form closes, wherever it is drawn


def edit_form(chat: ChatState, user: SignedIn, service: ChatService, message: ChatMessage) -> None:
    """The prompt in a box to change; sending makes a new version of it and answers that."""
    with st.form(f"parley_edit_form_{message.id}", border=False):
        st.text_area("Edit your message", value=message.content, key=f"parley_edit_text_{message.id}", height=120)
        buttons = st.container(horizontal=True)
        buttons.form_submit_button(
            "Send",
            icon=":material/send:",
            type="primary",
            on_click=_send_edit,
            args=(chat, user, service, message.id),
        )
        buttons.form_submit_button("Cancel", on_click=_cancel_edit, args=(chat,))
    if chat.edit_error:
        st.error(neutralise_images(chat.edit_error))


def _cancel_edit(chat: ChatState) -> None:
    chat.editing, chat.edit_error = None, None


def _send_edit(chat: ChatState, user: SignedIn, service: ChatService, message_id: int) -> None:
    """Answer the edited prompt. A refusal stays under the form with the text as typed."""
    if chat.conversation_id is None or not still_signed_in(user):
        return
    try:
        typed = st.session_state.get(f"parley_edit_text_{message_id}")
        prompt = clean_prompt(typed, service.settings.max_prompt_chars)
        if prompt is None:
            raise InputError("The message is empty: type something, or cancel.")
        turn = service.edit_prompt(
            username=user.username,
            conversation_id=chat.conversation_id,
            prompt=prompt,
            message_id=message_id,
            quota=user.quota,
            session=user.session_hash,
        )
    except ChatError as error:
        chat.edit_error = error.message  # the form's fragment reruns and shows it
        return
    index = next((i for i, m in enumerate(chat.history) if m.id == message_id), len(chat.history))
    chat.history = [*chat.history[:index], turn.prompt_message()]
    chat.turn, chat.editing, chat.edit_error = turn, None, None
    rerun_conversation(chat, fold=True)
