"""Which conversation is open: the one the URL names (`?c=<id>&m=<message id>`), one
opened from the sidebar or a search result, and the URL kept in step with it."""

from __future__ import annotations

import re

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.domain.status import ReplyStatus
from chat.turns.service import ChatService
from chat.ui.state import ChatState, still_signed_in


def follow_url(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """Open the conversation the URL names, when the URL (not this session) changed it:
    a reload, a bookmark, a second tab, the browser's back button."""
    requested = st.query_params.get("c")
    message = _message_id(st.query_params.get("m", ""))
    if requested == chat.url_id and (message is None or message == chat.focus):
        return  # nothing new: a search result for another message of the open one is
    chat.url_id = requested
    if requested is not None:
        open_conversation(chat, user, service, requested)
        chat.focus = message


_MESSAGE_ID = re.compile(r"[0-9]{1,18}")  # ASCII digits only, within a 64-bit integer


def _message_id(text: str) -> int | None:
    """A message id from the URL, or None: `str.isdigit()` also accepts '²' and other digits `int()` refuses."""
    return int(text) if _MESSAGE_ID.fullmatch(text) else None


def sync_url(chat: ChatState) -> None:
    """Put the open conversation's id in the URL, so a reload or a bookmark comes back to it."""
    if chat.conversation_id == chat.url_id:
        return
    st.query_params.pop("m", None)
    if chat.conversation_id is None:
        st.query_params.pop("c", None)
    else:
        st.query_params["c"] = chat.conversation_id
    chat.url_id = chat.conversation_id
    chat.focus = None


def open_conversation(chat: ChatState, user: SignedIn, service: ChatService, conversation_id: str) -> None:
    """Show one of the user's conversations, following its reply if it is still being written;
    `chat.not_found` if it is gone or not theirs. Also a widget callback (the sidebar's)."""
    if not still_signed_in(user):
        return
    messages = service.open_conversation(user.username, conversation_id)
    options = service.conversation_options(user.username, conversation_id) if messages is not None else None
    if messages is None or options is None:
        chat.start_new()
        chat.not_found = True
        return
    running = None
    if messages and messages[-1].status == ReplyStatus.STREAMING:
        running = service.running_turn(user.username, messages[-1].id)
        if running is None:  # it may have ended between the two reads: read once more
            messages = service.open_conversation(user.username, conversation_id) or messages
    chat.show(conversation_id, messages, options, running)
