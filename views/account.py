"""Your account: change your own password."""

import streamlit as st

from chat.ui import pages as ui
from chat.ui.markdown import plain

settings = ui.settings_or_stop()
user = ui.current_user()

st.title("Account")
st.markdown(f"Signed in as **{plain(user.name)}** ({plain(user.username)}, {plain(', '.join(user.roles))}).")
ui.password_form(ui.accounts(settings), user, settings)
