"""The account page's parts: your own sign-ins (where, when, this one) with "sign out
everywhere else", and the way to change your own password."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import Accounts, SignedIn
from chat.accounts.sso import NO_PASSWORD
from chat.errors import ChatError
from chat.ui.identity import go_button
from chat.ui.markdown import neutralise_images
from chat.ui.wording import when

ENDED_ELSEWHERE = "parley_ended_elsewhere"


def sign_ins(gate: Accounts, user: SignedIn) -> None:
    """The user's open sign-ins, this one marked, and a button that ends the others."""
    st.subheader("Where you are signed in")
    if (ended := st.session_state.pop(ENDED_ELSEWHERE, None)) is not None:
        st.success(f"Signed out of {ended} other sign-in{'s' if ended != 1 else ''}.")
    try:
        records = gate.sign_ins(user)
    except ChatError as error:
        st.error(neutralise_images(error.message))
        return
    st.dataframe(
        [
            {
                "Sign-in": "This browser" if record.current else "Elsewhere",
                "From": record.address,
                "Signed in": when(record.signed_in_at),
                "Last active": when(record.last_seen_at),
                "Ends": when(record.expires_at),
            }
            for record in records
        ],
        hide_index=True,
        width="stretch",
    )
    others = sum(not record.current for record in records)
    if st.button("Sign out everywhere else", disabled=others == 0, key="parley_sign_out_elsewhere"):
        try:
            st.session_state[ENDED_ELSEWHERE] = gate.sign_out_elsewhere(user)
        except ChatError as error:
            st.error(neutralise_images(error.message))
            return
        st.rerun()


def password_link(user: SignedIn) -> None:
    """Changing one's password is a page of its own (`/password`): the change signs this browser in
    again under a new cookie, which only an HTTP response can set. Someone signed in through the
    identity provider has no password in Parley."""
    st.subheader("Password")
    if user.sso:
        st.info(NO_PASSWORD, icon=":material/badge:")
        return
    if st.query_params.get("changed") == "password":
        st.success("Your password was changed. Every other sign-in of yours has ended.")
        st.query_params.pop("changed")
    go_button("Change your password", "/password", key="parley_change_password", icon=":material/password:")
