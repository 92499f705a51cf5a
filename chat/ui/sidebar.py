"""The chat screen's sidebar: new chat, the user's conversations, and rename, export or
delete for the open one. Drawn by full runs of the page only; the open conversation's usage
goes below it, from the chat's fragment (`chat/ui/chat_area.py`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chat.accounts.auth import SignedIn
from chat.errors import ChatError
from chat.ops import export
from chat.turns.service import ChatService
from chat.ui.markdown import neutralise_images, plain
from chat.ui.navigation import open_conversation
from chat.ui.skeleton import cover_leftovers
from chat.ui.state import ChatState, still_signed_in
from chat.ui.wording import conversation_usage

DRAWN = "parley_sidebar_places"  # how many places the list drew in the last run


def conversation_sidebar(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """New chat, the user's conversations (newest first), and rename or delete for the open one."""
    with st.sidebar, st.container():
        st.button(
            "New chat",
            icon=":material/edit_square:",
            key="parley_new_chat",
            width="stretch",
            on_click=chat.start_new,
        )
        conversations = service.conversations(user.username)
        heading = st.empty()
        if conversations:
            heading.caption("Your conversations")
        for conversation in conversations:
            st.button(
                plain(conversation.title),  # a label renders Markdown: a title is the user's words
                key=f"parley_open_{conversation.id}",
                type="primary" if conversation.id == chat.conversation_id else "tertiary",
                width="stretch",
                on_click=open_conversation,
                args=(chat, user, service, conversation.id),
            )
        manage, export_all = st.empty(), st.empty()
        current = next((c for c in conversations if c.id == chat.conversation_id), None)
        if current is not None:
            with manage.container():
                _manage_conversation(chat, user, service, current.id, current.title)
        if conversations:
            export_all.download_button(
                "Export all (JSON)",
                _exported(user, lambda: export.as_json(service.export(user.username))),
                file_name=f"parley-{user.username}.json",
                mime="application/json",
                key="parley_export_all",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )
        # The list's length changes between runs: a run that streams a reply must not leave the
        # last run's longer list up (chat/ui/skeleton.py).
        cover_leftovers(DRAWN, 1 + 1 + len(conversations) + 2)


def show_usage(slot: DeltaGenerator, chat: ChatState) -> None:
    """The open conversation's tokens and cost so far."""
    usage = conversation_usage(chat.history) if chat.conversation_id else None
    if usage:
        slot.caption(f"This conversation: {usage}")
    else:
        slot.empty()


def _manage_conversation(chat: ChatState, user: SignedIn, service: ChatService, cid: str, title: str) -> None:
    with st.expander("Rename, export or delete", icon=":material/edit:"):
        new_title = st.text_input("Title", value=title, key=f"parley_title_{cid}", max_chars=200)
        if st.button("Rename", key=f"parley_rename_{cid}") and new_title.strip() != title:
            try:
                service.rename_conversation(user.username, cid, new_title)
            except ChatError as error:
                st.error(neutralise_images(error.message))
            else:
                st.rerun()

        def one(render: Callable[[dict[str, Any]], str]) -> Callable[[], str]:
            # Built only when clicked: a long conversation costs nothing until then.
            return _exported(user, lambda: render(service.export(user.username, cid)))

        left, right = st.columns(2)
        left.download_button(
            "Markdown",
            one(lambda doc: export.as_markdown(doc["conversations"][0])),
            file_name=f"parley-{cid[:8]}.md",
            mime="text/markdown",
            key=f"parley_md_{cid}",
            icon=":material/download:",
            on_click="ignore",
        )
        right.download_button(
            "JSON",
            one(export.as_json),
            file_name=f"parley-{cid[:8]}.json",
            mime="application/json",
            key=f"parley_json_{cid}",
            icon=":material/download:",
            on_click="ignore",
        )
        if chat.confirm_delete != cid:
            if st.button("Delete…", key=f"parley_delete_{cid}", icon=":material/delete:"):
                chat.confirm_delete = cid
                st.rerun()
            return
        st.warning(
            f"Delete “{plain(title)}”? It disappears from your conversations at once. The audit log keeps "
            "it until the retention period set by the admins ends."
        )
        confirm, cancel = st.columns(2)
        if confirm.button("Delete", key=f"parley_delete_confirm_{cid}", type="primary"):
            service.delete_conversation(user.username, cid)
            chat.start_new()
            st.rerun()
        if cancel.button("Cancel", key=f"parley_delete_cancel_{cid}"):
            chat.confirm_delete = None
            st.rerun()


def _exported(user: SignedIn, make: Callable[[], str]) -> Callable[[], str]:
    return lambda: make() if still_signed_in(user) else "Your sign-in has ended. Sign in again to export.\n"
