"""Parley's entry point: configuration check, login gate and page router."""

import streamlit as st

from chat import ui

st.set_page_config(page_title="Parley", page_icon=":material/forum:")

settings = ui.settings_or_stop()
user = ui.login_gate(settings)
if user is None:
    # Not signed in: every URL shows the login form and nothing else.
    st.navigation([st.Page(lambda: None, title="Sign in", url_path="signin")], position="hidden")
    st.stop()

st.session_state["parley_user"] = user
page = st.navigation([st.Page("pages/chat.py", title="Chat", icon=":material/chat:", default=True)])
page.run()
