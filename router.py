"""Parley's page script, served by `app.py` behind the sign-in gate: the configuration
check, who this run is for, and the page router.

The pages live in `views/`, not `pages/`: Streamlit runs the scripts of a folder
named `pages/` by itself (its older multipage mode) on a process's first run and
under AppTest, which would skip this gate.
"""

import streamlit as st

from chat.ui.components import FAVICON, page_style
from chat.ui.resources import settings_or_stop
from chat.ui.signin import signed_in_user

# The tab's icon is an image file Parley serves itself: for a Material or emoji icon (this
# call's or a page's) Streamlit fetches the favicon from fonts.gstatic.com, an outside host
# the Content-Security-Policy's `img-src` refuses (chat/web/headers.py), and a request that
# would tell Google who opens Parley.
st.set_page_config(page_title="Parley", page_icon=FAVICON)
page_style()

settings = settings_or_stop()
user = signed_in_user(settings)  # or the run stops, sending the browser to /signin

pages = [
    st.Page("views/chat.py", title="Chat", icon=":material/chat:", default=True),
    st.Page("views/history.py", title="History", icon=":material/history:"),
    st.Page("views/account.py", title="Account", icon=":material/person:"),
]
if user.is_admin:
    # Only registered for admins: for anyone else its URL names no page at all.
    pages.append(st.Page("views/admin.py", title="Admin", icon=":material/admin_panel_settings:"))
st.navigation(pages).run()
