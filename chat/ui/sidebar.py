"""The chat screen's sidebar: New chat, a filter, the user's conversations grouped by date
(each with a menu to rename, export or delete it), and Export all. Drawn by full runs of the
page only; the open conversation's usage goes below it, from the chat's fragment
(`chat/ui/chat_area.py`), and the account below that (`chat/ui/layout.py`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chat.accounts.auth import SignedIn
from chat.domain.conversation import ConversationSummary
from chat.domain.dates import by_date, titles_matching, zone
from chat.errors import ChatError
from chat.ops import export
from chat.turns.service import ChatService
from chat.ui.layout import page_sidebar
from chat.ui.markdown import neutralise_images, plain
from chat.ui.navigation import open_conversation
from chat.ui.skeleton import cover_leftovers
from chat.ui.state import ChatState, still_signed_in

# How many places the sidebar and its list drew in the last run (`cover_leftovers`).
DRAWN = "parley_sidebar_places"
DRAWN_LIST = "parley_list_places"
FILTER = "parley_filter"
# How many conversations the list draws before "Show more": each item carries its menu, and a
# full run of the page draws them all.
LISTED = 30
CURRENT = "parley_item_current"  # the open conversation's row: marked by the page's style


def conversation_sidebar(chat: ChatState, user: SignedIn, service: ChatService) -> None:
    """New chat, a filter, the user's conversations by date (newest first), and Export all."""
    with page_sidebar(), st.container():
        st.button(
            "New chat",
            icon=":material/edit_square:",
            key="parley_new_chat",
            width="stretch",
            on_click=chat.start_new,
        )
        conversations = service.conversations(user.username)
        words = _filter(st.empty(), shown=bool(conversations))
        shown = titles_matching(conversations, words)
        limit = max(LISTED, chat.listed)
        drawn = 0
        with st.container(gap=None, key="parley_conversations"):  # rows close together, as a list
            for name, group in by_date(shown[:limit], datetime.now(UTC), zone(st.context.timezone)):
                st.caption(name)
                for conversation in group:
                    _item(chat, user, service, conversation)
                drawn += 1 + len(group)
            cover_leftovers(DRAWN_LIST, drawn)
        more = st.empty()
        if len(shown) > limit:
            more.button(
                f"Show more ({len(shown) - limit})",
                key="parley_list_more",
                type="tertiary",
                icon=":material/expand_more:",
                on_click=chat.list_more,
                args=(LISTED,),
            )
        elif words.strip() and not shown:
            more.caption("No conversation's title has those words.")
        export_all = st.empty()
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
        cover_leftovers(DRAWN, 5)


def _filter(place: DeltaGenerator, *, shown: bool) -> str:
    """The words the list is filtered by: a box, once there is something to filter."""
    if not shown:
        return ""
    return place.text_input(
        "Filter conversations",
        key=FILTER,
        placeholder="Filter by title",
        icon=":material/search:",
        label_visibility="collapsed",
        max_chars=200,
    )


def _item(chat: ChatState, user: SignedIn, service: ChatService, conversation: ConversationSummary) -> None:
    """One conversation: its title on one line (the page's style cuts it with an ellipsis), and
    its menu. The open one is marked by its row's key (`CURRENT`)."""
    current = conversation.id == chat.conversation_id
    row = st.container(
        horizontal=True,
        vertical_alignment="center",
        gap=None,
        key=CURRENT if current else f"parley_item_{conversation.id}",
    )
    with row:
        st.button(
            plain(conversation.title),  # a label renders Markdown: a title is the user's words
            key=f"parley_open_{conversation.id}",
            type="tertiary",
            width="stretch",
            on_click=open_conversation,
            args=(chat, user, service, conversation.id),
        )
        # The label names the conversation for a screen reader; the page's style shows only the icon.
        with st.popover(
            f"Rename, export or delete “{plain(conversation.title)}”",
            icon=":material/more_horiz:",
            type="tertiary",
            key=f"parley_menu_{conversation.id}",
        ):
            _manage_conversation(chat, user, service, conversation.id, conversation.title)


def _manage_conversation(chat: ChatState, user: SignedIn, service: ChatService, cid: str, title: str) -> None:
    """A conversation's menu: rename, export (Markdown or JSON), delete after a confirmation."""
    _rename(user, service, cid, title)
    _downloads(user, service, cid)
    _delete(chat, user, service, cid, title)


def _rename(user: SignedIn, service: ChatService, cid: str, title: str) -> None:
    key, shown = f"parley_title_{cid}", f"parley_title_shown_{cid}"
    if st.session_state.get(shown) != title:  # renamed since (by its model, another tab): the box follows
        st.session_state[key] = st.session_state[shown] = title
    new_title = st.text_input("Title", key=key, max_chars=200)
    if st.button("Rename", key=f"parley_rename_{cid}", icon=":material/edit:") and new_title.strip() != title:
        try:
            service.rename_conversation(user.username, cid, new_title)
        except ChatError as error:
            st.error(neutralise_images(error.message))
        else:
            st.rerun()


def _downloads(user: SignedIn, service: ChatService, cid: str) -> None:
    def one(render: Callable[[dict[str, Any]], str]) -> Callable[[], str]:
        # Built only when clicked: a long conversation costs nothing until then.
        return _exported(user, lambda: render(service.export(user.username, cid)))

    downloads = st.container(horizontal=True, gap="small")
    downloads.download_button(
        "Markdown",
        one(lambda doc: export.as_markdown(doc["conversations"][0])),
        file_name=f"parley-{cid[:8]}.md",
        mime="text/markdown",
        key=f"parley_md_{cid}",
        icon=":material/download:",
        on_click="ignore",
    )
    downloads.download_button(
        "JSON",
        one(export.as_json),
        file_name=f"parley-{cid[:8]}.json",
        mime="application/json",
        key=f"parley_json_{cid}",
        icon=":material/download:",
        on_click="ignore",
    )


def _delete(chat: ChatState, user: SignedIn, service: ChatService, cid: str, title: str) -> None:
    if chat.confirm_delete != cid:
        if st.button("Delete…", key=f"parley_delete_{cid}", icon=":material/delete:"):
            chat.confirm_delete = cid
            st.rerun()
        return
    st.warning(
        f"Delete “{plain(title)}”? It disappears from your conversations at once. The audit log keeps "
        "it until the retention period set by the admins ends."
    )
    confirm = st.container(horizontal=True, gap="small")
    if confirm.button("Delete", key=f"parley_delete_confirm_{cid}", type="primary"):
        service.delete_conversation(user.username, cid)
        chat.confirm_delete = None
        if cid == chat.conversation_id:
            chat.start_new()
        st.rerun()
    if confirm.button("Cancel", key=f"parley_delete_cancel_{cid}"):
        chat.confirm_delete = None
        st.rerun()


def _exported(user: SignedIn, make: Callable[[], str]) -> Callable[[], str]:
    return lambda: make() if still_signed_in(user) else "Your sign-in has ended. Sign in again to export.\n"
