"""The admin page's section on people who sign in through the identity provider (issue 21): who
they are, and ending an account's sign-ins now or blocking it (chat/accounts/sso.py). Each change
is in the audit log with the admin's name."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from chat.accounts.auth import Accounts, SignedIn
from chat.accounts.sso import SsoAdmin
from chat.errors import ChatError
from chat.ui.state import still_an_admin

RESULT = "parley_sso_result"  # the last change's sentence, shown once


def sso_users(accounts: Accounts, admin: SignedIn) -> None:
    sso = SsoAdmin(accounts.database)
    listed = sso.accounts()
    if (said := st.session_state.pop(RESULT, None)) is not None:
        st.info(said)
    if not listed:
        st.caption("Nobody has signed in through the identity provider yet.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "User": a.username,
                    "Name": a.name,
                    "Email (verified)": a.email or "",
                    "Role": a.role,
                    "Provider": a.issuer,
                    "Last sign-in": a.last_signin_at,
                    "Blocked": a.blocked,
                }
                for a in listed
            ]
        ),
        hide_index=True,
        width="stretch",
    )
    chosen = st.selectbox("Account", [a.username for a in listed], key="parley_sso_account")
    blocked = next(a.blocked for a in listed if a.username == chosen)
    row = st.container(horizontal=True)
    row.button(
        "End its sign-ins now",
        key="parley_sso_end",
        on_click=_change,
        args=(admin, sso.end_sign_ins, chosen, "Every sign-in of {name} has ended."),
    )
    if blocked:
        row.button(
            "Unblock",
            key="parley_sso_unblock",
            on_click=_change,
            args=(admin, sso.unblock, chosen, "{name} may sign in again."),
        )
    else:
        row.button(
            "Block",
            key="parley_sso_block",
            on_click=_change,
            args=(admin, sso.block, chosen, "{name} is blocked: signed out everywhere, and cannot sign in again."),
        )


def _change(admin: SignedIn, change: Callable[[str, str], bool], username: str, done: str) -> None:
    if not still_an_admin(admin):  # a callback runs before the page's check: an admin demoted since does nothing
        return
    try:
        st.session_state[RESULT] = (
            done.format(name=username)
            if change(admin.username, username)
            else (f"There is no account {username} any more.")
        )
    except ChatError as error:
        st.session_state[RESULT] = error.message
