"""Your account: change your own password."""

import streamlit as st

from chat import ui

settings = ui.settings_or_stop()
user = ui.current_user()

st.title("Account")
st.markdown(f"Signed in as **{user.name}** (`{user.username}`, {', '.join(user.roles)}).")
ui.password_form(ui.accounts(settings), user, settings)
