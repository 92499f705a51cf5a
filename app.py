"""Parley's entry point: `streamlit run app.py` (and `make run`, and the Docker image).

`streamlit run` finds `app` by reading this file's source, so it must be assigned
literally here: `app = make_app()` would silently run this file as a plain script, with
no sign-in routes and no gate. The pages are served by `router.py` behind the gate.
"""

import streamlit as st

from chat.web.app import exception_handlers, lifespan, middleware, routes

app = st.App(
    "router.py", routes=routes(), middleware=middleware(), exception_handlers=exception_handlers(), lifespan=lifespan
)
