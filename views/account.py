"""Your account: where you are signed in, and your own password."""

import streamlit as st

from chat.ui.account import password_link, sign_ins
from chat.ui.markdown import plain
from chat.ui.resources import accounts, settings_or_stop
from chat.ui.state import current_user

settings = settings_or_stop()
user = current_user()

st.title("Account")
st.markdown(f"Signed in as **{plain(user.name)}** ({plain(user.username)}, {plain(', '.join(user.roles))}).")
sign_ins(accounts(settings), user)
password_link(user)
