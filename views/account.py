"""Your account: change your own password."""

import streamlit as st

from chat.ui.markdown import plain
from chat.ui.resources import accounts, settings_or_stop
from chat.ui.signin import password_form
from chat.ui.state import current_user

settings = settings_or_stop()
user = current_user()

st.title("Account")
st.markdown(f"Signed in as **{plain(user.name)}** ({plain(user.username)}, {plain(', '.join(user.roles))}).")
password_form(accounts(settings), user, settings)
