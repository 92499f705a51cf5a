"""The History screen: search over the user's own messages."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.db.search import HIGHLIGHT_END, HIGHLIGHT_START
from chat.turns.service import ChatService
from chat.ui.markdown import plain
from chat.ui.verbatim import marked_pieces, verbatim_html


def history_page(user: SignedIn, service: ChatService) -> None:
    """Search over the user's own messages; each result opens its conversation at that message."""
    st.title("History")
    query = st.text_input(
        "Search your conversations", key="parley_search", placeholder="Every word must match; the last may be cut short"
    )
    if not query.strip():
        st.caption("Type a few words from any of your messages or replies.")
        return
    hits = service.search(user.username, query)
    if not hits:
        st.info("No messages match all of those words.")
        return
    st.caption(f"{len(hits)} message{'s' if len(hits) != 1 else ''}, newest first")
    for hit in hits:
        with st.container(border=True):
            who = "You" if hit.role == "user" else "Assistant"
            st.markdown(f"**{plain(hit.conversation_title)}** · {who} · {hit.created_at:%Y-%m-%d %H:%M} UTC")
            draw_snippet(hit.snippet)
            st.page_link(
                "views/chat.py",
                label="Open at this message",
                icon=":material/open_in_new:",
                query_params={"c": hit.conversation_id, "m": str(hit.message_id)},
            )


def draw_snippet(snippet: str) -> None:
    """A search snippet as the words were typed (line breaks, spaces, Markdown characters
    literal: a prompt is not Markdown, and a reply's Markdown is shown as its source),
    with the matching words in bold."""
    st.html(verbatim_html(marked_pieces(snippet, HIGHLIGHT_START, HIGHLIGHT_END)))
