"""The account page's parts: your own sign-ins (where, when, this one) with "sign out
everywhere else", and changing your own password."""

from __future__ import annotations

import streamlit as st

from chat.accounts.auth import Accounts, SignedIn
from chat.accounts.peer import ForwardingRule
from chat.errors import ChatError
from chat.settings import Settings
from chat.ui.markdown import neutralise_images
from chat.ui.wording import when

PASSWORD_CHANGED = "parley_password_changed"
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


def _client_address(settings: Settings) -> str:
    """The address the sign-in throttle counts by (chat/accounts/peer.py). Raises InputError
    when uvicorn may have replaced the peer with a header's word for it."""
    # Streamlit gives no address for a loopback peer (a proxy on the same host).
    peer = st.context.ip_address
    headers = st.context.headers
    # Every X-Forwarded-For line, in order: a proxy may append its own line rather than
    # extend the client's, and only the hops on the right can be believed.
    forwarded = ", ".join(headers.get_all("X-Forwarded-For")) if hasattr(headers, "get_all") else ""
    rule = ForwardingRule.of(settings.forwarded_allow_ips, settings.trusted_proxies)
    return rule.address(
        peer if isinstance(peer, str) and peer else None,
        forwarded if isinstance(forwarded, str) and forwarded else None,
    )


def password_form(gate: Accounts, user: SignedIn, settings: Settings) -> None:
    """Change one's own password: current one required; the new one is written by the
    same locked writer as `python -m chat users passwd`. The session goes on under the new
    password (its cookie need not change); the user's other sessions end."""
    with st.form("parley_password", clear_on_submit=True):
        st.subheader("Change your password")
        current = st.text_input("Current password", type="password", autocomplete="current-password")
        new = st.text_input("New password", type="password", autocomplete="new-password")
        repeat = st.text_input("Repeat the new password", type="password", autocomplete="new-password")
        submitted = st.form_submit_button("Change password")
    if not submitted:
        return
    try:
        gate.change_password(user, current, new, repeat, _client_address(settings))
    except ChatError as error:  # a database error too, as a sentence (Accounts translates it)
        st.error(neutralise_images(error.message))
        return
    st.session_state[PASSWORD_CHANGED] = True
    st.rerun()  # the account now reads without the forced change


def password_changed_notice() -> None:
    if st.session_state.pop(PASSWORD_CHANGED, False):
        st.success("Your password was changed. Your other sessions have been signed out.")
