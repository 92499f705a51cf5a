"""The admin's audited reader: any user's conversation, read-only, each opening logged."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import SignedIn
from chat.ops.reports import Reports
from chat.ui.attachments import pictures_of
from chat.ui.markdown import plain
from chat.ui.message import Places, draw_message
from chat.ui.resources import chat_service, settings_or_stop
from chat.ui.state import AUDIT


def audit_reader(reports: Reports, admin: SignedIn, usernames: list[str]) -> None:
    """Pick any user's conversation and read it, read-only. Opening it writes an audit
    event first; the copy shown stays in this admin's session until closed."""
    left, right = st.columns(2)
    owner = left.selectbox("User", usernames, key="parley_audit_user")
    choices = dict(reports.conversations_of(owner)) if owner else {}
    chosen = right.selectbox(
        "Conversation", list(choices), format_func=lambda cid: choices[cid], key="parley_audit_conversation"
    )
    if st.button("Open read-only (recorded in the audit log)", disabled=chosen is None):
        st.session_state[AUDIT] = (admin.username, reports.read(chosen, actor=admin.username) if chosen else None)
    reader, opened = st.session_state.get(AUDIT) or (None, None)
    if opened is None or reader != admin.username:  # shown only to the admin on whose name it was read
        return
    with st.container(border=True):
        header = st.container(horizontal=True)
        header.markdown(
            f"**{plain(opened.title or 'Untitled')}** · {plain(opened.username)} · {plain(opened.model)}"
            + (" · deleted by its owner" if opened.deleted else "")
        )
        if header.button("Close", key="parley_audit_close"):
            st.session_state.pop(AUDIT, None)
            st.rerun()
        pictures = pictures_of(chat_service(settings_or_stop()), opened.username)  # audited with the rest
        for message in opened.messages:
            box = st.chat_message(message.role)
            with box:
                places = Places.in_order(box)
                if message.id in opened.superseded:
                    places.found.caption("Replaced by a later attempt (regenerated or edited).")
                draw_message(message, places, pictures)
                places.close()
