"""Parley's entry point: configuration check, login gate and page router.

The pages live in `views/`, not `pages/`: Streamlit runs the scripts of a folder
named `pages/` by itself (its older multipage mode) on a process's first run and
under AppTest, which would skip this gate.
"""

import streamlit as st

from chat.ui.resources import settings_or_stop
from chat.ui.signin import login_gate

st.set_page_config(page_title="Parley", page_icon=":material/forum:")

settings = settings_or_stop()
user = login_gate(settings)
if user is None:
    # Not signed in: every URL shows the login form and nothing else.
    st.navigation([st.Page(lambda: None, title="Sign in", url_path="signin")], position="hidden")
    st.stop()

pages = [
    st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("views/history.py", title="History", icon=":material/history:"),
    st.Page("views/account.py", title="Account", icon=":material/person:"),
]
if user.is_admin:
    # Only registered for admins: for anyone else its URL names no page at all.
    pages.append(st.Page("views/admin.py", title="Admin", icon=":material/admin_panel_settings:"))
st.navigation(pages).run()
